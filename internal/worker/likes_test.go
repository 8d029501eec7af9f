package worker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

// TestLikesAreFolded: the queue's periodic job moves likes' delta rows
// into their wallpaper's like_count; the count read is the same before and
// after.
func TestLikesAreFolded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	jobs, err := worker.NewJobs(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	gallery := postgres.NewGallery(pool, jobs)
	users := postgres.NewUsers(pool)
	owner, err := users.Upsert(ctx, "o-folded-owner", "")
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO wallpapers (id, user_id, prompt, size, width, height, model, image_key, thumbnail_key)
		VALUES ($1, $2, 'a lake', '1024x1024', 1024, 1024, 'offline', 'i', 't')`, id, owner.ID); err != nil {
		t.Fatal(err)
	}
	allow := func(*wallpaper.Wallpaper) error { return nil }
	for _, name := range []string{"a", "b", "c"} {
		u, err := users.Upsert(ctx, "o-folded-"+name, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gallery.SetLike(ctx, u.ID, id, true, allow); err != nil {
			t.Fatal(err)
		}
	}
	state := func() (folded, deltas int) {
		if err := pool.QueryRow(ctx, `SELECT like_count, (SELECT count(*) FROM like_deltas WHERE wallpaper_id = $1)
			FROM wallpapers WHERE id = $1`, id).Scan(&folded, &deltas); err != nil {
			t.Fatal(err)
		}
		return folded, deltas
	}
	if folded, deltas := state(); folded != 0 || deltas == 0 {
		t.Fatalf("before the fold: like_count %d, %d delta rows", folded, deltas)
	}

	q, err := worker.New(pool, worker.Config{
		Workers: 1, JobTimeout: time.Minute, SoftStopTimeout: time.Second, ReplicaID: "likes",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, worker.Deps{Orphans: postgres.NewGenerations(pool, nil), Likes: gallery})
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
	// The job runs when the queue starts, then every FoldLikesInterval.
	apptest.WaitFor(t, 60*time.Second, "the periodic job to fold the likes", func() bool {
		folded, deltas := state()
		return folded == 3 && deltas == 0
	})
	w, err := gallery.Wallpaper(ctx, id)
	if err != nil || w.LikeCount != 3 {
		t.Fatalf("after the fold the count is %+v, %v; want 3", w, err)
	}
}
