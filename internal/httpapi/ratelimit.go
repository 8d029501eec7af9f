package httpapi

import (
	"fmt"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Rate limits live in each replica's memory (a token bucket per key, from
// golang.org/x/time/rate): with n replicas behind a balancer a caller gets
// at most n times a limit (docs/deploy.md). They keep one caller from
// spending what everyone shares (WeChat's moderation allowance, decoding
// memory, the database) faster than a person could.

// UserRates are per-minute limits on one user's calls that cost more than
// a read, each in bursts of as many; 0 leaves a call unlimited.
type UserRates struct {
	Generations int // POST /generations (each is moderated)
	Profile     int // PATCH /me (each nickname is moderated)
	Avatar      int // PUT and POST /me/avatar, together (each is decoded)
	Likes       int // PUT and DELETE /wallpapers/{id}/like, together
}

var (
	errLoginRateLimited = failure.New(failure.RateLimited, "rate_limited", "too many login attempts from this address: wait and try again")
	errUserRateLimited  = failure.New(failure.RateLimited, "rate_limited", "too many requests: wait and try again")
)

// loginLimit allows perMinute logins a minute per client IP (c.ClientIP,
// which believes X-Forwarded-For only from trusted proxies), in bursts of up
// to perMinute.
func loginLimit(perMinute int, now func() time.Time) gin.HandlerFunc {
	l := newKeyLimiter(perMinute, time.Minute, now)
	return func(c *gin.Context) {
		if wait, ok := l.allow(c.ClientIP()); !ok {
			e := *errLoginRateLimited
			e.RetryAfter = wait
			writeError(c, &e)
			return
		}
		c.Next()
	}
}

// perUser limits each authenticated caller to perMinute calls a minute, in
// bursts of as many, answering 429 rate_limited with Retry-After beyond;
// what names the calls in the message ("avatar uploads"). It goes after
// requireUser. Routes that share one allowance share one handler: call
// perUser once and register the result on each (PUT and DELETE of a like).
// perMinute 0 is no limit.
func perUser(what string, perMinute int, now func() time.Time) gin.HandlerFunc {
	return perUserEvery(what, perMinute, time.Minute, now)
}

// perUserEvery is perUser for n calls every per (an hour for reports).
func perUserEvery(what string, n int, per time.Duration, now func() time.Time) gin.HandlerFunc {
	if n <= 0 {
		return func(c *gin.Context) { c.Next() }
	}
	return limitUsers(what, newKeyLimiter(n, per, now))
}

// limitUsers is perUser on a given limiter.
func limitUsers(what string, l *keyLimiter) gin.HandlerFunc {
	every := "a minute"
	if l.idle == time.Hour {
		every = "an hour"
	} else if l.idle != time.Minute {
		every = "every " + l.idle.String()
	}
	refusal := errUserRateLimited.With(fmt.Sprintf("too many %s: at most %d %s, wait and try again", what, l.burst, every), nil)
	return func(c *gin.Context) {
		id, ok := callerID(c)
		if !ok { // not behind requireUser: nothing to count by
			c.Next()
			return
		}
		if wait, ok := l.allow(id.String()); !ok {
			e := *refusal
			e.RetryAfter = wait
			writeError(c, &e)
			return
		}
		c.Next()
	}
}

// keyLimiter is a token bucket per key (a client address, a user). An
// entry idle for as long as a full refill takes is indistinguishable from
// a new one, so it is evicted: memory stays bounded by the keys seen in
// one refill period.
type keyLimiter struct {
	limit     rate.Limit
	burst     int
	idle      time.Duration
	now       func() time.Time
	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newKeyLimiter allows n calls every per for each key, in bursts of n.
func newKeyLimiter(n int, per time.Duration, now func() time.Time) *keyLimiter {
	n = max(n, 1)
	return &keyLimiter{
		limit:     rate.Limit(float64(n) / per.Seconds()),
		burst:     n,
		idle:      per,
		now:       now,
		buckets:   make(map[string]*bucket),
		lastSweep: now(),
	}
}

// allow takes one token for key, or says how long until one is there.
func (l *keyLimiter) allow(key string) (time.Duration, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.idle {
		for k, b := range l.buckets {
			if now.Sub(b.seen) >= l.idle {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// size is the number of tracked keys.
func (l *keyLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
