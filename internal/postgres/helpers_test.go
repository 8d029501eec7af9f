package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/migrations"
)

// migratedTo is a fresh database migrated up to version, and the goose
// provider to move it further (a migration's own test starts before it).
func migratedTo(t *testing.T, version int64) (*pgxpool.Pool, *goose.Provider) {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, pgtest.NewEmptyURL(t), postgres.PoolConfig{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithLogger(goose.NopLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		t.Fatal(err)
	}
	return pool, p
}

func pgExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
