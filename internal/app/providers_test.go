package app_test

// Provider chain tests: the whole service (apptest) painting through a
// chain of Ark then OpenAI, each a fake server speaking its real JSON and
// reached by the real client code.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
)

// startChain is the service painting with IMAGE_PROVIDERS=ark,openai
// against the two fakes; its log is kept.
func startChain(t *testing.T, vars map[string]string) (*apptest.Service, *imagegentest.Provider, *syncBuffer) {
	t.Helper()
	ark := imagegentest.NewFakeArk(t)
	v := map[string]string{
		"IMAGE_PROVIDERS": "ark,openai", "ARK_API_KEY": imagegentest.APIKey, "ARK_BASE_URL": ark.BaseURL(),
		"JOB_MAX_ATTEMPTS": "3", "DAILY_QUOTA": "20", "IMAGE_BREAKER_COOLDOWN": "10m",
	}
	for k, x := range vars {
		v[k] = x
	}
	log := &syncBuffer{}
	s := apptest.New(t, apptest.Options{OpenAI: true, Vars: v, Logger: slog.New(slog.NewTextHandler(log, nil))})
	return s, ark, log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestProviderFallbackAcceptance is the acceptance: with
// IMAGE_PROVIDERS=ark,openai and Ark answering 503, every accepted
// generation succeeds through OpenAI, the quota is exact, and GET
// /generations/{id} shows the wallpaper with OpenAI's model.
func TestProviderFallbackAcceptance(t *testing.T) {
	t.Parallel()
	s, ark, log := startChain(t, nil)
	ark.SetDefault(imagegentest.ArkError(http.StatusServiceUnavailable, "ServerOverloaded",
		"The service is currently unable to handle additional requests due to server overload."))
	token := s.Token(t, "carol")
	const n = 10 // more than 5 failures and 4 workers in flight: Ark is then skipped
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.Generate(t, token, fmt.Sprintf("a harbour at night, %d", i))
	}
	if q := s.Me(t, token).Quota; q.UsedToday != n {
		t.Fatalf("after %d acceptances used_today = %d", n, q.UsedToday)
	}
	for _, id := range ids {
		g := s.Wait(t, token, id, 90*time.Second)
		if g.Status != "succeeded" || g.Attempts != 1 || g.Wallpaper == nil {
			t.Fatalf("generation %s: %+v (error %+v)", id, g, g.Error)
		}
		res := s.API.Do(http.MethodGet, "/api/v1/generations/"+id, nil, apitest.Bearer(token))
		var got httpapi.Generation
		res.JSON(t, &got)
		w := got.Wallpaper
		if w == nil || w.Provider != "openai" || w.Model != "gpt-image-2.6-flare" || w.Width != 1024 || w.Height != 1024 {
			t.Errorf("GET /generations/%s wallpaper = %+v, want OpenAI's 1024x1024", id, w)
		}
	}
	if q := s.Me(t, token).Quota; q.UsedToday != n || q.Remaining != 20-n {
		t.Errorf("quota after success = %+v, want %d used", q, n)
	}
	var wallpapers int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM wallpapers WHERE provider = 'openai'`).Scan(&wallpapers); err != nil {
		t.Fatal(err)
	}
	if wallpapers != n {
		t.Errorf("%d wallpapers recorded as openai's, want %d", wallpapers, n)
	}
	if got := s.OpenAI.Calls(); got != n {
		t.Errorf("openai called %d times, want %d", got, n)
	}
	if got := ark.Calls(); got < 5 || got >= n {
		t.Errorf("ark called %d times, want its breaker to open after 5 failures", got)
	}
	// The metrics tell each provider's story.
	series := func(s string) string { return `wallpaperd_image_provider_` + s }
	if got := s.Metric(t, series(`calls_total{outcome="ok",provider="openai"}`)); got != n {
		t.Errorf("openai ok calls = %v", got)
	}
	failed := s.Metric(t, series(`calls_total{outcome="upstream_unavailable",provider="ark"}`))
	skipped := s.Metric(t, series(`calls_total{outcome="breaker_open",provider="ark"}`))
	if failed != float64(ark.Calls()) || failed+skipped != n {
		t.Errorf("ark calls: %v failed, %v skipped; want %d in all", failed, skipped, n)
	}
	if got := s.Metric(t, series(`breaker_state{provider="ark"}`)); got != 2 {
		t.Errorf("ark's breaker gauge = %v, want 2 (open)", got)
	}
	// The job's log, not the user's error, tells of the fallbacks.
	for _, want := range []string{`msg="image provider failed"`, "provider=ark", "code=upstream_unavailable",
		`msg="image painted by a fallback provider"`, `msg="image providers"`, `chain="[ark openai]"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %s", want)
		}
	}
}

