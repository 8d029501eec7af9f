package httpapi

import (
	"sync"
	"testing"
	"time"
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
	l := newIPLimiter(3, clk.Now)

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
