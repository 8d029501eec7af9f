package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/metrics"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// scrape returns the exposition text of h.
func scrape(t *testing.T, h http.Handler, header map[string]string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestGinLabelsByRoutePattern(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	m := metrics.New()
	r := gin.New()
	r.Use(m.Gin())
	r.GET("/api/v1/wallpapers/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.POST("/api/v1/generations", func(c *gin.Context) { c.Status(http.StatusAccepted) })

	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/wallpapers/0b8c1e3a-1111-4222-8333-944455556666"},
		{"GET", "/api/v1/wallpapers/another-id"},
		{"POST", "/api/v1/generations"},
		{"GET", "/../../etc/passwd"},
		{"GET", "/random-" + strings.Repeat("x", 50)},
		{"BREW", "/api/v1/generations"},
	} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	_, text := scrape(t, m.Handler(), nil)

	tests := []struct {
		name string
		want string
	}{
		{"a route with a parameter is one series", `wallpaperd_http_requests_total{method="GET",route="/api/v1/wallpapers/:id",status="200"} 2`},
		{"status label", `wallpaperd_http_requests_total{method="POST",route="/api/v1/generations",status="202"} 1`},
		{"unmatched paths share one series", `wallpaperd_http_requests_total{method="GET",route="unmatched",status="404"} 2`},
		{"made-up methods are other", `method="other",route="unmatched"`},
		{"latency histogram by route", `wallpaperd_http_request_duration_seconds_count{method="GET",route="/api/v1/wallpapers/:id"} 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(text, tt.want) {
				t.Errorf("exposition lacks %q", tt.want)
			}
		})
	}
	for _, leak := range []string{"0b8c1e3a", "another-id", "passwd", "xxxxx", "BREW"} {
		if strings.Contains(text, leak) {
			t.Errorf("a raw path or method (%q) became a label", leak)
		}
	}
}

func TestRequireToken(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	h := m.Protected("s3cret-metrics-token")
	tests := []struct {
		name       string
		header     map[string]string
		wantStatus int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"token as prefix", map[string]string{"Authorization": "Bearer s3cret-metrics-token-and-more"}, http.StatusUnauthorized},
		{"basic scheme", map[string]string{"Authorization": "Basic s3cret-metrics-token"}, http.StatusUnauthorized},
		{"right token", map[string]string{"Authorization": "Bearer s3cret-metrics-token"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := scrape(t, h, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d", status, tt.wantStatus)
			}
			if got := strings.Contains(body, "go_goroutines"); got != (status == http.StatusOK) {
				t.Errorf("figures served = %v with status %d", got, status)
			}
		})
	}
	if status, _ := scrape(t, m.Protected(""), nil); status != http.StatusOK {
		t.Errorf("without a token configured: %d, want 200", status)
	}
}

func TestExpose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		prod        bool
		addr, token string
		want        metrics.Exposure
	}{
		{"dev: on the main listener", false, "", "", metrics.Exposure{OnMain: true}},
		{"dev with a token: main, protected", false, "", "t", metrics.Exposure{OnMain: true}},
		{"prod without settings: nowhere", true, "", "", metrics.Exposure{}},
		{"prod with a token: main, protected", true, "", "t", metrics.Exposure{OnMain: true}},
		{"prod with an address: only there", true, "127.0.0.1:9090", "", metrics.Exposure{Addr: "127.0.0.1:9090"}},
		{"dev with an address: only there", false, "127.0.0.1:9090", "t", metrics.Exposure{Addr: "127.0.0.1:9090"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metrics.Expose(tt.prod, tt.addr, tt.token); got != tt.want {
				t.Errorf("Expose = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// fakeImages is the image model at the edge of the world.
type fakeImages func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error)

func (f fakeImages) Generate(ctx context.Context, r wallpaper.ImageRequest) (*wallpaper.Image, error) {
	return f(ctx, r)
}

func TestDependencyOutcomes(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	tests := []struct {
		name        string
		err         error
		wantOutcome string
	}{
		{"success", nil, "ok"},
		{"classified image error", &wallpaper.ImageError{Code: "content_policy"}, "content_policy"},
		{"timeout", context.DeadlineExceeded, "timeout"},
		{"domain failure", failure.New(failure.Upstream, "upstream_error", "x"), "upstream_error"},
		{"anything else", errors.New("boom"), "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := m.ImageGenerator(fakeImages(func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &wallpaper.Image{}, nil
			}))
			if _, err := g.Generate(context.Background(), wallpaper.ImageRequest{}); !errors.Is(err, tt.err) {
				t.Fatalf("the decorator changed the error: %v", err)
			}
			_, text := scrape(t, m.Handler(), nil)
			want := `wallpaperd_dependency_calls_total{dependency="image_model",operation="generate",outcome="` + tt.wantOutcome + `"} 1`
			if !strings.Contains(text, want) {
				t.Errorf("exposition lacks %s", want)
			}
		})
	}
}

func TestQuotaCounters(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	_, text := scrape(t, m.Handler(), nil)
	if !strings.Contains(text, `wallpaperd_quota_units_total{event="refunded"} 0`) {
		t.Error("the refunded series is not there before the first refund")
	}
	m.QuotaSpent()
	m.QuotaSpent()
	m.QuotaRefunded()
	_, text = scrape(t, m.Handler(), nil)
	for _, want := range []string{`wallpaperd_quota_units_total{event="spent"} 2`, `wallpaperd_quota_units_total{event="refunded"} 1`} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
}

func TestPoolFigures(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	m := metrics.New()
	m.ObservePool(pool)
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if n, err := testutil.GatherAndCount(m.Registry(), "wallpaperd_db_pool_acquired_connections", "wallpaperd_db_pool_max_connections"); err != nil || n != 2 {
		t.Fatalf("pool series: %d, %v", n, err)
	}
	_, text := scrape(t, m.Handler(), nil)
	for _, want := range []string{"wallpaperd_db_pool_acquired_connections 1", "wallpaperd_db_pool_max_connections 10"} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func TestWatchJobs(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	events := make(chan *river.Event, 8)
	stats := &river.JobStatistics{RunDuration: 1500 * time.Millisecond}
	for _, ev := range []*river.Event{
		{Kind: river.EventKindJobCompleted, Job: &rivertype.JobRow{Kind: "generate_wallpaper", State: rivertype.JobStateCompleted}, JobStats: stats},
		{Kind: river.EventKindJobFailed, Job: &rivertype.JobRow{Kind: "generate_wallpaper", State: rivertype.JobStateRetryable}, JobStats: stats},
		{Kind: river.EventKindJobFailed, Job: &rivertype.JobRow{Kind: "generate_wallpaper", State: rivertype.JobStateDiscarded}, JobStats: stats},
		{Kind: river.EventKindJobCancelled, Job: &rivertype.JobRow{Kind: "generate_wallpaper", State: rivertype.JobStateCancelled}, JobStats: stats},
		nil,
	} {
		events <- ev
	}
	close(events)
	m.WatchJobs(context.Background(), events) // returns when the channel closes
	_, text := scrape(t, m.Handler(), nil)
	for _, outcome := range []string{"completed", "retryable", "discarded", "cancelled"} {
		want := `wallpaperd_jobs_total{kind="generate_wallpaper",outcome="` + outcome + `"} 1`
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if want := `wallpaperd_job_duration_seconds_sum{kind="generate_wallpaper",outcome="completed"} 1.5`; !strings.Contains(text, want) {
		t.Errorf("exposition lacks %s", want)
	}
}

// TestImageProviders: calls by provider and outcome, their latency, and
// each breaker's state.
func TestImageProviders(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.BreakerChanged("ark", "closed")
	m.BreakerChanged("openai", "closed")
	m.ProviderCalled("ark", "upstream_unavailable", 2*time.Second)
	m.ProviderCalled("openai", "ok", 30*time.Second)
	m.BreakerChanged("ark", "open")
	m.ProviderSkipped("ark")
	m.ProviderSkipped("ark")
	_, text := scrape(t, m.Handler(), nil)
	for _, want := range []string{
		`wallpaperd_image_provider_calls_total{outcome="upstream_unavailable",provider="ark"} 1`,
		`wallpaperd_image_provider_calls_total{outcome="breaker_open",provider="ark"} 2`,
		`wallpaperd_image_provider_calls_total{outcome="ok",provider="openai"} 1`,
		`wallpaperd_image_provider_call_duration_seconds_count{provider="ark"} 1`,
		`wallpaperd_image_provider_call_duration_seconds_sum{provider="openai"} 30`,
		`wallpaperd_image_provider_breaker_state{provider="ark"} 2`,
		`wallpaperd_image_provider_breaker_state{provider="openai"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
