package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// galleryEnv is the whole service (apptest) for the gallery tests: dev
// login, a real S3 server (versitygw), and the workers running the
// object-deletion jobs.
type galleryEnv struct {
	api     *apitest.Client
	pool    *pgxpool.Pool
	objects *storage.S3
}

func newGalleryEnv(t *testing.T) *galleryEnv {
	t.Helper()
	s := apptest.New(t, apptest.Options{S3: true, Vars: map[string]string{"WORKERS": "2"}})
	objects, err := storage.NewS3(context.Background(), s.S3.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &galleryEnv{api: s.API, pool: s.Pool, objects: objects}
}

// galleryUser is a logged-in user.
type galleryUser struct {
	id    uuid.UUID
	token string
}

func (e *galleryEnv) login(t *testing.T, name string) galleryUser {
	t.Helper()
	res := e.api.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": "dev-" + name})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", name, res.Status, res.Body)
	}
	var s httpapi.Session
	res.JSON(t, &s)
	return galleryUser{id: uuid.MustParse(s.User.ID), token: s.AccessToken}
}

// wallpaper stores an image and a thumbnail in S3 and inserts the
// wallpaper referring to them, created at; it returns the id.
func (e *galleryEnv) wallpaper(t *testing.T, owner uuid.UUID, public bool, at time.Time) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	// Settled: a public one approved and published, a private one under
	// the private prefix.
	place := wallpaper.PrivatePrefix
	if public {
		place = wallpaper.PublicPrefix
	}
	image, thumb := wallpaper.ObjectKey(place, id, "image.jpg"), wallpaper.ObjectKey(place, id, "thumb.jpg")
	for _, k := range []string{image, thumb} {
		if err := e.objects.Put(ctx, k, []byte("not really an image: "+k), "image/png"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.pool.Exec(ctx, `INSERT INTO wallpapers
		(id, user_id, prompt, size, width, height, model, params, image_key, thumbnail_key, public, published, created_at)
		VALUES ($1, $2, 'a lake at dawn', '1024x1792', 1024, 1536, 'gpt-image-1', '{"quality": "high"}', $3, $4, $5, $5, $6)`,
		id, owner, image, thumb, public, at)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// stored says whether key is in the bucket.
func (e *galleryEnv) stored(t *testing.T, key string) bool {
	t.Helper()
	r, err := e.objects.Open(context.Background(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("opening %s: %v", key, err)
	}
	r.Close()
	return true
}

func bearer(u galleryUser) []apitest.Option { return []apitest.Option{apitest.Bearer(u.token)} }

// page GETs a wallpaper listing and decodes it, keeping each item's raw
// JSON too (to tell an absent liked from a false one).
func (e *galleryEnv) page(t *testing.T, path string, opts ...apitest.Option) (httpapi.WallpaperPage, []map[string]json.RawMessage) {
	t.Helper()
	res := e.api.Do(http.MethodGet, path, nil, opts...)
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
	}
	var p httpapi.WallpaperPage
	res.JSON(t, &p)
	var raw struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	res.JSON(t, &raw)
	return p, raw.Items
}

func TestGalleryFeedLikedAndPaging(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	alice, bob := e.login(t, "alice"), e.login(t, "bob")
	at := time.Now().Add(-time.Hour)
	var public []uuid.UUID
	for i := range 5 {
		public = append(public, e.wallpaper(t, alice.id, i != 3, at.Add(time.Duration(i)*time.Second)))
	}
	hidden := public[3]
	if res := e.api.Do(http.MethodPut, "/api/v1/wallpapers/"+public[4].String()+"/like", nil, bearer(bob)...); res.Status != http.StatusOK {
		t.Fatalf("like: %d %s", res.Status, res.Body)
	}

	t.Run("without a token no item says liked", func(t *testing.T) {
		p, raw := e.page(t, "/api/v1/wallpapers")
		if len(p.Items) != 4 || p.NextCursor != nil {
			t.Fatalf("feed: %d items, next %v; want 4 and none", len(p.Items), p.NextCursor)
		}
		for i, item := range raw {
			if _, ok := item["liked"]; ok {
				t.Errorf("anonymous feed item %d has liked", i)
			}
		}
		if p.Items[0].ID != public[4].String() || p.Items[0].LikeCount != 1 || p.Items[0].Author.ID != alice.id.String() {
			t.Errorf("first item = %+v", p.Items[0])
		}
		for _, w := range p.Items {
			if w.ID == hidden.String() {
				t.Error("a private wallpaper in the feed")
			}
			if !strings.HasPrefix(w.ImageURL, "http") || !strings.Contains(w.ThumbnailURL, "X-Amz-Signature") {
				t.Errorf("image URLs %q, %q are not presigned S3 URLs", w.ImageURL, w.ThumbnailURL)
			}
		}
	})
	t.Run("with a token each item says whether the caller likes it", func(t *testing.T) {
		p, _ := e.page(t, "/api/v1/wallpapers", bearer(bob)...)
		for _, w := range p.Items {
			if w.Liked == nil || *w.Liked != (w.ID == public[4].String()) {
				t.Errorf("%s: liked = %v", w.ID, w.Liked)
			}
		}
	})
	t.Run("an invalid token is refused even where none is needed", func(t *testing.T) {
		wantError(t, e.api.Do(http.MethodGet, "/api/v1/wallpapers", nil, apitest.Bearer("nope")), http.StatusUnauthorized, "unauthorized")
	})
	t.Run("paging by 1 visits each public wallpaper once", func(t *testing.T) {
		var seen []string
		path := "/api/v1/wallpapers?limit=1"
		for range 10 {
			p, _ := e.page(t, path)
			for _, w := range p.Items {
				seen = append(seen, w.ID)
			}
			if p.NextCursor == nil {
				break
			}
			path = "/api/v1/wallpapers?limit=1&cursor=" + *p.NextCursor
		}
		want := []string{public[4].String(), public[2].String(), public[1].String(), public[0].String()}
		if strings.Join(seen, ",") != strings.Join(want, ",") {
			t.Fatalf("pages gave %v; want %v", seen, want)
		}
	})

	first, _ := e.page(t, "/api/v1/wallpapers?limit=2")
	mine, _ := e.page(t, "/api/v1/me/wallpapers?limit=2", bearer(alice)...)
	if first.NextCursor == nil || mine.NextCursor == nil {
		t.Fatal("no next cursor on a full page")
	}
	cursor := *first.NextCursor
	flipped := []byte(cursor)
	flipped[10] ^= 1
	refusals := []struct {
		name string
		path string
		opts []apitest.Option
	}{
		{"a tampered cursor", "/api/v1/wallpapers?cursor=" + string(flipped), nil},
		{"a truncated cursor", "/api/v1/wallpapers?cursor=" + cursor[:len(cursor)-2], nil},
		{"a cursor of my list on the feed", "/api/v1/wallpapers?cursor=" + *mine.NextCursor, nil},
		{"a feed cursor on my list", "/api/v1/me/wallpapers?cursor=" + cursor, bearer(alice)},
		{"limit 0", "/api/v1/wallpapers?limit=0", nil},
		{"limit 51", "/api/v1/wallpapers?limit=51", nil},
		{"limit abc", "/api/v1/wallpapers?limit=abc", nil},
		{"limit empty", "/api/v1/wallpapers?limit=", nil},
		{"limit 51 on my list", "/api/v1/me/wallpapers?limit=51", bearer(alice)},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.api.Do(http.MethodGet, tt.path, nil, append(tt.opts, apitest.SkipRequestValidation)...),
				http.StatusBadRequest, "invalid_request")
		})
	}
}

