package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// queryCounter counts the feed's statements the service sends to
// Postgres (a pgx tracer on its pool: what the database really got).
// gate, when set, runs before each feed query is sent.
type queryCounter struct {
	feed, liked atomic.Int64
	gate        func()
}

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	switch d.SQL {
	case postgres.ListSQL.FeedFirst, postgres.ListSQL.FeedAfter:
		q.feed.Add(1)
		if q.gate != nil {
			q.gate()
		}
	case postgres.ItemSQL.LikedAmong:
		q.liked.Add(1)
	}
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// feedEnv is the whole service with the feed cache at ttl, counting its
// feed queries; the workers stay stopped (what the feed shows is the
// database's state, not where the objects are).
type feedEnv struct {
	s       *apptest.Service
	queries *queryCounter
}

func newFeedEnv(t *testing.T, ttl string, vars map[string]string) *feedEnv {
	t.Helper()
	q := &queryCounter{}
	v := map[string]string{"FEED_CACHE_TTL": ttl}
	for k, val := range vars {
		v[k] = val
	}
	return &feedEnv{s: apptest.New(t, apptest.Options{Vars: v, NoWorkers: true, Tracer: q}), queries: q}
}

func (e *feedEnv) login(t *testing.T, name string) galleryUser {
	t.Helper()
	s := e.s.Login(t, name)
	return galleryUser{id: uuid.MustParse(s.User.ID), token: s.AccessToken}
}

// publish inserts a wallpaper of owner that everyone may see (public,
// approved, published), created at, and returns its id.
func (e *feedEnv) publish(t testing.TB, owner uuid.UUID, at time.Time) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := e.s.Pool.Exec(context.Background(), `INSERT INTO wallpapers
		(id, user_id, prompt, size, width, height, model, params, image_key, thumbnail_key, public, published, created_at)
		VALUES ($1, $2, 'a lake at dawn', '1024x1792', 1024, 1792, 'offline', '{}', $3, $4, true, true, $5)`,
		id, owner, wallpaper.ObjectKey(wallpaper.PublicPrefix, id, "image.jpg"),
		wallpaper.ObjectKey(wallpaper.PublicPrefix, id, "thumb.jpg"), at)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// feed GETs the first page of limit items (anonymous without a token).
func (e *feedEnv) feed(t *testing.T, limit int, opts ...apitest.Option) (httpapi.WallpaperPage, *apitest.Response) {
	t.Helper()
	res := e.s.API.For(t).Do(http.MethodGet, "/api/v1/wallpapers?limit="+strconv.Itoa(limit), nil, opts...)
	if res.Status != http.StatusOK {
		t.Fatalf("GET feed: %d %s", res.Status, res.Body)
	}
	var p httpapi.WallpaperPage
	res.JSON(t, &p)
	return p, res
}

func ids(p httpapi.WallpaperPage) []string {
	out := make([]string, 0, len(p.Items))
	for _, it := range p.Items {
		out = append(out, it.ID)
	}
	return out
}

