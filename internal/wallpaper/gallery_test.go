package wallpaper_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

// TestMain drops the template database pgtest made: the gallery's rules
// are tested on the real Postgres store, not on a stand-in.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type galleryEnv struct {
	pool    *pgxpool.Pool
	gallery *wallpaper.Gallery
}

func newGalleryEnv(t *testing.T) *galleryEnv {
	t.Helper()
	pool := pgtest.NewPool(t)
	jobs, err := worker.NewJobs(pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	store := postgres.NewGallery(pool, jobs)
	return &galleryEnv{pool: pool, gallery: wallpaper.NewGallery(store, store, store, testCodec)}
}

func (e *galleryEnv) user(t *testing.T, openID string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := e.pool.QueryRow(context.Background(),
		`INSERT INTO users (openid, nickname) VALUES ($1, $1) RETURNING id`, openID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *galleryEnv) wallpaper(t *testing.T, owner uuid.UUID, public bool, at time.Time) uuid.UUID {
	t.Helper()
	id := uuid.New()
	place := wallpaper.PrivatePrefix
	if public {
		place = wallpaper.PublicPrefix
	}
	_, err := e.pool.Exec(context.Background(), `INSERT INTO wallpapers
		(id, user_id, prompt, size, width, height, model, image_key, thumbnail_key, public, published, created_at)
		VALUES ($1, $2, 'dunes', '1024x1792', 1024, 1792, 'offline', $3, $4, $5, $5, $6)`,
		id, owner, wallpaper.ObjectKey(place, id, "image.jpg"), wallpaper.ObjectKey(place, id, "thumb.jpg"), public, at)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *galleryEnv) exists(t *testing.T, id uuid.UUID) bool {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM wallpapers WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestGalleryOwnership(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	ctx := context.Background()
	owner, other := e.user(t, "o-owner"), e.user(t, "o-other")

	type op struct {
		name string
		do   func(caller, id uuid.UUID) error
	}
	ops := []op{
		{"see", func(c, id uuid.UUID) error { _, err := e.gallery.Wallpaper(ctx, &c, id); return err }},
		{"like", func(c, id uuid.UUID) error { _, err := e.gallery.SetLike(ctx, c, id, true); return err }},
		{"unlike", func(c, id uuid.UUID) error { _, err := e.gallery.SetLike(ctx, c, id, false); return err }},
		{"hide", func(c, id uuid.UUID) error { _, err := e.gallery.SetPublic(ctx, c, id, false); return err }},
		{"show", func(c, id uuid.UUID) error { _, err := e.gallery.SetPublic(ctx, c, id, true); return err }},
		{"delete", func(c, id uuid.UUID) error { return e.gallery.Delete(ctx, c, id) }},
	}
	// want maps an operation to its error; missing means allowed.
	tests := []struct {
		name    string
		caller  uuid.UUID
		public  bool
		missing bool
		want    map[string]error
	}{
		{name: "owner, public", caller: owner, public: true},
		{name: "owner, private", caller: owner, public: false},
		{name: "other, public", caller: other, public: true,
			want: map[string]error{"hide": wallpaper.ErrNotYours, "show": wallpaper.ErrNotYours, "delete": wallpaper.ErrNotYours}},
		{name: "other, private", caller: other, public: false,
			want: map[string]error{"see": wallpaper.ErrNotFound, "like": wallpaper.ErrNotFound, "unlike": wallpaper.ErrNotFound,
				"hide": wallpaper.ErrNotFound, "show": wallpaper.ErrNotFound, "delete": wallpaper.ErrNotFound}},
		{name: "anyone, deleted", caller: owner, public: true, missing: true,
			want: map[string]error{"see": wallpaper.ErrNotFound, "like": wallpaper.ErrNotFound, "unlike": wallpaper.ErrNotFound,
				"hide": wallpaper.ErrNotFound, "show": wallpaper.ErrNotFound, "delete": wallpaper.ErrNotFound}},
	}
	for _, tt := range tests {
		for _, o := range ops {
			t.Run(tt.name+"/"+o.name, func(t *testing.T) {
				id := e.wallpaper(t, owner, tt.public, time.Now())
				if tt.missing {
					if err := e.gallery.Delete(ctx, owner, id); err != nil {
						t.Fatal(err)
					}
				}
				err := o.do(tt.caller, id)
				want := tt.want[o.name]
				if want == nil && err != nil {
					t.Fatalf("%s: %v; want allowed", o.name, err)
				}
				if want != nil && !errors.Is(err, want) {
					t.Fatalf("%s: %v; want %v", o.name, err, want)
				}
				if want != nil && !tt.missing && !e.exists(t, id) {
					t.Fatal("a refused call deleted the wallpaper")
				}
				if o.name == "delete" && want == nil && e.exists(t, id) {
					t.Fatal("an allowed delete left the wallpaper")
				}
			})
		}
	}
}

func TestGalleryRefusedChangesChangeNothing(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	ctx := context.Background()
	owner, other := e.user(t, "o-owner"), e.user(t, "o-other")
	id := e.wallpaper(t, owner, true, time.Now())

	if _, err := e.gallery.SetPublic(ctx, other, id, false); !errors.Is(err, wallpaper.ErrNotYours) {
		t.Fatalf("SetPublic by another = %v", err)
	}
	w, err := e.gallery.Wallpaper(ctx, &owner, id)
	if err != nil || !w.Public {
		t.Fatalf("after a refused hide: %+v, %v; want still public", w, err)
	}
}

func TestGalleryLikedFlags(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	ctx := context.Background()
	owner, fan := e.user(t, "o-owner"), e.user(t, "o-fan")
	at := time.Now().Add(-time.Hour)
	liked := e.wallpaper(t, owner, true, at)
	notLiked := e.wallpaper(t, owner, true, at.Add(time.Second))
	if n, err := e.gallery.SetLike(ctx, fan, liked, true); err != nil || n != 1 {
		t.Fatalf("SetLike = %d, %v", n, err)
	}

	tests := []struct {
		name   string
		caller *uuid.UUID
		want   map[uuid.UUID]*bool
	}{
		{name: "anonymous", caller: nil, want: map[uuid.UUID]*bool{liked: nil, notLiked: nil}},
		{name: "the fan", caller: &fan, want: map[uuid.UUID]*bool{liked: ptr(true), notLiked: ptr(false)}},
		{name: "the owner", caller: &owner, want: map[uuid.UUID]*bool{liked: ptr(false), notLiked: ptr(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := e.gallery.Feed(ctx, tt.caller, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 2 || page.Next != "" {
				t.Fatalf("Feed = %d items, next %q; want 2 and no next", len(page.Items), page.Next)
			}
			for _, w := range page.Items {
				if got, want := w.Liked, tt.want[w.ID]; (got == nil) != (want == nil) || (got != nil && *got != *want) {
					t.Errorf("%s: liked = %v; want %v", w.ID, fmtBool(got), fmtBool(want))
				}
				if w.ID == liked && w.LikeCount != 1 {
					t.Errorf("like_count = %d; want 1", w.LikeCount)
				}
			}
			if tt.caller != nil {
				w, err := e.gallery.Wallpaper(ctx, tt.caller, liked)
				if err != nil || w.Liked == nil || *w.Liked != *tt.want[liked] {
					t.Errorf("Wallpaper: liked = %v, %v; want %v", fmtBool(w.Liked), err, *tt.want[liked])
				}
			}
		})
	}
}

func ptr(b bool) *bool { return &b }

func fmtBool(b *bool) string {
	if b == nil {
		return "absent"
	}
	if *b {
		return "true"
	}
	return "false"
}

func TestGalleryPaging(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	ctx := context.Background()
	alice, bob := e.user(t, "o-alice"), e.user(t, "o-bob")
	at := time.Now().Add(-time.Hour)
	for i := range 5 {
		e.wallpaper(t, alice, i != 2, at.Add(time.Duration(i)*time.Second)) // one private
		e.wallpaper(t, bob, true, at.Add(time.Duration(i)*time.Second))
	}

	walk := func(t *testing.T, page func(cursor string) (wallpaper.Page[wallpaper.Wallpaper], error)) int {
		t.Helper()
		n, cursor := 0, ""
		for range 100 {
			p, err := page(cursor)
			if err != nil {
				t.Fatal(err)
			}
			n += len(p.Items)
			if p.Next == "" {
				return n
			}
			cursor = p.Next
		}
		t.Fatal("the walk does not end")
		return 0
	}
	t.Run("feed", func(t *testing.T) {
		if n := walk(t, func(c string) (wallpaper.Page[wallpaper.Wallpaper], error) { return e.gallery.Feed(ctx, nil, c, 2) }); n != 9 {
			t.Fatalf("feed has %d items; want 9", n)
		}
	})
	t.Run("mine", func(t *testing.T) {
		if n := walk(t, func(c string) (wallpaper.Page[wallpaper.Wallpaper], error) { return e.gallery.Mine(ctx, alice, c, 2) }); n != 5 {
			t.Fatalf("alice's list has %d items; want 5", n)
		}
	})
	t.Run("an exact last page has no next", func(t *testing.T) {
		p, err := e.gallery.Mine(ctx, alice, "", 5)
		if err != nil || len(p.Items) != 5 || p.Next != "" {
			t.Fatalf("Mine(limit 5) = %d items, next %q, %v", len(p.Items), p.Next, err)
		}
	})

	first, err := e.gallery.Feed(ctx, nil, "", 2)
	if err != nil || first.Next == "" {
		t.Fatalf("Feed = %+v, %v", first, err)
	}
	mine, err := e.gallery.Mine(ctx, alice, "", 2)
	if err != nil || mine.Next == "" {
		t.Fatalf("Mine = %+v, %v", mine, err)
	}
	refusals := []struct {
		name string
		call func() error
		want error
	}{
		{"feed with a cursor of my list", func() error { _, err := e.gallery.Feed(ctx, nil, mine.Next, 2); return err }, wallpaper.ErrBadCursor},
		{"my list with a feed cursor", func() error { _, err := e.gallery.Mine(ctx, alice, first.Next, 2); return err }, wallpaper.ErrBadCursor},
		{"a tampered cursor", func() error { _, err := e.gallery.Feed(ctx, nil, "x"+first.Next[1:], 2); return err }, wallpaper.ErrBadCursor},
		{"limit 0", func() error { _, err := e.gallery.Feed(ctx, nil, "", 0); return err }, wallpaper.ErrBadLimit},
		{"limit 51", func() error { _, err := e.gallery.Mine(ctx, alice, "", 51); return err }, wallpaper.ErrBadLimit},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			// Both are invalid_request: the message tells them apart.
			err := tt.call()
			if !errors.Is(err, tt.want) || failure.From(err).Message != failure.From(tt.want).Message {
				t.Fatalf("got %v; want %v", err, tt.want)
			}
		})
	}
}
