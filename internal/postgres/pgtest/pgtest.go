// Package pgtest gives each test its own fresh, migrated database on a real
// Postgres server, so that tests run in parallel and never share state.
//
// The server is TEST_DATABASE_URL (a URL of any database on it, used as the
// admin connection), or the local server at 127.0.0.1:5432. A template
// database, migrated once per test process, is cloned for every test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// AdminURL is the server tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Main runs a package's tests and then drops the template database this
// process created. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if templateName != "" {
		if err := dropDatabase(context.Background(), templateName); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: dropping template:", err)
		}
	}
	return code
}

// NewURL creates an empty, migrated database for this test, dropped when the
// test ends, and returns its URL.
func NewURL(tb testing.TB) string {
	tb.Helper()
	templateOnce.Do(func() { templateName, templateErr = createTemplate() })
	if templateErr != nil {
		tb.Fatalf("pgtest: template database: %v", templateErr)
	}
	name := "wpd_test_" + randomSuffix()
	ctx := context.Background()
	if err := exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateName)); err != nil {
		tb.Fatalf("pgtest: creating database: %v", err)
	}
	tb.Cleanup(func() {
		if err := dropDatabase(context.Background(), name); err != nil {
			tb.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	return postgres.WithDatabase(AdminURL(), name)
}

// NewPool is NewURL with an open pool, closed when the test ends (before
// the database is dropped).
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	url := NewURL(tb)
	pool, err := postgres.Open(context.Background(), url, postgres.PoolConfig{MaxConns: 10})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// NewEmptyURL creates a database with no migrations applied, for migration
// tests, dropped when the test ends.
func NewEmptyURL(tb testing.TB) string {
	tb.Helper()
	name := "wpd_test_" + randomSuffix()
	if err := exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: creating database: %v", err)
	}
	tb.Cleanup(func() {
		if err := dropDatabase(context.Background(), name); err != nil {
			tb.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	return postgres.WithDatabase(AdminURL(), name)
}

func createTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "wpd_tpl_" + randomSuffix()
	if err := exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	pool, err := postgres.Open(ctx, postgres.WithDatabase(AdminURL(), name), postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer pool.Close()
	m, err := postgres.NewMigrator(pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return "", err
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		return "", err
	}
	return name, nil
}

func exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return fmt.Errorf("connecting to %s: %w (set TEST_DATABASE_URL)", "the test server", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func dropDatabase(ctx context.Context, name string) error {
	return exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
