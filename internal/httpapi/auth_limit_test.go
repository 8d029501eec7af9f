package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// fakeClock is a settable time source for the limiter.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestIPLimiter(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	l := newKeyLimiter(3, time.Minute, clk.Now)

	steps := []struct {
		name      string
		advance   time.Duration
		ip        string
		wantOK    bool
		wantWait  time.Duration // when refused
		wantTrack int           // addresses tracked afterwards
	}{
		{name: "burst 1", ip: "198.51.100.1", wantOK: true, wantTrack: 1},
		{name: "burst 2", ip: "198.51.100.1", wantOK: true, wantTrack: 1},
		{name: "burst 3", ip: "198.51.100.1", wantOK: true, wantTrack: 1},
		{name: "over the burst", ip: "198.51.100.1", wantOK: false, wantWait: 20 * time.Second, wantTrack: 1},
		{name: "another address has its own bucket", ip: "198.51.100.2", wantOK: true, wantTrack: 2},
		{name: "a refused attempt costs nothing", advance: 20 * time.Second, ip: "198.51.100.1", wantOK: true, wantTrack: 2},
		{name: "idle addresses are evicted", advance: 2 * time.Minute, ip: "198.51.100.3", wantOK: true, wantTrack: 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.Advance(st.advance)
			wait, ok := l.allow(st.ip)
			if ok != st.wantOK {
				t.Fatalf("allow = %v; want %v", ok, st.wantOK)
			}
			if !ok && (wait <= 0 || wait > st.wantWait) {
				t.Errorf("wait = %v; want (0, %v]", wait, st.wantWait)
			}
			if n := l.size(); n != st.wantTrack {
				t.Errorf("tracking %d addresses; want %d", n, st.wantTrack)
			}
		})
	}
}

// TestPerUserForgetsIdleUsers: perUser counts by the authenticated user,
// gives the time to wait, and keeps memory for the users seen in the last
// minute only, however many came before.
func TestPerUserForgetsIdleUsers(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	const perMinute = 10
	tracked := newKeyLimiter(perMinute, time.Minute, clk.Now)
	limit := limitUsers("likes", tracked)
	r := testRouter(t, nil) // the real middleware, for the error body
	r.PUT("/like/:user", func(c *gin.Context) {
		c.Set(ctxUserID, uuid.MustParse(c.Param("user")))
		c.Next()
	}, limit, func(c *gin.Context) { c.Status(http.StatusNoContent) })
	like := func(user uuid.UUID) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/like/"+user.String(), nil))
		return rec
	}

	alice := uuid.New()
	for i := range perMinute {
		if rec := like(alice); rec.Code != http.StatusNoContent {
			t.Fatalf("like %d within the burst: %d", i+1, rec.Code)
		}
	}
	rec := like(alice)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "6" {
		t.Fatalf("over the burst: %d, Retry-After %q; want 429 and 6 (one like per 6 s)", rec.Code, rec.Header().Get("Retry-After"))
	}
	if body := readErrorBody(t, rec); body.Code != "rate_limited" || !strings.Contains(body.Message, "likes") {
		t.Errorf("error body %+v, want rate_limited about likes", body)
	}
	clk.Advance(6 * time.Second)
	if rec := like(alice); rec.Code != http.StatusNoContent {
		t.Errorf("after waiting Retry-After: %d", rec.Code)
	}

	const crowd = 5000 // a hot wallpaper: likes spread over many users
	for range crowd {
		if rec := like(uuid.New()); rec.Code != http.StatusNoContent {
			t.Fatalf("a user's first like: %d", rec.Code)
		}
	}
	if tracked.size() != crowd+1 {
		t.Errorf("tracking %d users, want %d", tracked.size(), crowd+1)
	}
	clk.Advance(time.Minute)
	like(uuid.New())
	if n := tracked.size(); n != 1 {
		t.Errorf("a minute later, tracking %d users; want only the newest (idle ones evicted)", n)
	}
}
