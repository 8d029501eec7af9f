// Package feedcache keeps this replica's public feed pages for a short
// while (FEED_CACHE_TTL), encoded, so that a page served again costs no
// query and no encoding: the first page and the next few pages by cursor,
// each filled by one request while the others asking for it wait (single
// flight), and dropped at once when a wallpaper on it leaves public view
// through this replica. Other replicas' pages expire within the TTL.
package feedcache

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Key names one page.
type Key struct {
	// Origin is scheme://host when the page's URLs are absolute on the
	// host the caller reached (local storage); "" when they do not depend
	// on it (S3).
	Origin string
	Limit  int
	Cursor string // "" for the first page
}

// Page is one public page, anonymous: the items as read, their encoding
// and its entity tag. Read-only once filled: every caller shares it.
type Page struct {
	Feed wallpaper.Page[wallpaper.Wallpaper]
	Body []byte
	ETag string
}

// shows reports whether the page has one of wallpapers, or a wallpaper by
// one of authors.
func (p *Page) shows(wallpapers, authors []uuid.UUID) bool {
	for i := range p.Feed.Items {
		w := &p.Feed.Items[i]
		for _, id := range wallpapers {
			if w.ID == id {
				return true
			}
		}
		for _, id := range authors {
			if w.Author.ID == id {
				return true
			}
		}
	}
	return false
}

// Fill reads and encodes one page.
type Fill func(ctx context.Context) (*Page, error)

// Config shapes a cache.
type Config struct {
	// TTL is how long a page is served after its fill started; 0 turns
	// the cache off (every Get fills).
	TTL time.Duration
	// Pages is how many pages from the first are kept (5 when 0): the
	// first page, and each page whose cursor a kept page handed out, up
	// to this depth. Deeper pages are filled for each request.
	Pages int
	// MaxPages bounds the pages kept at once (1024 when 0): keys differ
	// by page size, origin and cursor.
	MaxPages int
}

// Defaults of Config.
const (
	DefaultPages    = 5
	DefaultMaxPages = 1024
)

// cursorLife is how long a cursor a kept page handed out stays one whose
// page is kept: clients scroll on long after the page that gave it to
// them expired, and that page is usually filled again with the same
// cursor meanwhile.
const cursorLife = 10 * time.Minute

// fillTimeout bounds one fill: it runs detached from the request that
// started it, since others wait for it too.
const fillTimeout = 15 * time.Second

type entry struct {
	page    *Page
	expires time.Time
}

type cursor struct {
	depth   int
	expires time.Time
}

// Cache is the shared cache of public feed pages. The zero value is not
// usable; a nil *Cache is off.
type Cache struct {
	ttl      time.Duration
	pages    int
	maxPages int
	flight   singleflight.Group

	mu sync.RWMutex
	// epoch counts invalidations: a fill that started before one neither
	// stores its page nor is joined by callers that came after it.
	epoch   uint64
	entries map[Key]entry
	cursors map[Key]cursor // the keys of pages deeper than the first that are kept

	hits, fills, waits, bypassed atomic.Uint64
}

