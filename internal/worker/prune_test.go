package worker_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestSessionsArePruned: the queue's periodic job deletes refresh tokens
// nobody can use (expired, or of a session past its maximum age) and
// leaves live ones alone.
func TestSessionsArePruned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	u, err := postgres.NewUsers(pool).Upsert(ctx, "o-pruned", "")
	if err != nil {
		t.Fatal(err)
	}
	tokens := postgres.NewRefreshTokens(pool)
	now := time.Now()
	token := func(plain string, familyAge, expiresIn time.Duration) {
		t.Helper()
		if err := tokens.Create(ctx, auth.RefreshToken{ID: uuid.New(), UserID: u.ID, FamilyID: uuid.New(),
			Hash: auth.HashRefreshToken(plain), FamilyCreatedAt: now.Add(-familyAge),
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(expiresIn)}); err != nil {
			t.Fatal(err)
		}
	}
	token("live", time.Hour, time.Hour)
	token("expired", 3*time.Hour, -time.Minute)
	token("too old", 100*24*time.Hour, time.Hour)
	count := func() (n int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM refresh_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := worker.New(pool, worker.Config{
		Workers: 1, JobTimeout: time.Minute, SoftStopTimeout: time.Second, Logger: logger, ReplicaID: "prune",
		Sessions: tokens, SessionMaxAge: 90 * 24 * time.Hour, PruneInterval: time.Hour,
	}, worker.Deps{Orphans: postgres.NewGenerations(pool, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(stopCtx)
	})
	// The job runs when the queue starts, then every PruneInterval.
	apptest.WaitFor(t, 60*time.Second, "the periodic job to prune", func() bool { return count() == 1 })
	var left []byte
	if err := pool.QueryRow(ctx, `SELECT token_hash FROM refresh_tokens`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if string(left) != string(auth.HashRefreshToken("live")) {
		t.Error("the live token was pruned")
	}
}
