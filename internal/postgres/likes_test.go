package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/likecheck"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// likeCount is the wallpaper's count as the store reads it.
func likeCount(t testing.TB, store *postgres.Gallery, id uuid.UUID) int {
	t.Helper()
	w, err := store.Wallpaper(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w.LikeCount
}

// likeRows counts the wallpaper's likes rows, its folded count and its
// delta rows.
func likeRows(t testing.TB, pool *pgxpool.Pool, id uuid.UUID) (likes, folded, deltas int) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM likes WHERE wallpaper_id = $1),
		COALESCE((SELECT like_count FROM wallpapers WHERE id = $1), 0), (SELECT count(*) FROM like_deltas WHERE wallpaper_id = $1)`,
		id).Scan(&likes, &folded, &deltas)
	if err != nil {
		t.Fatal(err)
	}
	return likes, folded, deltas
}

// likeCall is one call of TestHotLikesExactAtTheirMoment.
type likeCall struct {
	user uuid.UUID
	like bool
}

// TestHotLikesExactAtTheirMoment: 32 goroutines, each with its own users,
// like and unlike one wallpaper at once while folds run and a reader
// compares, in one snapshot, the count with the likes rows. Three phases:
// everyone likes, everyone unlikes (each checked exactly by
// likecheck.CheckPhase), then random likes and unlikes, repeats included;
// the whole history passes likecheck's window check, and the final count
// is the likes rows and what the calls leave.
func TestHotLikesExactAtTheirMoment(t *testing.T) {
	t.Parallel()
	const workers, perWorker, mixedCalls = 32, 4, 12
	ctx := context.Background()
	pool, err := postgres.Open(ctx, pgtest.NewURL(t), postgres.PoolConfig{MaxConns: workers + 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	owner := seedUser(t, pool, "h-owner")
	id := seedWallpaper(t, pool, owner, true, time.Now())

	// Likes from before, some folded, some not: the base.
	const base = 5
	for i := range base {
		if _, err := store.SetLike(ctx, seedUser(t, pool, fmt.Sprint("h-earlier-", i)), id, true, allow); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := store.FoldLikes(ctx, 100); err != nil {
				t.Fatal(err)
			}
		}
	}
	users := make([][]uuid.UUID, workers)
	for w := range users {
		for u := range perWorker {
			users[w] = append(users[w], seedUser(t, pool, fmt.Sprintf("h-%d-%d", w, u)))
		}
	}

	// Beside the likers: folds, and a reader holding the invariant.
	stop := make(chan struct{})
	var side sync.WaitGroup
	sideErrs := make(chan error, 2)
	side.Add(2)
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := store.FoldLikes(ctx, 100); err != nil {
				sideErrs <- fmt.Errorf("FoldLikes: %w", err)
				return
			}
		}
	}()
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var rows, count int
			err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM likes WHERE wallpaper_id = $1`, id).Scan(&rows); err != nil {
					return err
				}
				return tx.QueryRow(ctx, postgres.LikeSQL.Count, id).Scan(&count)
			})
			if err != nil {
				sideErrs <- err
				return
			}
			if rows != count {
				sideErrs <- fmt.Errorf("in one snapshot %d likes rows but a count of %d", rows, count)
				return
			}
		}
	}()

	// phase runs each worker's calls, and returns them all.
	phase := func(calls func(w int, rnd *rand.Rand) []likeCall) []likecheck.Call {
		out := make([][]likecheck.Call, workers)
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(w), 1))
				for _, c := range calls(w, rnd) {
					start := time.Now()
					n, err := store.SetLike(ctx, c.user, id, c.like, allow)
					if err != nil {
						errs <- err
						return
					}
					out[w] = append(out[w], likecheck.Call{User: c.user.String(), Like: c.like, Start: start, End: time.Now(), Count: n})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("SetLike: %v", err)
		}
		var all []likecheck.Call
		for _, c := range out {
			all = append(all, c...)
		}
		return all
	}
	every := func(like bool) func(int, *rand.Rand) []likeCall {
		return func(w int, _ *rand.Rand) (out []likeCall) {
			for _, u := range users[w] {
				out = append(out, likeCall{u, like})
			}
			return out
		}
	}
	history := likecheck.History{Base: base}
	n := workers * perWorker
	t.Run("everyone likes", func(t *testing.T) {
		calls := phase(every(true))
		history.Calls = append(history.Calls, calls...)
		if err := likecheck.CheckPhase(base, true, calls); err != nil {
			t.Error(err)
		}
	})
	t.Run("everyone unlikes", func(t *testing.T) {
		calls := phase(every(false))
		history.Calls = append(history.Calls, calls...)
		if err := likecheck.CheckPhase(base+n, false, calls); err != nil {
			t.Error(err)
		}
	})
	t.Run("likes and unlikes at random", func(t *testing.T) {
		history.Calls = append(history.Calls, phase(func(w int, rnd *rand.Rand) (out []likeCall) {
			for range mixedCalls {
				out = append(out, likeCall{users[w][rnd.IntN(perWorker)], rnd.IntN(2) == 0})
			}
			return out
		})...)
	})
	close(stop)
	side.Wait()
	close(sideErrs)
	for err := range sideErrs {
		t.Fatal(err)
	}
	if err := history.Check(); err != nil {
		t.Fatal(err)
	}
	rows, _, _ := likeRows(t, pool, id)
	if got := likeCount(t, store, id); got != history.Final() || rows != got {
		t.Fatalf("final count %d, %d likes rows; the calls leave %d", got, rows, history.Final())
	}
	if _, err := store.FoldLikes(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if likes, folded, deltas := likeRows(t, pool, id); folded != likes || deltas != 0 {
		t.Fatalf("after the last fold like_count %d, %d delta rows; want %d and none", folded, deltas, likes)
	}
}

