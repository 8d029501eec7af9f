package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/wallpaperd/wallpaperd/migrations"
)

// Migrator applies wallpaperd's migrations (goose, from migrations/) and
// River's own schema.
type Migrator struct {
	db     *sql.DB
	goose  *goose.Provider
	river  *rivermigrate.Migrator[pgx.Tx]
	logger *slog.Logger
}

// NewMigrator prepares migrations on the pool's database. A session lock
// keeps replicas starting together from migrating twice.
func NewMigrator(pool *pgxpool.Pool, logger *slog.Logger) (*Migrator, error) {
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: river migrations: %w", err)
	}
	return &Migrator{db: db, goose: p, river: rm, logger: logger}, nil
}

// Close releases the migrator's database handle (not the pool).
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration: River's schema first, then ours.
func (m *Migrator) Up(ctx context.Context) error {
	res, err := m.river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("postgres: river migrations: %w", err)
	}
	for _, v := range res.Versions {
		m.logger.Info("applied river migration", "version", v.Version, "name", v.Name)
	}
	results, err := m.goose.Up(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	for _, r := range results {
		m.logger.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// Down rolls back the newest of wallpaperd's migrations. River's schema
// stays: it belongs to the job queue, not to one migration of ours.
func (m *Migrator) Down(ctx context.Context) error {
	r, err := m.goose.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: migrations down: %w", err)
	}
	m.logger.Info("rolled back migration", "version", r.Source.Version, "file", r.Source.Path)
	return nil
}

// Reset rolls back all of wallpaperd's migrations.
func (m *Migrator) Reset(ctx context.Context) error {
	if _, err := m.goose.DownTo(ctx, 0); err != nil {
		return fmt.Errorf("postgres: migrations reset: %w", err)
	}
	return nil
}

// Status is one migration and whether it is applied.
type Status struct {
	Source  string
	Version int64
	Applied bool
}

// Status lists wallpaperd's migrations with their state; River's pending
// versions come back as one extra line when there are any.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	st, err := m.goose.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	out := make([]Status, 0, len(st)+1)
	for _, s := range st {
		out = append(out, Status{Source: s.Source.Path, Version: s.Source.Version, Applied: s.State == goose.StateApplied})
	}
	riverCurrent, err := m.riverCurrent(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, Status{Source: "river (job queue schema)", Version: int64(m.riverTarget()), Applied: riverCurrent})
	return out, nil
}

// Pending reports whether any migration, ours or River's, is not applied.
func (m *Migrator) Pending(ctx context.Context) (bool, error) {
	pending, err := m.goose.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: migration status: %w", err)
	}
	if pending {
		return true, nil
	}
	current, err := m.riverCurrent(ctx)
	if err != nil {
		return false, err
	}
	return !current, nil
}

func (m *Migrator) riverTarget() int {
	all := m.river.AllVersions()
	return all[len(all)-1].Version
}

func (m *Migrator) riverCurrent(ctx context.Context) (bool, error) {
	existing, err := m.river.ExistingVersions(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: river migration status: %w", err)
	}
	return len(existing) > 0 && existing[len(existing)-1].Version >= m.riverTarget(), nil
}

// Ready returns the readiness check of /readyz: the database answers and
// no migration is pending. Its errors are safe to show to callers.
func Ready(pool *pgxpool.Pool, m *Migrator) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return errors.New("database unreachable")
		}
		pending, err := m.Pending(ctx)
		if err != nil {
			return errors.New("database unreachable")
		}
		if pending {
			return errors.New("migrations pending")
		}
		return nil
	}
}
