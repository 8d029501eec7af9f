// Package postgres owns wallpaperd's database: the connection pool, the
// migrations (ours and River's), the dev-mode bootstrap, and the stores that
// satisfy the domain packages' interfaces.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Jobs inserts background jobs inside a store's transaction (worker.Jobs),
// so that a row and the job working on it commit or vanish together.
type Jobs interface {
	GenerateWallpaper(ctx context.Context, tx pgx.Tx, generationID uuid.UUID) error
	DeleteObjects(ctx context.Context, tx pgx.Tx, keys []string) error
	// ModerateWallpaper asks the image check about a pending wallpaper.
	ModerateWallpaper(ctx context.Context, tx pgx.Tx, wallpaperID uuid.UUID) error
	// SyncObjects moves a wallpaper's objects where its state says.
	SyncObjects(ctx context.Context, tx pgx.Tx, wallpaperID uuid.UUID) error
	// NotifyGeneration sends a settled generation's subscribe message.
	NotifyGeneration(ctx context.Context, tx pgx.Tx, generationID uuid.UUID) error
}

// queueNotify queues, inside tx, the subscribe message of a generation
// that just settled, when its user asked for one and none was sent.
func queueNotify(ctx context.Context, tx pgx.Tx, jobs Jobs, generationID uuid.UUID) error {
	var want bool
	err := tx.QueryRow(ctx, `SELECT notify AND notified_at IS NULL FROM generations WHERE id = $1`, generationID).Scan(&want)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !want) {
		return nil
	}
	if err != nil {
		return err
	}
	return jobs.NotifyGeneration(ctx, tx, generationID)
}

// PoolConfig bounds the pool; zero fields take the defaults below.
type PoolConfig struct {
	MaxConns int32
	// Tracer, when set, sees every query (tests count them with it).
	Tracer pgx.QueryTracer
}

// Open connects a pool with limits and timeouts suited to a web service and
// checks that the database answers.
func Open(ctx context.Context, url string, pc PoolConfig) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parsing DATABASE_URL: %w", redact(err))
	}
	cfg.MaxConns = 20
	if pc.MaxConns > 0 {
		cfg.MaxConns = pc.MaxConns
	}
	cfg.MinConns = 2
	cfg.MaxConnLifetime = 30 * time.Minute
	cfg.MaxConnLifetimeJitter = time.Minute
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = "30000"
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "wallpaperd"
	if pc.Tracer != nil {
		cfg.ConnConfig.Tracer = pc.Tracer
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: database does not answer: %w", redact(err))
	}
	return pool, nil
}

// InTx runs fn inside a transaction, committing when it returns nil.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

// redact drops the connection string from pgconn's parse errors, which may
// carry the password.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string")
	}
	return err
}