func TestGalleryMyWallpapers(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	alice, bob := e.login(t, "alice"), e.login(t, "bob")
	at := time.Now().Add(-time.Hour)
	mine := map[string]bool{
		e.wallpaper(t, alice.id, true, at).String():                   true,
		e.wallpaper(t, alice.id, false, at.Add(time.Second)).String(): false,
	}
	e.wallpaper(t, bob.id, true, at.Add(2*time.Second))

	wantError(t, e.api.Do(http.MethodGet, "/api/v1/me/wallpapers", nil), http.StatusUnauthorized, "unauthorized")
	p, _ := e.page(t, "/api/v1/me/wallpapers", bearer(alice)...)
	if len(p.Items) != 2 {
		t.Fatalf("alice's list has %d items; want 2 (private ones too)", len(p.Items))
	}
	for _, w := range p.Items {
		public, ok := mine[w.ID]
		if !ok || w.Public != public || w.Author.ID != alice.id.String() || w.Liked == nil {
			t.Errorf("alice's list holds %+v", w)
		}
	}
	if p, _ := e.page(t, "/api/v1/me/wallpapers", bearer(bob)...); len(p.Items) != 1 {
		t.Fatalf("bob's list has %d items; want 1", len(p.Items))
	}
}

// TestGalleryOwnership sends every endpoint about one wallpaper as the
// owner, as someone else and without a token, for a public, a private, a
// deleted and a malformed id.
func TestGalleryOwnership(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	owner, other := e.login(t, "owner"), e.login(t, "other")
	nobody := galleryUser{}

	type call struct {
		method, suffix string
		body           any
	}
	calls := map[string]call{
		"detail": {http.MethodGet, "", nil},
		"hide":   {http.MethodPatch, "", map[string]bool{"public": false}},
		"delete": {http.MethodDelete, "", nil},
		"like":   {http.MethodPut, "/like", nil},
		"unlike": {http.MethodDelete, "/like", nil},
	}
	const (
		public    = "public"
		private   = "private"
		deleted   = "deleted"
		unknown   = "unknown"
		malformed = "malformed"
	)
	type ownershipCase struct {
		who    string
		caller galleryUser
		what   string
		call   string
		status int
		code   string // "" for a success
	}
	var tests []ownershipCase
	for name := range calls {
		if name != "detail" {
			tests = append(tests, ownershipCase{"nobody", nobody, public, name, 401, "unauthorized"})
		}
		tests = append(tests,
			ownershipCase{"other", other, private, name, 404, "not_found"},
			ownershipCase{"owner", owner, deleted, name, 404, "not_found"},
			ownershipCase{"owner", owner, unknown, name, 404, "not_found"},
			ownershipCase{"owner", owner, malformed, name, 400, "invalid_request"},
		)
	}
	// Anyone may see a visible wallpaper without logging in (a shared link),
	// nothing else.
	tests = append(tests,
		ownershipCase{"nobody", nobody, public, "detail", 200, ""},
		ownershipCase{"nobody", nobody, private, "detail", 404, "not_found"})
	// Another user's public wallpaper: visible and likeable, not theirs to
	// change. The owner may do everything, with their private one too.
	for name, st := range map[string]int{"detail": 200, "like": 200, "unlike": 200, "hide": 403, "delete": 403} {
		code := ""
		if st == 403 {
			code = "forbidden"
		}
		tests = append(tests, ownershipCase{"other", other, public, name, st, code})
	}
	for name, st := range map[string]int{"detail": 200, "like": 200, "unlike": 200, "hide": 200, "delete": 204} {
		for _, what := range []string{public, private} {
			tests = append(tests, ownershipCase{"owner", owner, what, name, st, ""})
		}
	}

	for _, tt := range tests {
		t.Run(tt.who+"/"+tt.what+"/"+tt.call, func(t *testing.T) {
			var id string
			switch tt.what {
			case public, private:
				id = e.wallpaper(t, owner.id, tt.what == public, time.Now()).String()
			case deleted:
				id = e.wallpaper(t, owner.id, true, time.Now()).String()
				if res := e.api.Do(http.MethodDelete, "/api/v1/wallpapers/"+id, nil, bearer(owner)...); res.Status != http.StatusNoContent {
					t.Fatalf("delete: %d %s", res.Status, res.Body)
				}
			case unknown:
				id = uuid.New().String()
			case malformed:
				id = "not-a-uuid"
			}
			c := calls[tt.call]
			opts := []apitest.Option{apitest.SkipRequestValidation}
			if tt.caller.token != "" {
				opts = append(opts, apitest.Bearer(tt.caller.token))
			}
			res := e.api.Do(c.method, "/api/v1/wallpapers/"+id+c.suffix, c.body, opts...)
			if tt.code != "" {
				wantError(t, res, tt.status, tt.code)
			} else if res.Status != tt.status {
				t.Fatalf("got %d %s; want %d", res.Status, res.Body, tt.status)
			}
			if tt.what != public && tt.what != private {
				return
			}
			// Whatever was refused changed nothing.
			var exists, isPublic bool
			err := e.pool.QueryRow(context.Background(), `SELECT true, public FROM wallpapers WHERE id = $1`, id).Scan(&exists, &isPublic)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				t.Fatal(err)
			}
			if tt.status >= 400 && (!exists || isPublic != (tt.what == public)) {
				t.Fatalf("a refused %s left exists=%v public=%v", tt.call, exists, isPublic)
			}
		})
	}
}

