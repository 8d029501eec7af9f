package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

// seedUser inserts a user with plain SQL and returns its id.
func seedUser(t testing.TB, pool *pgxpool.Pool, openID string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := pool.QueryRow(context.Background(),
		`INSERT INTO users (openid, nickname) VALUES ($1, $1) RETURNING id`, openID).Scan(&id)
	if err != nil {
		t.Fatalf("seeding user %s: %v", openID, err)
	}
	return id
}

// seedWallpaper inserts a wallpaper owned by userID, created at at, with
// plain SQL and returns its id.
func seedWallpaper(t testing.TB, pool *pgxpool.Pool, userID uuid.UUID, public bool, at time.Time) uuid.UUID {
	t.Helper()
	id, err := insertWallpaper(context.Background(), pool, userID, public, at)
	if err != nil {
		t.Fatalf("seeding wallpaper: %v", err)
	}
	return id
}

// insertWallpaper is seedWallpaper for goroutines, which must not call
// t.Fatal.
func insertWallpaper(ctx context.Context, pool *pgxpool.Pool, userID uuid.UUID, public bool, at time.Time) (uuid.UUID, error) {
	id := uuid.New()
	// Settled: a public one approved and published, a private one under
	// the private prefix.
	place := wallpaper.PrivatePrefix
	if public {
		place = wallpaper.PublicPrefix
	}
	_, err := pool.Exec(ctx, `INSERT INTO wallpapers
		(id, user_id, prompt, size, width, height, provider, model, params, image_key, thumbnail_key, public, published, created_at)
		VALUES ($1, $2, 'a lake at dawn', '1024x1792', 1024, 1792, 'offline', 'offline', '{"seed": 1}', $3, $4, $5, $5, $6)`,
		id, userID, wallpaper.ObjectKey(place, id, "image.jpg"), wallpaper.ObjectKey(place, id, "thumb.jpg"), public, at)
	return id, err
}

func allow(*wallpaper.Wallpaper) error { return nil }

func cursorOf(w wallpaper.Wallpaper) *wallpaper.Cursor {
	return &wallpaper.Cursor{CreatedAt: w.CreatedAt, ID: w.ID}
}

// before says whether a comes strictly before b in newest-first order.
func before(a, b wallpaper.Wallpaper) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return uuidGreater(a.ID, b.ID)
}

// uuidGreater compares ids as Postgres does: byte by byte.
func uuidGreater(a, b uuid.UUID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// walk pages through a listing with limit, checking that each page comes
// strictly after the one before, and returns every item in order.
func walk(t *testing.T, limit int, page func(after *wallpaper.Cursor, limit int) ([]wallpaper.Wallpaper, error)) []wallpaper.Wallpaper {
	t.Helper()
	var all []wallpaper.Wallpaper
	var after *wallpaper.Cursor
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("the walk does not end")
		}
		items, err := page(after, limit)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(items) > limit {
			t.Fatalf("page %d has %d items; limit %d", pages, len(items), limit)
		}
		for _, w := range items {
			if n := len(all); n > 0 && !before(all[n-1], w) {
				t.Fatalf("item %d (%s, %s) does not come after (%s, %s)", n, w.CreatedAt, w.ID, all[n-1].CreatedAt, all[n-1].ID)
			}
			all = append(all, w)
		}
		if len(items) < limit {
			return all
		}
		after = cursorOf(items[len(items)-1])
	}
}

func TestGalleryFeedWalkWithConcurrentInserts(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	ctx := context.Background()
	alice, bob := seedUser(t, pool, "o-alice"), seedUser(t, pool, "o-bob")

	// 300 wallpapers over the last few hours, every fifth private, with
	// runs of equal timestamps so that the id breaks ties.
	base := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Microsecond)
	public := map[uuid.UUID]bool{}
	private := map[uuid.UUID]bool{}
	for i := range 300 {
		owner := alice
		if i%2 == 1 {
			owner = bob
		}
		at := base.Add(time.Duration(i/3) * time.Second)
		id := seedWallpaper(t, pool, owner, i%5 != 0, at)
		if i%5 != 0 {
			public[id] = true
		} else {
			private[id] = true
		}
	}

	// While the walk runs, others publish: new wallpapers (newer than any
	// cursor) and back-dated ones landing between pages already seen.
	stop := make(chan struct{})
	inserted := make(chan error, 1)
	var inserts int
	go func() {
		defer close(inserted)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			at := time.Now()
			if i%2 == 1 {
				at = base.Add(time.Duration(i%100) * time.Second)
			}
			if _, err := insertWallpaper(ctx, pool, bob, true, at); err != nil {
				inserted <- err
				return
			}
			inserts++
		}
	}()

	seen := walk(t, 7, feedOf(store))
	close(stop)
	if err := <-inserted; err != nil {
		t.Fatalf("concurrent insert: %v", err)
	}
	t.Logf("%d items seen while %d wallpapers were inserted", len(seen), inserts)

	count := map[uuid.UUID]int{}
	for _, w := range seen {
		count[w.ID]++
		if count[w.ID] > 1 {
			t.Errorf("wallpaper %s seen twice", w.ID)
		}
		if private[w.ID] {
			t.Errorf("private wallpaper %s in the feed", w.ID)
		}
		if !w.Public {
			t.Errorf("feed item %s is not public", w.ID)
		}
		if w.Author.Nickname == "" {
			t.Errorf("feed item %s without its author", w.ID)
		}
	}
	for id := range public {
		if count[id] != 1 {
			t.Errorf("public wallpaper %s seen %d times; want once", id, count[id])
		}
	}
}