// New returns a cache; with cfg.TTL 0 it keeps nothing.
func New(cfg Config) *Cache {
	if cfg.Pages <= 0 {
		cfg.Pages = DefaultPages
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	return &Cache{
		ttl: cfg.TTL, pages: cfg.Pages, maxPages: cfg.MaxPages,
		entries: make(map[Key]entry), cursors: make(map[Key]cursor),
	}
}

// TTL is how long a page is kept; 0: the cache is off.
func (c *Cache) TTL() time.Duration {
	if c == nil {
		return 0
	}
	return c.ttl
}

// Get returns the page at k: the kept one while it is fresh, else the
// one fill makes (one fill at a time per page; the callers that come
// meanwhile wait for it). A page not kept (the cache off, a page deeper
// than Config.Pages) is filled for this call alone.
func (c *Cache) Get(ctx context.Context, k Key, fill Fill) (*Page, error) {
	if c.TTL() <= 0 {
		return fill(ctx)
	}
	now := time.Now()
	c.mu.RLock()
	e, found := c.entries[k]
	epoch := c.epoch
	depth, kept := c.depth(k, now)
	c.mu.RUnlock()
	if found && now.Before(e.expires) {
		c.hits.Add(1)
		return e.page, nil
	}
	if !kept {
		c.bypassed.Add(1)
		return fill(ctx)
	}
	ran := false
	v, err, _ := c.flight.Do(flightKey(epoch, k), func() (any, error) {
		ran = true
		// A fill that ended between the look-up above and this flight
		// has kept the page already.
		c.mu.RLock()
		e, found := c.entries[k]
		c.mu.RUnlock()
		if found && time.Now().Before(e.expires) {
			c.hits.Add(1)
			return e.page, nil
		}
		c.fills.Add(1)
		start := time.Now()
		// Detached from the caller: the others waiting for this fill must
		// not fail because the first one hung up.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fillTimeout)
		defer cancel()
		p, err := fill(fctx)
		if err != nil {
			return nil, err
		}
		c.store(k, p, epoch, depth, start)
		return p, nil
	})
	if !ran {
		c.waits.Add(1)
	}
	if err != nil {
		return nil, err
	}
	return v.(*Page), nil
}

// depth is how deep the page at k is and whether it is one to keep; c.mu
// is held.
func (c *Cache) depth(k Key, now time.Time) (int, bool) {
	if k.Cursor == "" {
		return 0, true
	}
	cur, ok := c.cursors[k]
	if !ok || !now.Before(cur.expires) {
		return 0, false
	}
	return cur.depth, true
}

func flightKey(epoch uint64, k Key) string {
	return strconv.FormatUint(epoch, 10) + " " + strconv.Itoa(k.Limit) + " " + k.Cursor + " " + k.Origin
}

// store keeps p at k until start+TTL, unless an invalidation came since
// the fill began, and makes the page after it one to keep while it is
// within Config.Pages.
func (c *Cache) store(k Key, p *Page, epoch uint64, depth int, start time.Time) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return // it may show what was hidden meanwhile
	}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.maxPages {
		for old, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, old)
			}
		}
		for old := range c.entries { // still full: any one goes
			if len(c.entries) < c.maxPages {
				break
			}
			delete(c.entries, old)
		}
	}
	c.entries[k] = entry{page: p, expires: start.Add(c.ttl)}
	if p.Feed.Next == "" || depth+1 >= c.pages {
		return
	}
	nk := Key{Origin: k.Origin, Limit: k.Limit, Cursor: p.Feed.Next}
	if _, ok := c.cursors[nk]; !ok && len(c.cursors) >= 4*c.maxPages {
		for old, cur := range c.cursors {
			if !now.Before(cur.expires) || len(c.cursors) >= 4*c.maxPages {
				delete(c.cursors, old)
			}
		}
	}
	c.cursors[nk] = cursor{depth: depth + 1, expires: now.Add(cursorLife)}
}

// Hide drops at once every kept page that shows one of wallpapers or a
// wallpaper by one of authors, and keeps fills under way from storing
// what they read before the change. postgres calls it after the commit
// that took them out of public view.
func (c *Cache) Hide(wallpapers, authors []uuid.UUID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for k, e := range c.entries {
		if e.page.shows(wallpapers, authors) {
			delete(c.entries, k)
		}
	}
}

// Stats are a cache's counts since it was made.
type Stats struct {
	// Hits were served a kept page; Fills read one; Waits waited for
	// another caller's fill; Bypassed read a page that is not kept.
	Hits, Fills, Waits, Bypassed uint64
	// Pages is how many pages are kept now (fresh or not yet swept).
	Pages int
}

// Stats returns the counts.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.RLock()
	n := len(c.entries)
	c.mu.RUnlock()
	return Stats{Hits: c.hits.Load(), Fills: c.fills.Load(), Waits: c.waits.Load(), Bypassed: c.bypassed.Load(), Pages: n}
}