// TestFeedCacheHides takes a wallpaper out of public view in each way the
// service has, with pages kept for a minute: each is gone from the next
// page at once, anonymous or not, and so is every wallpaper of a banned
// or deleted author, while the rest stay.
func TestFeedCacheHides(t *testing.T) {
	e := newFeedEnv(t, "1m", map[string]string{"REPORT_HOLD_THRESHOLD": "1"})
	admin := e.s.AdminToken(t, "ops")
	viewer := e.login(t, "viewer")
	bystander := e.login(t, "bystander")
	ok := func(t *testing.T, res *apitest.Response, want int) {
		t.Helper()
		if res.Status != want {
			t.Fatalf("%d %s, want %d", res.Status, res.Body, want)
		}
	}
	tests := []struct {
		name string
		hide func(t *testing.T, owner galleryUser, id uuid.UUID)
		// all: every wallpaper of the owner leaves public view.
		all bool
	}{
		{"made private", func(t *testing.T, owner galleryUser, id uuid.UUID) {
			ok(t, e.s.API.For(t).Do(http.MethodPatch, "/api/v1/wallpapers/"+id.String(), map[string]bool{"public": false}, bearer(owner)...), 200)
		}, false},
		{"deleted", func(t *testing.T, owner galleryUser, id uuid.UUID) {
			ok(t, e.s.API.For(t).Do(http.MethodDelete, "/api/v1/wallpapers/"+id.String(), nil, bearer(owner)...), 204)
		}, false},
		{"held by reports", func(t *testing.T, _ galleryUser, id uuid.UUID) {
			ok(t, e.s.API.For(t).Do(http.MethodPost, "/api/v1/wallpapers/"+id.String()+"/reports",
				map[string]string{"reason": "porn"}, bearer(viewer)...), 202)
		}, false},
		{"hidden by an admin", func(t *testing.T, _ galleryUser, id uuid.UUID) {
			ok(t, e.s.API.For(t).Do(http.MethodPost, "/api/v1/admin/wallpapers/"+id.String()+"/decision",
				map[string]string{"decision": "hide"}, apitest.Bearer(admin)), 200)
		}, false},
		{"rejected by an admin", func(t *testing.T, _ galleryUser, id uuid.UUID) {
			ok(t, e.s.API.For(t).Do(http.MethodPost, "/api/v1/admin/wallpapers/"+id.String()+"/decision",
				map[string]string{"decision": "reject"}, apitest.Bearer(admin)), 200)
		}, false},
		{"author banned", func(t *testing.T, owner galleryUser, _ uuid.UUID) {
			ok(t, e.s.API.For(t).Do(http.MethodPost, "/api/v1/admin/users/"+owner.id.String()+"/ban",
				map[string]string{"reason": "spam"}, apitest.Bearer(admin)), 200)
		}, true},
		{"account deleted", func(t *testing.T, owner galleryUser, _ uuid.UUID) {
			ok(t, e.s.API.For(t).Do(http.MethodDelete, "/api/v1/me", nil, bearer(owner)...), 204)
		}, true},
	}
	now := time.Now()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case reads its own page size: a page no other case
			// has kept, filled after its wallpapers exist.
			limit := 10 + i
			owner := e.login(t, "owner"+strconv.Itoa(i))
			at := now.Add(time.Duration(-10*i) * time.Minute)
			hidden := e.publish(t, owner.id, at)
			sibling := e.publish(t, owner.id, at.Add(-time.Minute))
			other := e.publish(t, bystander.id, at.Add(-2*time.Minute))
			for _, who := range [][]apitest.Option{nil, bearer(viewer)} {
				p, _ := e.feed(t, limit, who...)
				for _, id := range []uuid.UUID{hidden, sibling, other} {
					if !slices.Contains(ids(p), id.String()) {
						t.Fatalf("before: %s not on the page %v", id, ids(p))
					}
				}
			}
			// The page is kept: the database alone changing does not show.
			fills := e.queries.feed.Load()
			e.feed(t, limit)
			if got := e.queries.feed.Load(); got != fills {
				t.Fatalf("the page was read again within the TTL (%d feed queries, want %d)", got, fills)
			}

			tt.hide(t, owner, hidden)

			for _, who := range [][]apitest.Option{nil, bearer(viewer)} {
				p, _ := e.feed(t, limit, who...)
				got := ids(p)
				if slices.Contains(got, hidden.String()) {
					t.Errorf("the hidden wallpaper is still on the page (token: %v)", who != nil)
				}
				if on := slices.Contains(got, sibling.String()); on != !tt.all {
					t.Errorf("the owner's other wallpaper on the page: %v, want %v (token: %v)", on, !tt.all, who != nil)
				}
				if !slices.Contains(got, other.String()) {
					t.Errorf("someone else's wallpaper left the page (token: %v)", who != nil)
				}
			}
		})
	}
}

// TestFeedCacheOtherReplicas: a second replica on the same database keeps
// its page until the TTL (nothing tells it), then shows the change; a new
// wallpaper appears within the TTL too.
func TestFeedCacheOtherReplicas(t *testing.T) {
	e := newFeedEnv(t, "1s", nil)
	other := apptest.New(t, apptest.Options{DatabaseURL: e.s.Config.DatabaseURL.Reveal(), NoWorkers: true,
		Vars: map[string]string{"FEED_CACHE_TTL": "1s"}})
	owner := e.login(t, "owner")
	first := e.publish(t, owner.id, time.Now().Add(-time.Hour))
	shows := func(s *apptest.Service, id uuid.UUID) bool {
		res := s.API.For(t).Do(http.MethodGet, "/api/v1/wallpapers", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET feed: %d %s", res.Status, res.Body)
		}
		var p httpapi.WallpaperPage
		res.JSON(t, &p)
		return slices.Contains(ids(p), id.String())
	}
	apptest.WaitFor(t, 30*time.Second, "the wallpaper on the other replica", func() bool { return shows(other, first) })
	if res := e.s.API.Do(http.MethodPatch, "/api/v1/wallpapers/"+first.String(), map[string]bool{"public": false}, bearer(owner)...); res.Status != 200 {
		t.Fatalf("making it private: %d %s", res.Status, res.Body)
	}
	if shows(e.s, first) {
		t.Error("the replica that hid it still shows it")
	}
	apptest.WaitFor(t, 30*time.Second, "the hidden wallpaper to leave the other replica's page", func() bool { return !shows(other, first) })

	second := e.publish(t, owner.id, time.Now())
	for _, s := range []*apptest.Service{e.s, other} {
		apptest.WaitFor(t, 30*time.Second, "a new wallpaper on every replica", func() bool { return shows(s, second) })
	}
}