func TestGalleryTiesPaginateExactly(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	alice := seedUser(t, pool, "o-alice")
	at := time.Date(2026, 11, 1, 8, 0, 0, 123456000, time.UTC)
	want := map[uuid.UUID]bool{}
	for range 100 {
		want[seedWallpaper(t, pool, alice, true, at)] = true
	}
	// A private one at the same instant: in the user's list, not the feed.
	hidden := seedWallpaper(t, pool, alice, false, at)

	tests := []struct {
		name  string
		limit int
		page  func(after *wallpaper.Cursor, limit int) ([]wallpaper.Wallpaper, error)
		want  int
	}{
		{name: "feed by 7", limit: 7, page: feedOf(store), want: 100},
		{name: "feed by 1", limit: 1, page: feedOf(store), want: 100},
		{name: "feed by 50", limit: 50, page: feedOf(store), want: 100},
		{name: "own list by 7", limit: 7, page: mineOf(store, alice), want: 101},
		{name: "own list by 50", limit: 50, page: mineOf(store, alice), want: 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := walk(t, tt.limit, tt.page)
			if len(seen) != tt.want {
				t.Fatalf("saw %d items; want %d", len(seen), tt.want)
			}
			got := map[uuid.UUID]bool{}
			for _, w := range seen {
				got[w.ID] = true
				if !want[w.ID] && w.ID != hidden {
					t.Errorf("unexpected item %s", w.ID)
				}
			}
			if len(got) != len(seen) {
				t.Errorf("%d distinct items in %d", len(got), len(seen))
			}
			if got[hidden] != (tt.want == 101) {
				t.Errorf("private wallpaper listed = %v", got[hidden])
			}
		})
	}
}

func feedOf(s *postgres.Gallery) func(*wallpaper.Cursor, int) ([]wallpaper.Wallpaper, error) {
	return func(after *wallpaper.Cursor, limit int) ([]wallpaper.Wallpaper, error) {
		return s.Feed(context.Background(), after, limit)
	}
}

func mineOf(s *postgres.Gallery, user uuid.UUID) func(*wallpaper.Cursor, int) ([]wallpaper.Wallpaper, error) {
	return func(after *wallpaper.Cursor, limit int) ([]wallpaper.Wallpaper, error) {
		return s.UserWallpapers(context.Background(), user, after, limit)
	}
}

func TestGalleryUserWallpapers(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	alice, bob := seedUser(t, pool, "o-alice"), seedUser(t, pool, "o-bob")
	at := time.Now().Add(-time.Hour).UTC()
	mine := map[uuid.UUID]bool{
		seedWallpaper(t, pool, alice, true, at):                   true,
		seedWallpaper(t, pool, alice, false, at.Add(time.Second)): false,
	}
	seedWallpaper(t, pool, bob, true, at.Add(2*time.Second))

	got := walk(t, 50, mineOf(store, alice))
	if len(got) != 2 {
		t.Fatalf("alice's list has %d items; want 2", len(got))
	}
	for _, w := range got {
		public, ok := mine[w.ID]
		if !ok || w.Public != public || w.Author.ID != alice {
			t.Errorf("alice's list holds %+v", w)
		}
		// Lists leave the model parameters to the detail (cheaper pages).
		if w.Params != nil {
			t.Errorf("a list item carries params %v", w.Params)
		}
	}
	if got, err := store.UserWallpapers(context.Background(), uuid.New(), nil, 10); err != nil || len(got) != 0 {
		t.Errorf("an unknown user's list = %v, %v; want empty", got, err)
	}
}