func TestGalleryDetailAndVisibility(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	owner, other := e.login(t, "owner"), e.login(t, "other")
	id := e.wallpaper(t, owner.id, true, time.Now()).String()

	res := e.api.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, bearer(other)...)
	if res.Status != http.StatusOK {
		t.Fatalf("detail: %d %s", res.Status, res.Body)
	}
	var w httpapi.Wallpaper
	res.JSON(t, &w)
	if w.ID != id || w.Params["quality"] != "high" || w.Model != "gpt-image-1" || w.Width != 1024 || w.Height != 1536 ||
		w.Liked == nil || *w.Liked || w.Author.ID != owner.id.String() {
		t.Fatalf("detail = %+v", w)
	}
	// The presigned URL really serves the image from S3.
	img, err := http.Get(w.ImageURL)
	if err != nil {
		t.Fatal(err)
	}
	img.Body.Close()
	if img.StatusCode != http.StatusOK {
		t.Fatalf("GET image_url: %d", img.StatusCode)
	}

	// Hidden by the owner: gone from the feed and from everyone else.
	res = e.api.Do(http.MethodPatch, "/api/v1/wallpapers/"+id, map[string]bool{"public": false}, bearer(owner)...)
	if res.Status != http.StatusOK {
		t.Fatalf("hide: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &w)
	if w.Public {
		t.Fatal("PATCH answered public")
	}
	if p, _ := e.page(t, "/api/v1/wallpapers"); len(p.Items) != 0 {
		t.Fatalf("a hidden wallpaper is in the feed: %+v", p.Items)
	}
	wantError(t, e.api.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, bearer(other)...), http.StatusNotFound, "not_found")
	if res := e.api.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, bearer(owner)...); res.Status != http.StatusOK {
		t.Fatalf("the owner's detail of a hidden wallpaper: %d", res.Status)
	}

	bad := []struct {
		name string
		body any
	}{
		{"no public", map[string]any{}},
		{"public not a bool", map[string]any{"public": "yes"}},
		{"an unknown field", map[string]any{"public": true, "prompt": "x"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.api.Do(http.MethodPatch, "/api/v1/wallpapers/"+id, tt.body, apitest.SkipRequestValidation, apitest.Bearer(owner.token)),
				http.StatusBadRequest, "invalid_request")
		})
	}
	res = e.api.Do(http.MethodPatch, "/api/v1/wallpapers/"+id, map[string]bool{"public": true}, bearer(owner)...)
	if res.Status != http.StatusOK {
		t.Fatalf("show: %d %s", res.Status, res.Body)
	}
	// Shown again once its objects are back under the public prefix (the
	// storage sync copies them before the state counts as visible).
	apptest.WaitFor(t, 60*time.Second, "the wallpaper to be in the feed again", func() bool {
		p, _ := e.page(t, "/api/v1/wallpapers")
		return len(p.Items) == 1
	})
}

