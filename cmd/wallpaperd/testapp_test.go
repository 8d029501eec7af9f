package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// TestMain drops the template database this process cloned test
// databases from.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testApp is the whole service as serve wires it, on a fresh database,
// with its workers running: the HTTP API through the spec-checking client,
// and a real listener for downloading the images it links to.
type testApp struct {
	cfg     *config.Config
	app     *app
	pool    *pgxpool.Pool
	handler http.Handler
	api     *apitest.Client
	srv     *httptest.Server
}

// testVars are the settings every test app starts from: dev defaults, a
// fresh data directory, fast retries.
func testVars(t *testing.T) map[string]string {
	return map[string]string{
		"DATA_DIR":         t.TempDir(),
		"JOB_RETRY_BASE":   "50ms",
		"WORKERS":          "4",
		"SHUTDOWN_TIMEOUT": "4s",
		"JWT_SECRET":       "test-secret-test-secret-test-secret-0123",
	}
}

// newTestApp starts the service with vars on databaseURL (empty: a fresh
// database) and stops it when the test ends.
func newTestApp(t *testing.T, vars map[string]string, databaseURL string) *testApp {
	t.Helper()
	if databaseURL == "" {
		databaseURL = pgtest.NewURL(t)
	}
	vars["DATABASE_URL"] = databaseURL
	cfg, err := config.Parse(vars)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx := context.Background()
	pool, err := postgres.Open(ctx, databaseURL, postgres.PoolConfig{MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	a, err := newApp(ctx, cfg, logger, pool)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := httpapi.New(a.httpConfig(cfg), a.httpDeps(logger, func(context.Context) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	// The workers run as serve runs them: started, then stopped within
	// the shutdown bound.
	runCtx, cancel := context.WithCancel(ctx)
	if err := a.start(runCtx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cancel()
		stopCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
		defer stop()
		// A slow stop is not this harness's business (the SIGTERM process
		// test holds shutdown to its bound); on a loaded machine a job in
		// the middle of resizing an image can outlast it.
		if err := a.stop(stopCtx); err != nil {
			t.Logf("stopping the workers: %v", err)
		}
	})
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &testApp{cfg: cfg, app: a, pool: pool, handler: handler, api: apitest.New(t, handler), srv: srv}
}

// login logs in with a dev code and returns the access token.
func (ta *testApp) login(t *testing.T, name string) string {
	t.Helper()
	res := ta.api.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": "dev-" + name})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", name, res.Status, res.Body)
	}
	var s httpapi.Session
	res.JSON(t, &s)
	return s.AccessToken
}

// submit posts a generation and returns the response.
func (ta *testApp) submit(t *testing.T, token string, body any, opts ...apitest.Option) *apitest.Response {
	t.Helper()
	return ta.api.Do(http.MethodPost, "/api/v1/generations", body, append(opts, apitest.Bearer(token))...)
}

// wait polls a generation until it is finished or the deadline passes.
func (ta *testApp) wait(t *testing.T, token, id string) httpapi.Generation {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		res := ta.api.Do(http.MethodGet, "/api/v1/generations/"+id, nil, apitest.Bearer(token))
		if res.Status != http.StatusOK {
			t.Fatalf("polling %s: %d %s", id, res.Status, res.Body)
		}
		var g httpapi.Generation
		res.JSON(t, &g)
		if g.Status == "succeeded" || g.Status == "failed" {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("generation %s still %s after 90s", id, g.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// quota reads the caller's quota through GET /me.
func (ta *testApp) quota(t *testing.T, token string) httpapi.Quota {
	t.Helper()
	res := ta.api.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(token))
	if res.Status != http.StatusOK {
		t.Fatalf("GET /me: %d %s", res.Status, res.Body)
	}
	var me httpapi.Me
	res.JSON(t, &me)
	return me.Quota
}

// download GETs an image URL the API returned, from the real listener.
func (ta *testApp) download(t *testing.T, rawURL string) (*http.Response, []byte) {
	t.Helper()
	// The in-process client's requests carry the host example.com, so
	// local-storage URLs point there; the real listener serves them.
	u := rawURL
	if rest, ok := strings.CutPrefix(u, "http://example.com/"); ok {
		u = ta.srv.URL + "/" + rest
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
