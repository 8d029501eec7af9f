package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// BenchmarkHotLike is 32 users at a time liking and unliking one
// wallpaper through the store: the ceiling of likes on a viral wallpaper
// below HTTP. Each goroutine owns its users and alternates like and
// unlike on each, so every call changes something.
func BenchmarkHotLike(b *testing.B) {
	b.Run("one wallpaper", func(b *testing.B) { benchLikes(b, false) })
	// The same calls spread over a wallpaper per goroutine: what the
	// database does for likes when no row is shared.
	b.Run("a wallpaper each", func(b *testing.B) { benchLikes(b, true) })
}

func benchLikes(b *testing.B, spread bool) {
	const workers, usersPerWorker = 32, 8
	ctx := context.Background()
	pool, err := postgres.Open(ctx, pgtest.NewURL(b), postgres.PoolConfig{MaxConns: workers})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	store := postgres.NewGallery(pool, newJobs(b, pool))
	owner := seedUser(b, pool, "b-owner")
	ids := make([]uuid.UUID, workers)
	for w := range ids {
		if w == 0 || spread {
			ids[w] = seedWallpaper(b, pool, owner, true, time.Now())
		} else {
			ids[w] = ids[0]
		}
	}
	users := make([][]uuid.UUID, workers)
	for w := range users {
		for u := range usersPerWorker {
			users[w] = append(users[w], seedUser(b, pool, fmt.Sprintf("b-%d-%d", w, u)))
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				u := users[w][i%usersPerWorker]
				liked := (i/usersPerWorker)%2 == 0
				if _, err := store.SetLike(ctx, u, ids[w], liked, allow); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "likes/s")
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