// TestFeedCacheWithToken: the caller's page is the kept public page plus
// one look-up of its ids' liked flags, and their own items' review state.
func TestFeedCacheWithToken(t *testing.T) {
	e := newFeedEnv(t, "1m", nil)
	alice, bob := e.login(t, "alice"), e.login(t, "bob")
	now := time.Now()
	mine := e.publish(t, alice.id, now.Add(-time.Minute))
	liked := e.publish(t, bob.id, now.Add(-2*time.Minute))
	plain := e.publish(t, bob.id, now.Add(-3*time.Minute))
	if res := e.s.API.Do(http.MethodPut, "/api/v1/wallpapers/"+liked.String()+"/like", nil, bearer(alice)...); res.Status != 200 {
		t.Fatalf("like: %d %s", res.Status, res.Body)
	}
	anon, _ := e.feed(t, 20)
	if e.queries.feed.Load() != 1 {
		t.Fatalf("%d feed queries for the first page, want 1", e.queries.feed.Load())
	}
	likedBefore := e.queries.liked.Load()
	p, res := e.feed(t, 20, bearer(alice)...)
	if got := e.queries.feed.Load(); got != 1 {
		t.Errorf("the page with a token read the feed again (%d feed queries, want 1)", got)
	}
	if got := e.queries.liked.Load() - likedBefore; got != 1 {
		t.Errorf("%d liked-flag look-ups for one page, want 1", got)
	}
	if !slices.Equal(ids(p), ids(anon)) {
		t.Errorf("items %v, want the public page's %v", ids(p), ids(anon))
	}
	want := map[string]struct {
		liked  bool
		review string
	}{mine.String(): {false, "approved"}, liked.String(): {true, ""}, plain.String(): {false, ""}}
	for _, it := range p.Items {
		w := want[it.ID]
		if it.Liked == nil || *it.Liked != w.liked || it.Review != w.review {
			t.Errorf("item %s: liked %v, review %q; want %v, %q", it.ID, it.Liked, it.Review, w.liked, w.review)
		}
	}
	for _, it := range anon.Items {
		if it.Liked != nil || it.Review != "" {
			t.Errorf("anonymous item %s carries liked %v or review %q", it.ID, it.Liked, it.Review)
		}
	}
	if cc := res.Header.Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("Cache-Control with a token: %q, want private, no-cache", cc)
	}
}

