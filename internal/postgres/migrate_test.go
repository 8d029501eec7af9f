package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, pgtest.NewEmptyURL(t), postgres.PoolConfig{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	m, err := postgres.NewMigrator(pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	ready := postgres.Ready(pool, m)

	tables := func() int {
		t.Helper()
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = 'public' AND table_name IN ('users','refresh_tokens','quota_usage','generations','wallpapers','likes')`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pending := func() bool {
		t.Helper()
		p, err := m.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	if !pending() {
		t.Fatal("a fresh database reports no pending migrations")
	}
	if err := ready(ctx); err == nil || err.Error() != "migrations pending" {
		t.Fatalf("ready on a fresh database = %v, want migrations pending", err)
	}
	for i, step := range []struct {
		name       string
		run        func(context.Context) error
		wantTables int
		wantPend   bool
	}{
		{"up", m.Up, 6, false},
		{"up again is a no-op", m.Up, 6, false},
		{"down", m.Reset, 0, true},
		{"up after down", m.Up, 6, false},
	} {
		if err := step.run(ctx); err != nil {
			t.Fatalf("step %d %s: %v", i, step.name, err)
		}
		if got := tables(); got != step.wantTables {
			t.Errorf("after %s: %d tables, want %d", step.name, got, step.wantTables)
		}
		if got := pending(); got != step.wantPend {
			t.Errorf("after %s: pending = %v, want %v", step.name, got, step.wantPend)
		}
	}
	if err := ready(ctx); err != nil {
		t.Errorf("ready after migrating = %v", err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Errorf("status: %s not applied", s.Source)
		}
	}
}

func TestReadyWhenDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	m, err := postgres.NewMigrator(pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	ready := postgres.Ready(pool, m)
	if err := ready(ctx); err != nil {
		t.Fatalf("ready = %v on a migrated database", err)
	}
	pool.Close()
	if err := ready(ctx); err == nil || err.Error() != "database unreachable" {
		t.Errorf("ready after closing the pool = %v, want database unreachable", err)
	}
}

func TestEnsureDatabaseIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := fmt.Sprintf("wpd_test_ensure_%d", os.Getpid())
	t.Cleanup(func() {
		_ = pgExec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	for range 2 {
		if err := postgres.EnsureDatabase(ctx, pgtest.AdminURL(), name); err != nil {
			t.Fatalf("EnsureDatabase: %v", err)
		}
	}
	pool, err := postgres.Open(ctx, postgres.WithDatabase(pgtest.AdminURL(), name), postgres.PoolConfig{})
	if err != nil {
		t.Fatalf("the ensured database does not open: %v", err)
	}
	pool.Close()
}