func TestGalleryLikesAreIdempotent(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	owner, fan, other := e.login(t, "owner"), e.login(t, "fan"), e.login(t, "other")
	id := e.wallpaper(t, owner.id, true, time.Now()).String()
	path := "/api/v1/wallpapers/" + id + "/like"

	steps := []struct {
		name   string
		method string
		who    galleryUser
		want   httpapi.LikeState
	}{
		{"like", http.MethodPut, fan, httpapi.LikeState{Liked: true, LikeCount: 1}},
		{"like again", http.MethodPut, fan, httpapi.LikeState{Liked: true, LikeCount: 1}},
		{"another likes", http.MethodPut, other, httpapi.LikeState{Liked: true, LikeCount: 2}},
		{"unlike", http.MethodDelete, fan, httpapi.LikeState{Liked: false, LikeCount: 1}},
		{"unlike again", http.MethodDelete, fan, httpapi.LikeState{Liked: false, LikeCount: 1}},
		{"the owner likes their own", http.MethodPut, owner, httpapi.LikeState{Liked: true, LikeCount: 2}},
	}
	for _, s := range steps {
		res := e.api.Do(s.method, path, nil, bearer(s.who)...)
		if res.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", s.name, res.Status, res.Body)
		}
		var got httpapi.LikeState
		res.JSON(t, &got)
		if got != s.want {
			t.Fatalf("%s: %+v; want %+v", s.name, got, s.want)
		}
	}
	var w httpapi.Wallpaper
	e.api.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, bearer(other)...).JSON(t, &w)
	if w.LikeCount != 2 || w.Liked == nil || !*w.Liked {
		t.Fatalf("detail after the likes: like_count %d, liked %v", w.LikeCount, w.Liked)
	}
}