// TestProviderChainEnds: a content-policy refusal is not shopped around,
// and a chain that is down everywhere retries, then fails with its unit
// back exactly once.
func TestProviderChainEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		ark         imagegentest.Reply
		openaiDown  bool
		code        string
		attempts    int
		arkCalls    int
		openaiCalls int
	}{
		{
			name:     "content policy on the first provider: failed, no second call",
			ark:      imagegentest.ArkError(400, "InputTextSensitiveContentDetected", "The request failed because the input text may contain sensitive information."),
			code:     "content_policy",
			attempts: 1, arkCalls: 1, openaiCalls: 0,
		},
		{
			name:       "every provider down: retried, then failed",
			ark:        imagegentest.ArkError(500, "InternalServiceError", "The service encountered an unexpected internal error."),
			openaiDown: true,
			code:       "upstream_unavailable",
			attempts:   3, arkCalls: 3, openaiCalls: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ark, _ := startChain(t, nil)
			ark.SetDefault(tt.ark)
			if tt.openaiDown {
				s.OpenAI.Enqueue(imagegentest.ServerError(), imagegentest.ServerError(), imagegentest.ServerError())
			}
			token := s.Token(t, "dave")
			id := s.Generate(t, token, "a lighthouse in a storm")
			g := s.Wait(t, token, id, 90*time.Second)
			if g.Status != "failed" || g.Error == nil || g.Error.Code != tt.code || g.Attempts != tt.attempts || g.Wallpaper != nil {
				t.Fatalf("generation = %+v (error %+v), want failed with %s after %d attempts", g, g.Error, tt.code, tt.attempts)
			}
			if strings.Contains(g.Error.Message, "ark") || strings.Contains(g.Error.Message, "openai") {
				t.Errorf("the user's error names a provider: %q", g.Error.Message)
			}
			if got := ark.Calls(); got != tt.arkCalls {
				t.Errorf("ark called %d times, want %d", got, tt.arkCalls)
			}
			if got := s.OpenAI.Calls(); got != tt.openaiCalls {
				t.Errorf("openai called %d times, want %d", got, tt.openaiCalls)
			}
			if used := s.Me(t, token).Quota.UsedToday; used != 0 {
				t.Errorf("used_today = %d after the failure, want the unit back", used)
			}
			apptest.WaitFor(t, 30*time.Second, "the refund metric", func() bool { return s.Metric(t, quotaRefunded) == 1 })
			if got := s.Metric(t, quotaRefunded); got != 1 {
				t.Errorf("refunded %v units, want exactly 1", got)
			}
		})
	}
}

// TestShutDownModelWarning: a model OpenAI has shut down starts (a relay
// may serve it) with a warning naming it; the default model starts quiet.
func TestShutDownModelWarning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model string
		warn  bool
	}{
		{"dall-e-3", true},
		{"gpt-image-1", true},
		{"gpt-image-2.6-flare", false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			t.Parallel()
			log := &syncBuffer{}
			apptest.New(t, apptest.Options{OpenAI: true, NoWorkers: true, Vars: map[string]string{"IMAGE_MODEL": tt.model},
				Logger: slog.New(slog.NewTextHandler(log, nil))})
			warned := strings.Contains(log.String(), `level=WARN msg="IMAGE_MODEL is shut down by OpenAI`) &&
				strings.Contains(log.String(), "model="+tt.model)
			if warned != tt.warn {
				t.Errorf("warned = %v, want %v:\n%s", warned, tt.warn, log.String())
			}
			if !strings.Contains(log.String(), `msg="image providers" chain=[openai]`) {
				t.Errorf("the resolved chain is not logged:\n%s", log.String())
			}
		})
	}
}
