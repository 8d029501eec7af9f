package imagegen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Defaults of ChainConfig.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = time.Minute
)

// Link is one provider of a chain.
type Link struct {
	Provider  string // ProviderArk, …: the name logged, measured and recorded
	Generator wallpaper.ImageGenerator
}

// Observer records what the chain does, per provider (internal/metrics
// implements it).
type Observer interface {
	// ProviderCalled records one call: its outcome ("ok", or the
	// failure's code) and how long it took.
	ProviderCalled(provider, outcome string, elapsed time.Duration)
	// ProviderSkipped records a call the provider's open breaker saved.
	ProviderSkipped(provider string)
	// BreakerChanged records a breaker's new state: "closed",
	// "half-open" or "open".
	BreakerChanged(provider, state string)
}

// ChainConfig shapes a Chain.
type ChainConfig struct {
	// Budget bounds one attempt of the whole chain (IMAGE_CHAIN_TIMEOUT),
	// below the job's timeout so that storing the image still fits. Each
	// provider gets an equal share of what is left for the providers not
	// yet tried, so a slow first one leaves the next time to answer.
	Budget time.Duration
	// BreakerFailures is how many failures in a row open a provider's
	// breaker; DefaultBreakerFailures when zero.
	BreakerFailures uint32
	// BreakerCooldown is how long an open breaker skips its provider
	// before letting one call through; DefaultBreakerCooldown when zero.
	BreakerCooldown time.Duration
	Logger          *slog.Logger // nil: discarded
	Observer        Observer     // nil: nothing recorded
}

// Chain paints with the first provider that can: it tries them in order
// within one time budget, and moves on only after a failure another
// provider could fix (unavailable, timeout, rate limit, 5xx, the
// provider's own auth or billing, a broken image). A content-policy
// refusal or an invalid request ends the attempt: the next provider would
// refuse it too, and trying it would be policy-shopping. Each provider has
// a circuit breaker that skips it for a cool-down after repeated failures.
// When every provider fails, the error says whether and when the job may
// retry.
type Chain struct {
	cfg   ChainConfig
	links []*link
}

type link struct {
	Link
	breaker  *gobreaker.CircuitBreaker[*wallpaper.Image]
	openedAt atomic.Int64 // unix nanos of the last opening
}

// NewChain returns a chain of links, tried in the order given.
func NewChain(cfg ChainConfig, links ...Link) (*Chain, error) {
	if len(links) == 0 {
		return nil, errors.New("imagegen: a chain needs at least one provider")
	}
	if cfg.Budget <= 0 {
		return nil, errors.New("imagegen: a chain needs a time budget")
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = DefaultBreakerCooldown
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Chain{cfg: cfg}
	seen := map[string]bool{}
	for _, l := range links {
		if l.Provider == "" || l.Generator == nil || seen[l.Provider] {
			return nil, fmt.Errorf("imagegen: chain link %q is empty or repeated", l.Provider)
		}
		seen[l.Provider] = true
		c.links = append(c.links, c.newLink(l))
	}
	return c, nil
}

func (c *Chain) newLink(l Link) *link {
	ln := &link{Link: l}
	ln.breaker = gobreaker.NewCircuitBreaker[*wallpaper.Image](gobreaker.Settings{
		Name:        l.Provider,
		MaxRequests: 1,
		Timeout:     c.cfg.BreakerCooldown,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= c.cfg.BreakerFailures },
		// A refusal is the provider working: only failures another
		// provider could fix count against it.
		IsSuccessful: func(err error) bool { return err == nil || !movesOn(err) },
		// The job's own end (cancelled, out of time) says nothing about
		// the provider.
		IsExcluded: func(err error) bool { return errors.As(err, new(*jobEnded)) },
		OnStateChange: func(name string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				ln.openedAt.Store(time.Now().UnixNano())
			}
			c.observe(func(o Observer) { o.BreakerChanged(name, to.String()) })
		},
	})
	c.observe(func(o Observer) { o.BreakerChanged(l.Provider, gobreaker.StateClosed.String()) })
	return ln
}

func (c *Chain) observe(f func(Observer)) {
	if c.cfg.Observer != nil {
		f(c.cfg.Observer)
	}
}

// Providers are the chain's providers, in order.
func (c *Chain) Providers() []string {
	out := make([]string, len(c.links))
	for i, l := range c.links {
		out[i] = l.Provider
	}
	return out
}

// jobEnded marks an error that came from the attempt's own context ending,
// not from the provider.
type jobEnded struct{ err error }

func (e *jobEnded) Error() string { return e.err.Error() }
func (e *jobEnded) Unwrap() error { return e.err }

// movesOn reports whether a failure is one another provider could fix.
func movesOn(err error) bool {
	var ie *wallpaper.ImageError
	if !errors.As(err, &ie) {
		return false
	}
	switch ie.Code {
	case codeContentPolicy, codeRejected:
		return false
	}
	return true
}

// attempt is what one provider did in one attempt, for the log and the
// final error.
type attempt struct {
	provider string
	err      *wallpaper.ImageError
	elapsed  time.Duration
}