// TestFeedCacheSingleFlight: concurrent requests for a page nobody has
// kept read it once; the first query is held until all of them are in.
func TestFeedCacheSingleFlight(t *testing.T) {
	const n = 12
	e := newFeedEnv(t, "1m", nil)
	owner := e.login(t, "owner")
	e.publish(t, owner.id, time.Now())
	var entered atomic.Int64
	var once sync.Once
	e.queries.gate = func() {
		once.Do(func() {
			// Poll, not WaitFor: this runs on a request's goroutine. Past
			// the deadline the count below tells what happened.
			for deadline := time.Now().Add(30 * time.Second); entered.Load() < n && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			entered.Add(1)
			res := e.s.API.Do(http.MethodGet, "/api/v1/wallpapers", nil)
			statuses[i] = res.Status
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("request %d: %d", i, st)
		}
	}
	if got := e.queries.feed.Load(); got != 1 {
		t.Errorf("%d concurrent requests sent %d feed queries, want 1", n, got)
	}
	if fills := e.s.Metric(t, `wallpaperd_feed_cache_requests_total{result="fill"}`); fills != 1 {
		t.Errorf("metric: %v fills, want 1", fills)
	}
}

// TestFeedCacheOff: FEED_CACHE_TTL=0 reads every page.
func TestFeedCacheOff(t *testing.T) {
	e := newFeedEnv(t, "0", nil)
	owner := e.login(t, "owner")
	e.publish(t, owner.id, time.Now())
	var res *apitest.Response
	for range 3 {
		_, res = e.feed(t, 20)
	}
	if got := e.queries.feed.Load(); got != 3 {
		t.Errorf("3 requests with the cache off sent %d feed queries, want 3", got)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control with the cache off: %q, want no-cache", cc)
	}
}

// TestGalleryHTTPCaching: feed pages and details carry an ETag that
// If-None-Match turns into a bodiless 304, and say who may keep them.
func TestGalleryHTTPCaching(t *testing.T) {
	e := newFeedEnv(t, "1m", nil)
	alice, bob := e.login(t, "alice"), e.login(t, "bob")
	id := e.publish(t, alice.id, time.Now())
	get := func(t *testing.T, path string, opts ...apitest.Option) *apitest.Response {
		t.Helper()
		return e.s.API.For(t).Do(http.MethodGet, path, nil, opts...)
	}
	check := func(t *testing.T, res *apitest.Response, status int, cacheControl string) {
		t.Helper()
		if res.Status != status {
			t.Fatalf("status %d %s, want %d", res.Status, res.Body, status)
		}
		if got := res.Header.Get("Cache-Control"); got != cacheControl {
			t.Errorf("Cache-Control %q, want %q", got, cacheControl)
		}
		if !slices.Contains(res.Header.Values("Vary"), "Authorization") {
			t.Errorf("Vary %q, want Authorization among them", res.Header.Values("Vary"))
		}
		if res.Header.Get("ETag") == "" {
			t.Error("no ETag")
		}
		if status == http.StatusNotModified && len(res.Body) != 0 {
			t.Errorf("a 304 with a body: %s", res.Body)
		}
	}
	for _, tt := range []struct {
		name, path   string
		token        string
		cacheControl string
	}{
		{"anonymous feed", "/api/v1/wallpapers", "", "public, max-age=60"},
		{"feed with a token", "/api/v1/wallpapers", bob.token, "private, no-cache"},
		{"anonymous detail", "/api/v1/wallpapers/" + id.String(), "", "no-cache"},
		{"detail with a token", "/api/v1/wallpapers/" + id.String(), bob.token, "private, no-cache"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var auth []apitest.Option
			if tt.token != "" {
				auth = append(auth, apitest.Bearer(tt.token))
			}
			first := get(t, tt.path, auth...)
			check(t, first, http.StatusOK, tt.cacheControl)
			tag := first.Header.Get("ETag")
			for _, inm := range []string{tag, "W/" + tag, `"something else", ` + tag, "*"} {
				res := get(t, tt.path, append(auth, apitest.Header("If-None-Match", inm))...)
				check(t, res, http.StatusNotModified, tt.cacheControl)
				if got := res.Header.Get("ETag"); got != tag {
					t.Errorf("If-None-Match %s: ETag %s, want %s", inm, got, tag)
				}
			}
			res := get(t, tt.path, append(auth, apitest.Header("If-None-Match", `"something else"`))...)
			check(t, res, http.StatusOK, tt.cacheControl)
			if string(res.Body) != string(first.Body) || res.Header.Get("ETag") != tag {
				t.Error("the same answer twice has another body or ETag")
			}
		})
	}
	t.Run("answers that depend on the caller stay the caller's", func(t *testing.T) {
		for _, path := range []string{"/api/v1/me", "/api/v1/me/wallpapers", "/api/v1/me/generations", "/api/v1/wallpapers"} {
			res := get(t, path, apitest.Bearer(bob.token))
			if res.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
			}
			if got := res.Header.Get("Cache-Control"); got != "private, no-cache" {
				t.Errorf("GET %s with a token: Cache-Control %q, want private, no-cache", path, got)
			}
			if n := strings.Count(strings.Join(res.Header.Values("Vary"), ","), "Authorization"); n != 1 {
				t.Errorf("GET %s with a token: Vary %q, want Authorization once", path, res.Header.Values("Vary"))
			}
		}
		// The token endpoints' answers are never stored.
		login := e.s.API.For(t).Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": "dev-carol"})
		if login.Status != http.StatusOK || login.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("login: %d, Cache-Control %q, want 200 and no-store", login.Status, login.Header.Get("Cache-Control"))
		}
		var session httpapi.Session
		login.JSON(t, &session)
		refresh := e.s.API.For(t).Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": session.RefreshToken})
		if refresh.Status != http.StatusOK || refresh.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("refresh: %d %s, Cache-Control %q, want 200 and no-store", refresh.Status, refresh.Body, refresh.Header.Get("Cache-Control"))
		}
	})
	t.Run("a changed answer has a new ETag", func(t *testing.T) {
		path := "/api/v1/wallpapers/" + id.String()
		before := get(t, path, apitest.Bearer(bob.token))
		if res := e.s.API.Do(http.MethodPut, path+"/like", nil, apitest.Bearer(bob.token)); res.Status != http.StatusOK {
			t.Fatalf("like: %d %s", res.Status, res.Body)
		}
		after := get(t, path, apitest.Bearer(bob.token), apitest.Header("If-None-Match", before.Header.Get("ETag")))
		check(t, after, http.StatusOK, "private, no-cache")
		if after.Header.Get("ETag") == before.Header.Get("ETag") {
			t.Error("the ETag stayed when the like count and flag changed")
		}
	})
}