// TestLikeCountsThroughDeletions: an account's likes leave the counts of
// others' wallpapers whether they were folded or not, also while the user
// unlikes them at the same time; a deleted wallpaper takes its delta rows
// along.
func TestLikeCountsThroughDeletions(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	jobs := newJobs(t, pool)
	store := postgres.NewGallery(pool, jobs)
	accounts := postgres.NewAccounts(pool, jobs, time.Hour)
	ctx := context.Background()
	owner := seedUser(t, pool, "d-owner")
	like := func(u, id uuid.UUID, liked bool) {
		t.Helper()
		if _, err := store.SetLike(ctx, u, id, liked, allow); err != nil {
			t.Fatal(err)
		}
	}
	fold := func() {
		t.Helper()
		if _, err := store.FoldLikes(ctx, 1000); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("folded and unfolded likes of a deleted account", func(t *testing.T) {
		id := seedWallpaper(t, pool, owner, true, time.Now())
		folded, unfolded, stays := seedUser(t, pool, "d-folded"), seedUser(t, pool, "d-unfolded"), seedUser(t, pool, "d-stays")
		like(folded, id, true)
		like(stays, id, true)
		fold()
		like(unfolded, id, true)
		for _, u := range []uuid.UUID{folded, unfolded} {
			if err := accounts.DeleteAccount(ctx, u, []byte("subject-"+u.String())); err != nil {
				t.Fatal(err)
			}
		}
		if got := likeCount(t, store, id); got != 1 {
			t.Fatalf("count %d after deleting two of three likers; want 1", got)
		}
		fold()
		if likes, folded, deltas := likeRows(t, pool, id); likes != 1 || folded != 1 || deltas != 0 {
			t.Fatalf("after a fold: %d likes, like_count %d, %d delta rows; want 1, 1, 0", likes, folded, deltas)
		}
	})

	t.Run("an account deleted while its user unlikes", func(t *testing.T) {
		fan, other := seedUser(t, pool, "d-fan"), seedUser(t, pool, "d-other")
		ids := make([]uuid.UUID, 20)
		for i := range ids {
			ids[i] = seedWallpaper(t, pool, owner, true, time.Now())
			like(fan, ids[i], true)
			like(other, ids[i], true)
			if i%2 == 0 {
				fold()
			}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids {
				// Refused once the account is gone: that is the race.
				_, _ = store.SetLike(ctx, fan, id, false, allow)
			}
		}()
		if err := accounts.DeleteAccount(ctx, fan, []byte("subject-fan")); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		fold()
		for i, id := range ids {
			if got := likeCount(t, store, id); got != 1 {
				t.Errorf("wallpaper %d: count %d; want 1 (the other's)", i, got)
			}
		}
	})

	t.Run("wallpapers deleted while they are liked", func(t *testing.T) {
		likers := make([]uuid.UUID, 8)
		for i := range likers {
			likers[i] = seedUser(t, pool, fmt.Sprint("d-racer-", i))
		}
		for round := range 10 {
			id := seedWallpaper(t, pool, owner, true, time.Now())
			for _, u := range likers[:4] {
				like(u, id, true) // existing stripes, which the cascade must delete
			}
			var wg sync.WaitGroup
			errs := make(chan error, len(likers)*10)
			for i, u := range likers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range 10 {
						_, err := store.SetLike(ctx, u, id, (i+k)%2 == 0, allow)
						if errors.Is(err, wallpaper.ErrNotFound) {
							return // deleted: what a liker may see
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			err := store.DeleteWallpaper(ctx, id, allow)
			wg.Wait()
			close(errs)
			if err != nil {
				t.Fatalf("round %d: DeleteWallpaper: %v", round, err)
			}
			for err := range errs {
				t.Fatalf("round %d: SetLike: %v", round, err)
			}
			if likes, _, deltas := likeRows(t, pool, id); likes != 0 || deltas != 0 {
				t.Fatalf("round %d: %d likes and %d delta rows left of a deleted wallpaper", round, likes, deltas)
			}
		}
	})

	t.Run("a deleted wallpaper takes its deltas", func(t *testing.T) {
		id := seedWallpaper(t, pool, owner, true, time.Now())
		like(seedUser(t, pool, "d-last"), id, true)
		if err := store.DeleteWallpaper(ctx, id, allow); err != nil {
			t.Fatal(err)
		}
		if likes, _, deltas := likeRows(t, pool, id); likes != 0 || deltas != 0 {
			t.Fatalf("%d likes and %d delta rows left of a deleted wallpaper", likes, deltas)
		}
		if _, err := store.SetLike(ctx, owner, id, true, allow); err == nil {
			t.Fatal("liked a deleted wallpaper")
		}
	})
}
