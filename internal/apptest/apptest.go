// Package apptest starts wallpaperd for tests, in one of two ways: New
// builds the whole service in the test's process (app.New on a fresh
// database, with fakes for WeChat and the image API and local or real S3
// storage when asked), and Start runs the built binary as a process the
// test can signal. Every HTTP test of every package uses one of the two.
package apptest

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/app"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/storage/storagetest"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// JWTSecret is the secret every test service signs tokens with.
const JWTSecret = "test-secret-test-secret-test-secret-0123"

// Options shape one service under test. The zero value is the dev
// service: dev login, the offline painter, local storage.
type Options struct {
	// Vars are settings on top of the test defaults (dev, a fresh
	// DATA_DIR, fast retries, JWTSecret); they win over what the options
	// below set.
	Vars map[string]string
	// DatabaseURL is the database to use; empty: a fresh one.
	DatabaseURL string
	// WeChat starts a fake WeChat and configures the service against it
	// (no dev login; log in with wechattest's codes, e.g. "ok-NAME").
	WeChat bool
	// OpenAI starts a fake OpenAI Images API and paints with it
	// (IMAGE_MODEL from Vars, else the default).
	OpenAI bool
	// S3 starts a real S3 server (versitygw) and stores images there.
	S3 bool
	// S3PublicBaseURL, with S3, lets anyone GET the bucket's public/
	// objects without a signature (a bucket policy, as an operator sets up
	// for a CDN) and points S3_PUBLIC_BASE_URL at the bucket, so public
	// images get unsigned URLs.
	S3PublicBaseURL bool
	// NoWorkers leaves the job queue stopped.
	NoWorkers bool
	// Logger receives the service's log; nil: kept (info and up) and its
	// tail printed when the test fails, without the requests answered
	// below 500.
	Logger *slog.Logger
	// Tracer sees every query the service sends (to count them).
	Tracer pgx.QueryTracer
}

// Service is the whole service running in the test's process.
type Service struct {
	Config *config.Config
	App    *app.App
	Pool   *pgxpool.Pool
	// API sends requests straight to the handler, checking each request
	// and response against docs/swagger.json.
	API *apitest.Client
	// URL is a real listener serving the same handler (for downloads and
	// clients that need a socket).
	URL string

	WeChat *wechattest.Server  // with Options.WeChat
	OpenAI *imagegentest.Fake  // with Options.OpenAI
	S3     *storagetest.Server // with Options.S3
}

// Defaults are the settings every test service starts from.
func Defaults(t testing.TB) map[string]string {
	return map[string]string{
		"APP_ENV":          "dev",
		"DATA_DIR":         t.TempDir(),
		"JOB_RETRY_BASE":   "50ms",
		"WORKERS":          "4",
		"SHUTDOWN_TIMEOUT": "4s",
		"JWT_SECRET":       JWTSecret,
		// Services in one test may share a database: each is a replica.
		"REPLICA_ID": ReplicaID(),
	}
}

// ReplicaID is a replica id no other test service has.
func ReplicaID() string { return "test-" + uuid.NewString()[:13] }

// New builds and starts the service; it stops when the test ends.
func New(t testing.TB, o Options) *Service {
	t.Helper()
	s := &Service{}
	vars := Defaults(t)
	if o.WeChat {
		s.WeChat = wechattest.New(t)
		vars["WECHAT_APP_ID"] = wechattest.AppID
		vars["WECHAT_APP_SECRET"] = wechattest.AppSecret
		vars["WECHAT_API_BASE_URL"] = s.WeChat.URL
	}
	if o.OpenAI {
		s.OpenAI = imagegentest.NewFakeOpenAI(t)
		vars["OPENAI_API_KEY"] = imagegentest.APIKey
		vars["OPENAI_BASE_URL"] = s.OpenAI.BaseURL()
		vars["IMAGE_FETCH_ALLOW_PRIVATE"] = "true" // the fake serves its images over http on loopback
	}
	if o.S3 {
		s.S3 = storagetest.Start(t)
		c := s.S3.Config
		vars["S3_BUCKET"], vars["S3_REGION"], vars["S3_ENDPOINT"] = c.Bucket, c.Region, c.Endpoint
		vars["S3_FORCE_PATH_STYLE"] = "true"
		vars["S3_ACCESS_KEY_ID"], vars["S3_SECRET_ACCESS_KEY"] = c.AccessKeyID, c.SecretAccessKey
		if o.S3PublicBaseURL {
			vars["S3_PUBLIC_BASE_URL"] = s.S3.AllowAnonymousGet(t, storage.PublicPrefix)
		}
	}
	maps.Copy(vars, o.Vars)
	if o.DatabaseURL == "" {
		o.DatabaseURL = pgtest.NewURL(t)
	}
	vars["DATABASE_URL"] = o.DatabaseURL

	cfg, err := config.Parse(vars)
	if err != nil {
		t.Fatal(err)
	}
	s.Config = cfg
	logger := o.Logger
	if logger == nil {
		log := &Log{}
		logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo}))
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("wallpaperd log (without requests answered below 500):\n%s", tail(withoutRequests(log.String()), 16000))
			}
		})
	}
	ctx := context.Background()
	s.Pool, err = postgres.Open(ctx, o.DatabaseURL, postgres.PoolConfig{MaxConns: 20, Tracer: o.Tracer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Pool.Close)
	s.App, err = app.New(ctx, cfg, app.Deps{Pool: s.Pool, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if !o.NoWorkers {
		s.startWorkers(t)
	}
	srv := httptest.NewServer(s.App.Handler)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.API = apitest.New(t, s.App.Handler)
	return s
}

// startWorkers runs the workers as serve runs them: started, then stopped
// within the shutdown bound when the test ends.
func (s *Service) startWorkers(t testing.TB) {
	t.Helper()
	runCtx, cancel := context.WithCancel(context.Background())
	if err := s.App.Start(runCtx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cancel()
		stopCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
		defer stop()
		// A slow stop is not this harness's business (the SIGTERM process
		// test holds shutdown to its bound); on a loaded machine a job in
		// the middle of resizing an image can outlast it.
		if err := s.App.Stop(stopCtx); err != nil {
			t.Logf("stopping the workers: %v", err)
		}
	})
}

// Login logs in as name: the dev code dev-NAME, or with Options.WeChat the
// fake's code ok-NAME. The test ends unless it succeeds.
func (s *Service) Login(t testing.TB, name string) httpapi.Session {
	t.Helper()
	code := "dev-" + name
	if s.WeChat != nil {
		code = "ok-" + name
	}
	res := s.API.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": code})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", name, res.Status, res.Body)
	}
	var session httpapi.Session
	res.JSON(t, &session)
	return session
}