// Generate paints req with the first provider that succeeds.
func (c *Chain) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	budget, cancel := context.WithTimeout(ctx, c.cfg.Budget)
	defer cancel()
	var tried []attempt
	for i, l := range c.links {
		if budget.Err() != nil {
			break // nothing after can answer in time
		}
		if l.breaker.State() == gobreaker.StateOpen {
			tried = append(tried, c.skipped(l))
			continue
		}
		img, a, err := c.call(ctx, budget, l, c.share(budget, i), req)
		if err == nil {
			if len(tried) > 0 {
				c.cfg.Logger.InfoContext(ctx, "image painted by a fallback provider", "generation_id", req.GenerationID,
					"provider", l.Provider, "tried", summary(tried))
			}
			return img, nil
		}
		if a == nil { // the job's own context ended, or an unclassified error
			return nil, err
		}
		tried = append(tried, *a)
		c.cfg.Logger.WarnContext(ctx, "image provider failed", "generation_id", req.GenerationID, "provider", l.Provider,
			"code", a.err.Code, "moving_on", i < len(c.links)-1 && movesOn(a.err), "elapsed", a.elapsed, "err", a.err.Err)
		if !movesOn(a.err) {
			return nil, finalError(a.err, tried)
		}
	}
	return nil, allFailed(tried)
}

// share is the time provider i gets: an equal part of what is left of
// the budget among it and the providers after it whose breakers are not
// open.
func (c *Chain) share(ctx context.Context, i int) time.Duration {
	deadline, _ := ctx.Deadline()
	left := time.Until(deadline)
	n := 1
	for _, l := range c.links[i+1:] {
		if l.breaker.State() != gobreaker.StateOpen {
			n++
		}
	}
	return left / time.Duration(n)
}

// call runs one provider through its breaker within its share of the
// budget. It returns the attempt on a classified failure; a nil attempt
// with an error means the job's attempt as a whole is over (job, its
// context, ended) or the generator broke its contract.
func (c *Chain) call(job, budget context.Context, l *link, share time.Duration, req wallpaper.ImageRequest) (*wallpaper.Image, *attempt, error) {
	start := time.Now()
	img, err := l.breaker.Execute(func() (*wallpaper.Image, error) {
		callCtx, cancel := context.WithTimeout(budget, share)
		defer cancel()
		img, err := l.Generator.Generate(callCtx, req)
		if err != nil && job.Err() != nil {
			return nil, &jobEnded{err}
		}
		return img, err
	})
	elapsed := time.Since(start)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		// Opened, or half-open with its one trial call taken, since the
		// check before the call.
		a := c.skipped(l)
		return nil, &a, a.err
	}
	if err == nil {
		img.Provider = l.Provider
		c.observe(func(o Observer) { o.ProviderCalled(l.Provider, "ok", elapsed) })
		return img, nil, nil
	}
	var je *jobEnded
	if errors.As(err, &je) {
		c.observe(func(o Observer) { o.ProviderCalled(l.Provider, "canceled", elapsed) })
		return nil, nil, je.err
	}
	var ie *wallpaper.ImageError
	if !errors.As(err, &ie) {
		c.observe(func(o Observer) { o.ProviderCalled(l.Provider, "error", elapsed) })
		return nil, nil, err
	}
	c.observe(func(o Observer) { o.ProviderCalled(l.Provider, ie.Code, elapsed) })
	return nil, &attempt{provider: l.Provider, err: ie, elapsed: elapsed}, ie
}

// skipped is the attempt of a provider whose breaker is open: a retryable
// unavailability that lasts until the cool-down ends.
func (c *Chain) skipped(l *link) attempt {
	c.observe(func(o Observer) { o.ProviderSkipped(l.Provider) })
	e := failure(codeUnavailable, fmt.Errorf("imagegen: %s skipped: its circuit breaker is open", l.Provider))
	if at := l.openedAt.Load(); at != 0 {
		e.RetryAfter = max(0, c.cfg.BreakerCooldown-time.Since(time.Unix(0, at)))
	}
	return attempt{provider: l.Provider, err: e}
}

// finalError is the error of an attempt that stopped at a refusal: the
// refusal, whose cause also tells the providers tried before it.
func finalError(stop *wallpaper.ImageError, tried []attempt) error {
	if len(tried) == 1 {
		return stop
	}
	e := *stop
	e.Err = chainError(tried)
	return &e
}

// allFailed is the error of an attempt in which every provider failed
// with trouble of its own. The job retries if any of them may do better
// later, and waits no longer than the soonest of them asked.
func allFailed(tried []attempt) error {
	if len(tried) == 0 {
		return failure(codeTimeout, errors.New("imagegen: the chain's time budget ran out before any provider was called"))
	}
	if len(tried) == 1 {
		return tried[0].err
	}
	var first, firstRetryable *wallpaper.ImageError
	var after time.Duration
	noHint := false
	for _, a := range tried {
		first = cmpErr(first, a.err)
		if !a.err.Retryable {
			continue
		}
		firstRetryable = cmpErr(firstRetryable, a.err)
		switch {
		case a.err.RetryAfter <= 0:
			noHint = true
		case after == 0 || a.err.RetryAfter < after:
			after = a.err.RetryAfter
		}
	}
	pick := first
	if firstRetryable != nil {
		pick = firstRetryable
	}
	e := *pick
	e.Err = chainError(tried)
	e.RetryAfter = 0
	if e.Retryable && !noHint {
		e.RetryAfter = after
	}
	return &e
}

func cmpErr(have, e *wallpaper.ImageError) *wallpaper.ImageError {
	if have != nil {
		return have
	}
	return e
}

// chainError tells what each provider did, for the job's log; it unwraps
// to every cause.
type chainError []attempt

func (c chainError) Error() string { return "providers tried: " + summary(c) }

func (c chainError) Unwrap() []error {
	out := make([]error, len(c))
	for i, a := range c {
		out[i] = a.err
	}
	return out
}

// summary is "ark: upstream_unavailable (…); openai: content_policy (…)".
func summary(tried []attempt) string {
	parts := make([]string, len(tried))
	for i, a := range tried {
		parts[i] = fmt.Sprintf("%s: %s (%v)", a.provider, a.err.Code, a.err.Err)
	}
	return strings.Join(parts, "; ")
}
