package imagegen_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// observer records what a chain reports, as the metrics do.
type observer struct {
	mu       sync.Mutex
	calls    []string // "provider outcome"
	skipped  []string
	breakers []string // "provider state"
}

func (o *observer) ProviderCalled(p, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, p+" "+outcome)
}

func (o *observer) ProviderSkipped(p string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.skipped = append(o.skipped, p)
}

func (o *observer) BreakerChanged(p, state string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.breakers = append(o.breakers, p+" "+state)
}

func (o *observer) snapshot() (calls, skipped, breakers []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls), slices.Clone(o.skipped), slices.Clone(o.breakers)
}

// chainEnv is a chain of Ark then OpenAI, each its real client against
// its fake.
type chainEnv struct {
	ark    *imagegentest.Provider
	openai *imagegentest.Fake
	chain  *imagegen.Chain
	obs    *observer
	log    *bytes.Buffer
}

func newChainEnv(t *testing.T, cfg imagegen.ChainConfig) *chainEnv {
	t.Helper()
	e := &chainEnv{obs: &observer{}, log: &bytes.Buffer{}}
	var ark wallpaper.ImageGenerator
	e.ark, ark = providerNamed(t, "ark").start(t, nil)
	e.openai = imagegentest.NewFakeOpenAI(t)
	oa := newOpenAI(t, e.openai, imagegen.DefaultOpenAIModel, nil)
	if cfg.Budget == 0 {
		cfg.Budget = 30 * time.Second
	}
	cfg.Observer = e.obs
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: e.log}, nil))
	var err error
	e.chain, err = imagegen.NewChain(cfg,
		imagegen.Link{Provider: imagegen.ProviderArk, Generator: ark},
		imagegen.Link{Provider: imagegen.ProviderOpenAI, Generator: oa})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (e *chainEnv) generate(ctx context.Context) (*wallpaper.Image, error) {
	return e.chain.Generate(ctx, wallpaper.ImageRequest{Prompt: "a fox", Options: wallpaper.Options{Size: wallpaper.SizePortrait}})
}

func TestChain(t *testing.T) {
	t.Parallel()
	ark503 := imagegentest.ArkError(503, "ServerOverloaded", "The service is currently unable to handle additional requests due to server overload.")
	tests := []struct {
		name        string
		ark         []imagegentest.Reply
		openai      []imagegentest.Reply
		provider    string // who painted; "" for a failure
		code        string
		retryable   bool
		retryAfter  time.Duration
		openaiCalls int
	}{
		{name: "the first paints", provider: "ark"},
		{name: "the first 500s: the second paints", ark: []imagegentest.Reply{imagegentest.ArkError(500, "InternalServiceError", "internal")},
			provider: "openai", openaiCalls: 1},
		{name: "the first is overloaded: the second paints", ark: []imagegentest.Reply{ark503}, provider: "openai", openaiCalls: 1},
		{name: "the first's account is overdue: the second paints",
			ark:      []imagegentest.Reply{imagegentest.ArkError(403, "AccountOverdueError", "overdue")},
			provider: "openai", openaiCalls: 1},
		{name: "the first's image URL expired: the second paints", ark: []imagegentest.Reply{imagegentest.Expired()},
			provider: "openai", openaiCalls: 1},
		{name: "content policy on the first: no second call",
			ark:  []imagegentest.Reply{imagegentest.ArkError(400, "InputTextSensitiveContentDetected", "sensitive")},
			code: "content_policy"},
		{name: "an invalid request: no second call",
			ark:  []imagegentest.Reply{imagegentest.ArkError(400, "InvalidParameter", "bad")},
			code: "upstream_rejected"},
		{name: "content policy on the second after the first failed",
			ark: []imagegentest.Reply{ark503}, openai: []imagegentest.Reply{imagegentest.ContentPolicy()},
			code: "content_policy", openaiCalls: 1},
		{name: "both down: retryable",
			ark: []imagegentest.Reply{ark503}, openai: []imagegentest.Reply{imagegentest.ServerError()},
			code: "upstream_unavailable", retryable: true, openaiCalls: 1},
		{name: "both rate-limited: retry when the sooner one said",
			ark:    []imagegentest.Reply{withRetryAfter(imagegentest.ArkError(429, "RateLimitExceeded.EndpointRPMExceeded", "rpm"), "9")},
			openai: []imagegentest.Reply{imagegentest.RateLimited("4")},
			code:   "upstream_rate_limited", retryable: true, retryAfter: 4 * time.Second, openaiCalls: 1},
		{name: "one without a hint: the usual back-off",
			ark:    []imagegentest.Reply{withRetryAfter(imagegentest.ArkError(429, "RateLimitExceeded.EndpointRPMExceeded", "rpm"), "9")},
			openai: []imagegentest.Reply{imagegentest.ServerError()},
			code:   "upstream_rate_limited", retryable: true, openaiCalls: 1},
		{name: "an auth failure and an outage: retryable",
			ark:    []imagegentest.Reply{imagegentest.ArkError(401, "AuthenticationError", "bad key")},
			openai: []imagegentest.Reply{imagegentest.ServerError()},
			code:   "upstream_unavailable", retryable: true, openaiCalls: 1},
		{name: "both out of money: fails for good",
			ark:    []imagegentest.Reply{imagegentest.ArkError(403, "AccountOverdueError", "overdue")},
			openai: []imagegentest.Reply{imagegentest.Billing()},
			code:   "upstream_billing", openaiCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChainEnv(t, imagegen.ChainConfig{})
			e.ark.Enqueue(tt.ark...)
			e.openai.Enqueue(tt.openai...)
			img, err := e.generate(context.Background())
			if got := e.ark.Calls(); got != 1 {
				t.Errorf("ark called %d times, want 1", got)
			}
			if got := e.openai.Calls(); got != tt.openaiCalls {
				t.Errorf("openai called %d times, want %d", got, tt.openaiCalls)
			}
			if tt.provider != "" {
				if err != nil {
					t.Fatalf("Generate = %v, want %s to paint", err, tt.provider)
				}
				if img.Provider != tt.provider || (tt.provider == "openai") != (img.Model == imagegen.DefaultOpenAIModel) {
					t.Errorf("painted by %s (%s), want %s", img.Provider, img.Model, tt.provider)
				}
				return
			}
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("Generate = %v, %v; want an ImageError", img, err)
			}
			if ie.Code != tt.code || ie.Retryable != tt.retryable || ie.RetryAfter != tt.retryAfter {
				t.Errorf("got %s retryable=%v after %v, want %s retryable=%v after %v (%v)",
					ie.Code, ie.Retryable, ie.RetryAfter, tt.code, tt.retryable, tt.retryAfter, ie.Err)
			}
			if strings.Contains(ie.Message, "ark") || strings.Contains(ie.Message, "openai") {
				t.Errorf("the user's message names a provider: %q", ie.Message)
			}
			if tt.openaiCalls > 0 && !strings.Contains(err.Error(), "ark: ") {
				t.Errorf("the cause does not tell what the first provider did: %v", err)
			}
		})
	}
}