// Token logs in as name and returns the access token.
func (s *Service) Token(t testing.TB, name string) string {
	t.Helper()
	return s.Login(t, name).AccessToken
}

// Submit posts a generation.
func (s *Service) Submit(t testing.TB, token string, body any, opts ...apitest.Option) *apitest.Response {
	t.Helper()
	return s.API.Do(http.MethodPost, "/api/v1/generations", body, append(opts, apitest.Bearer(token))...)
}

// Generate submits prompt at the smallest size (painting and thumbnailing
// under -race on a busy machine is what these tests wait for most) and
// returns the generation's id; the test ends unless it is accepted.
func (s *Service) Generate(t testing.TB, token, prompt string) string {
	t.Helper()
	res := s.Submit(t, token, map[string]string{"prompt": prompt, "size": "1024x1024"})
	if res.Status != http.StatusAccepted {
		t.Fatalf("submit %q: %d %s", prompt, res.Status, res.Body)
	}
	var g httpapi.Generation
	res.JSON(t, &g)
	return g.ID
}

// Wait polls a generation until it has succeeded or failed; the test ends
// when it has not within the deadline.
func (s *Service) Wait(t testing.TB, token, id string, within time.Duration) httpapi.Generation {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		res := s.API.Do(http.MethodGet, "/api/v1/generations/"+id, nil, apitest.Bearer(token))
		if res.Status != http.StatusOK {
			t.Fatalf("polling %s: %d %s", id, res.Status, res.Body)
		}
		var g httpapi.Generation
		res.JSON(t, &g)
		if g.Status == "succeeded" || g.Status == "failed" {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("generation %s still %s after %v", id, g.Status, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Me reads the caller's profile with its quota.
func (s *Service) Me(t testing.TB, token string) httpapi.Me {
	t.Helper()
	res := s.API.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(token))
	if res.Status != http.StatusOK {
		t.Fatalf("GET /me: %d %s", res.Status, res.Body)
	}
	var me httpapi.Me
	res.JSON(t, &me)
	return me
}

// Download GETs a URL the API returned, from the real listener when it is
// a local-storage URL (the in-process client's requests carry the host
// example.com, so those URLs point there).
func (s *Service) Download(t testing.TB, rawURL string) (*http.Response, []byte) {
	t.Helper()
	u := rawURL
	if rest, ok := strings.CutPrefix(u, "http://example.com/"); ok {
		u = s.URL + "/" + rest
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

// Metric reads one sample of the service's metrics, 0 when absent.
func (s *Service) Metric(t testing.TB, series string) float64 {
	t.Helper()
	return Scrape(t, s.App.Metrics.Handler(), series)
}

// Scrape reads one sample from a /metrics handler, 0 when absent.
func Scrape(t testing.TB, h http.Handler, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return 0
}

// WaitFor polls cond until it holds; the test ends when it does not within
// d, with what and the explanations in the message.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			var why []string
			for _, e := range explain {
				why = append(why, e())
			}
			t.Fatalf("waited %v for %s %s", d, what, strings.Join(why, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AdminToken adds admin name (as `wallpaperd admin add NAME` does) and
// returns its token.
func (s *Service) AdminToken(t testing.TB, name string) string {
	t.Helper()
	_, token, err := admin.NewAdmins(postgres.NewAdmins(s.Pool, nil), time.Hour).Add(context.Background(), name)
	if err != nil {
		t.Fatalf("adding admin %s: %v", name, err)
	}
	return token
}

// withoutRequests drops from a text log the lines of HTTP requests
// answered below 500: a test polling for a minute would fill the tail.
func withoutRequests(log string) string {
	var b strings.Builder
	for line := range strings.Lines(log) {
		if strings.Contains(line, `msg="http request"`) && !strings.Contains(line, " status=5") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