func TestGalleryWallpaper(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	ctx := context.Background()
	alice := seedUser(t, pool, "o-alice")
	id := seedWallpaper(t, pool, alice, false, time.Now())

	w, err := store.Wallpaper(ctx, id)
	if err != nil {
		t.Fatalf("Wallpaper: %v", err)
	}
	if w.ID != id || w.Author.ID != alice || w.Author.Nickname != "o-alice" || w.Public || w.Params["seed"] != float64(1) || w.Provider != "offline" ||
		w.ImageKey == "" || w.ThumbnailKey == "" || w.Width != 1024 || w.Height != 1792 {
		t.Errorf("Wallpaper = %+v", w)
	}
	if _, err := store.Wallpaper(ctx, uuid.New()); !errors.Is(err, wallpaper.ErrNotFound) {
		t.Errorf("Wallpaper(unknown) = %v; want ErrNotFound", err)
	}
}

func TestGalleryConcurrentLikes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	ctx := context.Background()
	owner := seedUser(t, pool, "o-owner")
	id := seedWallpaper(t, pool, owner, true, time.Now())

	// 50 users, each with its own sequence; the odd ones end unliked. Each
	// user also sends the same call twice at once, as a double tap would.
	const users = 50
	likers := make([]uuid.UUID, users)
	for i := range likers {
		likers[i] = seedUser(t, pool, fmt.Sprintf("o-liker-%d", i))
	}
	errs := make(chan error, users*8)
	var start, done sync.WaitGroup
	start.Add(1)
	for i, u := range likers {
		steps := []bool{true, false, true}
		if i%2 == 1 {
			steps = append(steps, false)
		}
		for range 2 {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				for _, liked := range steps {
					if _, err := store.SetLike(ctx, u, id, liked, allow); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	start.Done()
	done.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("SetLike: %v", err)
	}

	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM likes WHERE wallpaper_id = $1`, id).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	w, err := store.Wallpaper(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if count := w.LikeCount; count != rows {
		t.Fatalf("like_count = %d, but %d like rows", count, rows)
	}
	// Both goroutines of a user end on the same step, so whichever runs
	// last leaves the same state: the even users like it.
	if rows != users/2 {
		t.Fatalf("%d like rows; want %d", rows, users/2)
	}
}

func TestGallerySetLike(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	ctx := context.Background()
	owner, fan := seedUser(t, pool, "o-owner"), seedUser(t, pool, "o-fan")
	id := seedWallpaper(t, pool, owner, true, time.Now())
	errNo := errors.New("no")

	tests := []struct {
		name      string
		id        uuid.UUID
		liked     bool
		check     func(*wallpaper.Wallpaper) error
		wantCount int
		wantErr   error
	}{
		{name: "like", id: id, liked: true, check: allow, wantCount: 1},
		{name: "like again", id: id, liked: true, check: allow, wantCount: 1},
		{name: "refused by the check", id: id, liked: false, check: func(*wallpaper.Wallpaper) error { return errNo }, wantErr: errNo},
		{name: "unlike", id: id, liked: false, check: allow, wantCount: 0},
		{name: "unlike again", id: id, liked: false, check: allow, wantCount: 0},
		{name: "unknown wallpaper", id: uuid.New(), liked: true, check: allow, wantErr: wallpaper.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := store.SetLike(ctx, fan, tt.id, tt.liked, tt.check)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SetLike = %d, %v; want %v", n, err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.wantCount {
				t.Fatalf("SetLike = %d, %v; want %d", n, err, tt.wantCount)
			}
			liked, err := store.LikedAmong(ctx, fan, []uuid.UUID{id, uuid.New()})
			if err != nil {
				t.Fatal(err)
			}
			if liked[id] != tt.liked || len(liked) > 1 {
				t.Fatalf("LikedAmong = %v; want liked %v", liked, tt.liked)
			}
		})
	}
}

func TestGalleryUpdateWallpaper(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	ctx := context.Background()
	alice := seedUser(t, pool, "o-alice")
	id := seedWallpaper(t, pool, alice, true, time.Now())

	w, err := store.UpdateWallpaper(ctx, id, func(w *wallpaper.Wallpaper) error { w.Public = false; return nil })
	if err != nil || w.Public {
		t.Fatalf("UpdateWallpaper = %+v, %v", w, err)
	}
	errNo := errors.New("no")
	if _, err := store.UpdateWallpaper(ctx, id, func(w *wallpaper.Wallpaper) error { w.Public = true; return errNo }); !errors.Is(err, errNo) {
		t.Fatalf("refused UpdateWallpaper = %v", err)
	}
	if got, err := store.Wallpaper(ctx, id); err != nil || got.Public {
		t.Fatalf("after a refused change the wallpaper is %+v, %v; want still private", got, err)
	}
	if _, err := store.UpdateWallpaper(ctx, uuid.New(), func(*wallpaper.Wallpaper) error { return nil }); !errors.Is(err, wallpaper.ErrNotFound) {
		t.Fatalf("UpdateWallpaper(unknown) = %v; want ErrNotFound", err)
	}
}

// newQueue is the real River queue, not started: the test only looks at
// the jobs it inserts.
func newJobs(t testing.TB, pool *pgxpool.Pool) *worker.Jobs {
	t.Helper()
	jobs, err := worker.NewJobs(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// failingDeletes inserts the delete job, then fails the transaction with
// fail when it is set.
type failingDeletes struct {
	*worker.Jobs
	fail error
}

func (f failingDeletes) DeleteObjects(ctx context.Context, tx pgx.Tx, keys []string) error {
	if err := f.Jobs.DeleteObjects(ctx, tx, keys); err != nil {
		return err
	}
	return f.fail
}

// deleteJobs returns the keys of every delete_objects job.
func deleteJobs(t *testing.T, pool *pgxpool.Pool) [][]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT args FROM river_job WHERE kind = 'delete_objects' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]string, error) {
		var a worker.DeleteObjectsArgs
		err := r.Scan(&a)
		return a.Keys, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestGalleryDeleteWallpaper(t *testing.T) {
	t.Parallel()
	errNo := errors.New("no")
	tests := []struct {
		name     string
		check    func(*wallpaper.Wallpaper) error
		failJob  error // the enqueue fails with it after inserting the job
		wantErr  error
		wantGone bool
	}{
		{name: "deleted with one job", check: allow, wantGone: true},
		{name: "the check refuses", check: func(*wallpaper.Wallpaper) error { return errNo }, wantErr: errNo},
		{name: "enqueueing fails", check: allow, failJob: errNo, wantErr: errNo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewPool(t)
			ctx := context.Background()
			store := postgres.NewGallery(pool, failingDeletes{Jobs: newJobs(t, pool), fail: tt.failJob})
			alice, fan := seedUser(t, pool, "o-alice"), seedUser(t, pool, "o-fan")
			id := seedWallpaper(t, pool, alice, true, time.Now())
			if _, err := store.SetLike(ctx, fan, id, true, allow); err != nil {
				t.Fatal(err)
			}
			var seen *wallpaper.Wallpaper
			err := store.DeleteWallpaper(ctx, id, func(w *wallpaper.Wallpaper) error {
				seen = w
				return tt.check(w)
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("DeleteWallpaper = %v; want %v", err, tt.wantErr)
			}
			if seen == nil || seen.ID != id || seen.Author.ID != alice {
				t.Fatalf("the check saw %+v", seen)
			}

			_, err = store.Wallpaper(ctx, id)
			if gone := errors.Is(err, wallpaper.ErrNotFound); gone != tt.wantGone {
				t.Fatalf("after delete, Wallpaper = %v; want gone %v", err, tt.wantGone)
			}
			var likes int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM likes WHERE wallpaper_id = $1`, id).Scan(&likes); err != nil {
				t.Fatal(err)
			}
			jobs := deleteJobs(t, pool)
			if !tt.wantGone {
				if len(jobs) != 0 || likes != 1 {
					t.Fatalf("a refused delete left %d jobs and %d likes; want 0 and 1", len(jobs), likes)
				}
				return
			}
			// Every place an object of it may be: the display image and
			// thumbnail at both prefixes (a move may have left a copy), and
			// its mini-program code as WeChat or the QR maker made it.
			want := []string{seen.ImageKey, strings.Replace(seen.ImageKey, "public/", "private/", 1),
				seen.ThumbnailKey, strings.Replace(seen.ThumbnailKey, "public/", "private/", 1),
				"wxacode/" + seen.ID.String() + ".jpg", "wxacode/" + seen.ID.String() + ".png"}
			if len(jobs) != 1 || fmt.Sprint(jobs[0]) != fmt.Sprint(want) {
				t.Fatalf("delete jobs = %v; want one for %v", jobs, want)
			}
			if likes != 0 {
				t.Fatalf("%d likes of a deleted wallpaper", likes)
			}
			if err := store.DeleteWallpaper(ctx, id, allow); !errors.Is(err, wallpaper.ErrNotFound) {
				t.Fatalf("deleting again = %v; want ErrNotFound", err)
			}
			if jobs := deleteJobs(t, pool); len(jobs) != 1 {
				t.Fatalf("deleting again enqueued: %d jobs", len(jobs))
			}
		})
	}
}