func withRetryAfter(r imagegentest.Reply, v string) imagegentest.Reply {
	r.Header = map[string][]string{"Retry-After": {v}}
	return r
}

// TestChainLogsFallbacks: the job's log says which provider failed, why,
// and who painted in the end.
func TestChainLogsFallbacks(t *testing.T) {
	t.Parallel()
	e := newChainEnv(t, imagegen.ChainConfig{})
	e.ark.Enqueue(imagegentest.ArkError(503, "ServerOverloaded", "overloaded"))
	if _, err := e.generate(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := e.log.String()
	for _, want := range []string{`msg="image provider failed"`, "provider=ark", "code=upstream_unavailable", "moving_on=true",
		`msg="image painted by a fallback provider"`, "provider=openai"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
	calls, _, _ := e.obs.snapshot()
	if want := []string{"ark upstream_unavailable", "openai ok"}; !slices.Equal(calls, want) {
		t.Errorf("observed calls %v, want %v", calls, want)
	}
}

// TestChainBreaker: repeated failures open the first provider's breaker;
// during the cool-down it is not called and the second paints; after it,
// one call goes through, and its success closes the breaker.
func TestChainBreaker(t *testing.T) {
	t.Parallel()
	const cooldown = 3 * time.Second
	e := newChainEnv(t, imagegen.ChainConfig{BreakerFailures: 2, BreakerCooldown: cooldown})
	e.ark.SetDefault(imagegentest.ArkError(503, "ServerOverloaded", "overloaded"))
	for i := range 4 {
		img, err := e.generate(context.Background())
		if err != nil || img.Provider != "openai" {
			t.Fatalf("generation %d: %v, %v; want openai to paint", i, img, err)
		}
	}
	if got := e.ark.Calls(); got != 2 {
		t.Errorf("ark called %d times, want 2: the breaker opens after 2 failures", got)
	}
	_, skipped, breakers := e.obs.snapshot()
	if want := []string{"ark", "ark"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if !slices.Contains(breakers, "ark open") || slices.Contains(breakers, "openai open") {
		t.Errorf("breaker changes %v, want ark open", breakers)
	}

	// Every provider down while the breaker is open: the job retries
	// with its usual back-off, since OpenAI gave no hint to wait longer.
	e.openai.Enqueue(imagegentest.ServerError())
	_, err := e.generate(context.Background())
	var ie *wallpaper.ImageError
	if !errors.As(err, &ie) || !ie.Retryable || ie.Code != "upstream_unavailable" || ie.RetryAfter != 0 {
		t.Fatalf("both unavailable = %v, want a retryable upstream_unavailable without a hint", err)
	}
	if !strings.Contains(err.Error(), "circuit breaker is open") {
		t.Errorf("the cause does not say ark was skipped: %v", err)
	}

	e.ark.SetDefault(imagegentest.Reply{}) // Ark is back
	time.Sleep(cooldown + 200*time.Millisecond)
	img, err := e.generate(context.Background())
	if err != nil || img.Provider != "ark" {
		t.Fatalf("after the cool-down: %v, %v; want ark to paint", img, err)
	}
	if got := e.ark.Calls(); got != 3 {
		t.Errorf("ark called %d times after the cool-down, want 3", got)
	}
	_, _, breakers = e.obs.snapshot()
	if want := []string{"ark closed", "openai closed", "ark open", "ark half-open", "ark closed"}; !slices.Equal(breakers, want) {
		t.Errorf("breaker changes %v, want %v", breakers, want)
	}
}

// TestChainBudget: a first provider that hangs gets only its share of the
// budget, which leaves the second the time to paint.
func TestChainBudget(t *testing.T) {
	t.Parallel()
	e := newChainEnv(t, imagegen.ChainConfig{Budget: 6 * time.Second})
	e.ark.Enqueue(imagegentest.Hang())
	img, err := e.generate(context.Background())
	if err != nil || img.Provider != "openai" {
		t.Fatalf("Generate = %v, %v; want openai to paint after ark ran out of its share", img, err)
	}
	calls, _, _ := e.obs.snapshot()
	if want := []string{"ark upstream_timeout", "openai ok"}; !slices.Equal(calls, want) {
		t.Errorf("observed calls %v, want %v", calls, want)
	}
}

// TestChainJobEnded: when the job's own context ends, the chain stops, and
// the provider is not blamed for it.
func TestChainJobEnded(t *testing.T) {
	t.Parallel()
	e := newChainEnv(t, imagegen.ChainConfig{BreakerFailures: 1})
	e.ark.Enqueue(imagegentest.Hang())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for e.ark.Calls() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := e.generate(ctx); err == nil {
		t.Fatal("Generate succeeded after the job was cancelled")
	}
	if got := e.openai.Calls(); got != 0 {
		t.Errorf("openai called %d times after the job ended", got)
	}
	img, err := e.generate(context.Background())
	if err != nil || img.Provider != "ark" {
		t.Fatalf("next generation: %v, %v; want ark, whose breaker the cancellation did not open", img, err)
	}
}

func TestNewChain(t *testing.T) {
	t.Parallel()
	off := imagegen.NewOffline()
	tests := []struct {
		name  string
		cfg   imagegen.ChainConfig
		links []imagegen.Link
	}{
		{"no links", imagegen.ChainConfig{Budget: time.Second}, nil},
		{"no budget", imagegen.ChainConfig{}, []imagegen.Link{{Provider: "offline", Generator: off}}},
		{"repeated", imagegen.ChainConfig{Budget: time.Second},
			[]imagegen.Link{{Provider: "offline", Generator: off}, {Provider: "offline", Generator: off}}},
		{"unnamed", imagegen.ChainConfig{Budget: time.Second}, []imagegen.Link{{Generator: off}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := imagegen.NewChain(tt.cfg, tt.links...); err == nil {
				t.Error("NewChain accepted it")
			}
		})
	}
}

// TestChainOpenBreakerHint: a chain whose only provider is skipped tells
// the job to come back when the cool-down ends, not before.
func TestChainOpenBreakerHint(t *testing.T) {
	t.Parallel()
	const cooldown = time.Minute
	fake, ark := providerNamed(t, "ark").start(t, nil)
	chain, err := imagegen.NewChain(imagegen.ChainConfig{Budget: 30 * time.Second, BreakerFailures: 1, BreakerCooldown: cooldown},
		imagegen.Link{Provider: imagegen.ProviderArk, Generator: ark})
	if err != nil {
		t.Fatal(err)
	}
	fake.SetDefault(imagegentest.ArkError(503, "ServerOverloaded", "overloaded"))
	req := wallpaper.ImageRequest{Prompt: "a fox"}
	var ie *wallpaper.ImageError
	if _, err := chain.Generate(context.Background(), req); !errors.As(err, &ie) || ie.RetryAfter != 0 {
		t.Fatalf("first failure = %v, want one without a hint", err)
	}
	_, err = chain.Generate(context.Background(), req)
	if !errors.As(err, &ie) || ie.Code != "upstream_unavailable" || !ie.Retryable || ie.RetryAfter <= 0 || ie.RetryAfter > cooldown {
		t.Fatalf("with the breaker open = %v (after %v), want a retryable upstream_unavailable until the cool-down ends", err, ie.RetryAfter)
	}
	if got := fake.Calls(); got != 1 {
		t.Errorf("ark called %d times, want 1", got)
	}
}