func TestGalleryDeleteRemovesObjects(t *testing.T) {
	t.Parallel()
	e := newGalleryEnv(t)
	owner, fan := e.login(t, "owner"), e.login(t, "fan")
	id := e.wallpaper(t, owner.id, true, time.Now())
	kept := e.wallpaper(t, owner.id, true, time.Now())
	keys := []string{wallpaper.ObjectKey(wallpaper.PublicPrefix, id, "image.jpg"), wallpaper.ObjectKey(wallpaper.PublicPrefix, id, "thumb.jpg")}
	for _, k := range keys {
		if !e.stored(t, k) {
			t.Fatalf("%s not stored before the delete", k)
		}
	}
	if res := e.api.Do(http.MethodPut, "/api/v1/wallpapers/"+id.String()+"/like", nil, bearer(fan)...); res.Status != http.StatusOK {
		t.Fatalf("like: %d", res.Status)
	}

	wantError(t, e.api.Do(http.MethodDelete, "/api/v1/wallpapers/"+id.String(), nil, bearer(fan)...), http.StatusForbidden, "forbidden")
	res := e.api.Do(http.MethodDelete, "/api/v1/wallpapers/"+id.String(), nil, bearer(owner)...)
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	wantError(t, e.api.Do(http.MethodGet, "/api/v1/wallpapers/"+id.String(), nil, bearer(owner)...), http.StatusNotFound, "not_found")
	wantError(t, e.api.Do(http.MethodDelete, "/api/v1/wallpapers/"+id.String(), nil, bearer(owner)...), http.StatusNotFound, "not_found")
	if p, _ := e.page(t, "/api/v1/wallpapers"); len(p.Items) != 1 || p.Items[0].ID != kept.String() {
		t.Fatalf("feed after the delete: %+v", p.Items)
	}

	// The objects leave storage once the job has run: bounded polling,
	// generous because the machine may be busy.
	deadline := time.Now().Add(60 * time.Second)
	for _, k := range keys {
		for e.stored(t, k) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still stored 60 s after the delete", k)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, k := range []string{wallpaper.ObjectKey(wallpaper.PublicPrefix, kept, "image.jpg"), wallpaper.ObjectKey(wallpaper.PublicPrefix, kept, "thumb.jpg")} {
		if !e.stored(t, k) {
			t.Fatalf("%s of another wallpaper was removed", k)
		}
	}
}
