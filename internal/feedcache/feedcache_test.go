package feedcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// source is a fake feed: pages of the given wallpapers, counting fills.
type source struct {
	fills atomic.Int64
	items []wallpaper.Wallpaper
	next  string
}

func (s *source) fill(context.Context) (*Page, error) {
	n := s.fills.Add(1)
	return &Page{
		Feed: wallpaper.Page[wallpaper.Wallpaper]{Items: s.items, Next: s.next},
		Body: []byte(`{"fill":` + string(rune('0'+n%10)) + `}`),
	}, nil
}

func item(author uuid.UUID) wallpaper.Wallpaper {
	return wallpaper.Wallpaper{ID: uuid.New(), Author: wallpaper.Author{ID: author}}
}

func get(t *testing.T, c *Cache, k Key, fill Fill) *Page {
	t.Helper()
	p, err := c.Get(context.Background(), k, fill)
	if err != nil {
		t.Fatalf("Get %+v: %v", k, err)
	}
	return p
}

func TestSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Config{TTL: time.Second})
		release := make(chan struct{})
		src := &source{items: []wallpaper.Wallpaper{item(uuid.New())}}
		slow := func(ctx context.Context) (*Page, error) {
			<-release
			return src.fill(ctx)
		}
		const n = 16
		pages := make([]*Page, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { pages[i] = get(t, c, Key{Limit: 20}, slow) })
		}
		synctest.Wait() // every caller is in Get: one filling, the others waiting for it
		close(release)
		wg.Wait()
		if got := src.fills.Load(); got != 1 {
			t.Errorf("%d concurrent misses filled %d times, want once", n, got)
		}
		for i, p := range pages {
			if p != pages[0] {
				t.Errorf("caller %d got another page than caller 0", i)
			}
		}
		if s := c.Stats(); s.Fills != 1 || s.Waits != n-1 || s.Hits != 0 {
			t.Errorf("stats %+v, want 1 fill and %d waits", s, n-1)
		}
		get(t, c, Key{Limit: 20}, src.fill)
		if s := c.Stats(); s.Hits != 1 || src.fills.Load() != 1 {
			t.Errorf("a Get after the fill: stats %+v, fills %d; want a hit", s, src.fills.Load())
		}
	})
}

func TestTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Config{TTL: 2 * time.Second})
		src := &source{}
		first := get(t, c, Key{Limit: 20}, src.fill)
		time.Sleep(2*time.Second - time.Millisecond)
		if p := get(t, c, Key{Limit: 20}, src.fill); p != first || src.fills.Load() != 1 {
			t.Fatalf("within the TTL: %d fills, want the kept page", src.fills.Load())
		}
		time.Sleep(time.Millisecond)
		if p := get(t, c, Key{Limit: 20}, src.fill); p == first || src.fills.Load() != 2 {
			t.Fatalf("after the TTL: %d fills, want a new page", src.fills.Load())
		}
	})
}

func TestOff(t *testing.T) {
	for _, c := range []*Cache{New(Config{}), nil} {
		src := &source{}
		for range 3 {
			get(t, c, Key{Limit: 20}, src.fill)
		}
		if got := src.fills.Load(); got != 3 {
			t.Errorf("TTL 0: 3 Gets filled %d times, want 3", got)
		}
		if s := c.Stats(); s != (Stats{}) {
			t.Errorf("TTL 0: stats %+v, want none", s)
		}
		c.Hide([]uuid.UUID{uuid.New()}, nil) // nothing to drop, nothing breaks
	}
}

func TestHide(t *testing.T) {
	alice, bob := uuid.New(), uuid.New()
	a1, a2, b1 := item(alice), item(alice), item(bob)
	tests := []struct {
		name               string
		wallpapers, author []uuid.UUID
		dropped            []string
	}{
		{"a wallpaper", []uuid.UUID{a1.ID}, nil, []string{"alice and bob"}},
		{"another wallpaper", []uuid.UUID{a2.ID}, nil, []string{"alice"}},
		{"an author", nil, []uuid.UUID{alice}, []string{"alice", "alice and bob"}},
		{"someone else", []uuid.UUID{uuid.New()}, []uuid.UUID{uuid.New()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{TTL: time.Hour})
			pages := map[string]*source{
				"alice":         {items: []wallpaper.Wallpaper{a2}},
				"alice and bob": {items: []wallpaper.Wallpaper{b1, a1}},
				"bob":           {items: []wallpaper.Wallpaper{b1}},
			}
			keys := map[string]Key{"alice": {Limit: 1}, "alice and bob": {Limit: 2}, "bob": {Limit: 3}}
			for name, src := range pages {
				get(t, c, keys[name], src.fill)
			}
			c.Hide(tt.wallpapers, tt.author)
			for name, src := range pages {
				get(t, c, keys[name], src.fill)
				want := int64(1)
				for _, d := range tt.dropped {
					if d == name {
						want = 2
					}
				}
				if got := src.fills.Load(); got != want {
					t.Errorf("page %q filled %d times, want %d", name, got, want)
				}
			}
		})
	}
}

// A fill under way when a wallpaper is hidden may have read it: its page
// is not kept, and callers after the change do not wait for it.
func TestHideDuringFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Config{TTL: time.Hour})
		src := &source{}
		release := make(chan struct{})
		slow := func(ctx context.Context) (*Page, error) {
			<-release
			return src.fill(ctx)
		}
		var wg sync.WaitGroup
		wg.Go(func() { get(t, c, Key{Limit: 20}, slow) })
		synctest.Wait()
		c.Hide([]uuid.UUID{uuid.New()}, nil)
		after := get(t, c, Key{Limit: 20}, src.fill) // its own fill, not the one under way
		if got := src.fills.Load(); got != 1 {
			t.Fatalf("a Get after the change waited for the fill before it (%d fills)", got)
		}
		close(release)
		wg.Wait()
		if p := get(t, c, Key{Limit: 20}, src.fill); p != after || src.fills.Load() != 2 {
			t.Errorf("%d fills; the page kept is not the one filled after the change", src.fills.Load())
		}
	})
}

func TestDepth(t *testing.T) {
	c := New(Config{TTL: time.Hour, Pages: 2})
	first := &source{next: "page-2"}
	second := &source{next: "page-3"}
	third := &source{}
	for range 2 {
		get(t, c, Key{Limit: 20}, first.fill)
		get(t, c, Key{Limit: 20, Cursor: "page-2"}, second.fill)
		get(t, c, Key{Limit: 20, Cursor: "page-3"}, third.fill)
		get(t, c, Key{Limit: 20, Cursor: "made-up"}, third.fill)
	}
	if first.fills.Load() != 1 || second.fills.Load() != 1 {
		t.Errorf("first page filled %d times, second %d: want each kept", first.fills.Load(), second.fills.Load())
	}
	if got := third.fills.Load(); got != 4 {
		t.Errorf("pages beyond Pages and unknown cursors filled %d times in 4 Gets, want every time", got)
	}
	if s := c.Stats(); s.Bypassed != 4 {
		t.Errorf("stats %+v, want 4 bypassed", s)
	}
}

func TestMaxPages(t *testing.T) {
	c := New(Config{TTL: time.Hour, MaxPages: 2})
	src := &source{}
	for _, origin := range []string{"http://a", "http://b", "http://c", "http://d"} {
		get(t, c, Key{Origin: origin, Limit: 20}, src.fill)
	}
	if s := c.Stats(); s.Pages != 2 {
		t.Errorf("%d pages kept, want the bound 2", s.Pages)
	}
}

func TestFailedFillIsNotKept(t *testing.T) {
	c := New(Config{TTL: time.Hour})
	boom := errors.New("database down")
	calls := 0
	failing := func(context.Context) (*Page, error) { calls++; return nil, boom }
	for range 2 {
		if _, err := c.Get(context.Background(), Key{Limit: 20}, failing); !errors.Is(err, boom) {
			t.Fatalf("Get: %v, want the fill's error", err)
		}
	}
	if calls != 2 {
		t.Errorf("a failed fill was kept: %d calls, want 2", calls)
	}
}

// A fill outlives the caller that started it hanging up: others wait
// for it.
func TestFillDetachedFromCaller(t *testing.T) {
	c := New(Config{TTL: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var seen error
	_, err := c.Get(ctx, Key{Limit: 20}, func(ctx context.Context) (*Page, error) {
		seen = ctx.Err()
		return &Page{}, nil
	})
	if err != nil || seen != nil {
		t.Errorf("Get: %v; the fill saw %v, want a live context", err, seen)
	}
}
