package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// slowModel is the fake OpenAI behind a proxy that holds every image
// request for a delay the test sets: a model that takes its time.
type slowModel struct {
	fake     *imagegentest.Fake
	srv      *httptest.Server
	delay    atomic.Int64 // nanoseconds
	received atomic.Int64

	mu    sync.Mutex
	first []time.Duration // delays of the next requests, before delay applies
}

// nextDelay is the delay of the request arriving now.
func (m *slowModel) nextDelay() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.first) > 0 {
		d := m.first[0]
		m.first = m.first[1:]
		return d
	}
	return time.Duration(m.delay.Load())
}

func newSlowModel(t *testing.T, delay time.Duration) *slowModel {
	t.Helper()
	m := &slowModel{fake: imagegentest.NewFakeOpenAI(t)}
	m.delay.Store(int64(delay))
	target, err := url.Parse(strings.TrimSuffix(m.fake.BaseURL(), "/v1"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.received.Add(1)
		select {
		case <-time.After(m.nextDelay()):
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *slowModel) baseURL() string { return m.srv.URL + "/v1" }

// submit posts n generations to the process and returns their ids.
func submit(t *testing.T, p *apptest.Process, token string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		var g struct {
			ID string `json:"id"`
		}
		if st := p.Call(t, http.MethodPost, "/api/v1/generations", token, fmt.Sprintf(`{"prompt":"process fault %d"}`, i), &g); st != http.StatusAccepted {
			t.Fatalf("submit: %d", st)
		}
		ids = append(ids, g.ID)
	}
	return ids
}

// processEnv is the environment of a wallpaperd process on dbURL painting
// with model.
func processEnv(t *testing.T, dbURL string, model *slowModel, extra map[string]string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":              dbURL,
		"IMAGE_FETCH_ALLOW_PRIVATE": "true", "OPENAI_API_KEY": imagegentest.APIKey, "OPENAI_BASE_URL": model.baseURL(),
		"WORKERS": "4", "JOB_RETRY_BASE": "100ms", "JOB_MAX_ATTEMPTS": "5",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// statuses counts the generations by status.
func statuses(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT status, count(*) FROM generations GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(context.Background(), url, postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestFaultProcessKilled: wallpaperd is SIGKILLed while its jobs run; the
// next process rescues them (River notices the jobs of a dead process
// after JOB_RESCUE_AFTER) and every one finishes, with the quota exact.
func TestFaultProcessKilled(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewURL(t)
	pool := openPool(t, dbURL)
	model := newSlowModel(t, 2*time.Second)
	env := processEnv(t, dbURL, model, map[string]string{"JOB_TIMEOUT": "4s", "JOB_RESCUE_AFTER": "5s"})

	first := apptest.Start(t, env)
	token := first.Login(t, "killed")
	ids := submit(t, first, token, 4)
	apptest.WaitFor(t, 60*time.Second, "the model to be painting", func() bool { return model.received.Load() >= 2 })
	first.Kill()
	if st := statuses(t, pool); st["succeeded"] == len(ids) {
		t.Fatalf("every job finished before the kill (%v): the test tested nothing", st)
	}

	model.delay.Store(int64(100 * time.Millisecond))
	second := apptest.Start(t, env)
	apptest.WaitFor(t, 120*time.Second, "every generation to finish", func() bool {
		st := statuses(t, pool)
		return st["queued"]+st["running"] == 0
	}, func() string { return fmt.Sprint(statuses(t, pool)) })
	if st := statuses(t, pool); st["succeeded"] != len(ids) {
		t.Errorf("after the restart: %v, want %d succeeded", st, len(ids))
	}
	var used int
	if st := second.Call(t, http.MethodGet, "/api/v1/me", token, "", &struct {
		Quota struct {
			UsedToday *int `json:"used_today"`
		} `json:"quota"`
	}{}); st != http.StatusOK {
		t.Fatalf("GET /me on the new process: %d", st)
	}
	if err := pool.QueryRow(context.Background(), `SELECT COALESCE(sum(used), 0) FROM quota_usage`).Scan(&used); err != nil {
		t.Fatal(err)
	}
	if used != len(ids) {
		t.Errorf("quota used %d, want %d", used, len(ids))
	}
}

// TestFaultProcessTerminated: on SIGTERM an HTTP request in flight still
// gets its answer, a running job that can finish within the soft stop
// finishes, one that outlasts it is cancelled and released for retry (not
// lost, not failed), the process exits within its shutdown bound, and the
// next process finishes the released job.
func TestFaultProcessTerminated(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewURL(t)
	pool := openPool(t, dbURL)
	// One image comes quickly, the other takes longer than the soft stop
	// (3/4 of SHUTDOWN_TIMEOUT: 6 s).
	model := newSlowModel(t, time.Minute)
	model.first = []time.Duration{500 * time.Millisecond}
	const shutdown = 8 * time.Second
	env := processEnv(t, dbURL, model, map[string]string{"JOB_TIMEOUT": "60s", "SHUTDOWN_TIMEOUT": shutdown.String()})

	p := apptest.Start(t, env)
	token := p.Login(t, "terminated")
	ids := submit(t, p, token, 2)
	apptest.WaitFor(t, 60*time.Second, "the model to be painting", func() bool { return model.received.Load() >= int64(len(ids)) })

	// A request in flight: headers and half the body sent.
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"code":"dev-inflight"}`
	fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:8])
	time.Sleep(200 * time.Millisecond) // let the server start reading it

	start := time.Now()
	p.Signal(t, syscall.SIGTERM)
	apptest.WaitFor(t, 30*time.Second, "the shutdown to begin", func() bool { return strings.Contains(p.Log(), "shutting down") })
	if _, err := io.WriteString(conn, body[8:]); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the in-flight login answered %d, want 200", resp.StatusCode)
	}

	ended, exitErr := p.Wait(shutdown + 20*time.Second)
	if !ended {
		t.Fatalf("wallpaperd still running %v after SIGTERM", time.Since(start))
	}
	elapsed := time.Since(start)
	if exitErr != nil {
		t.Errorf("exit: %v", exitErr)
	}
	// Soft stop, then the hard cancel River gets 10 s for: the bound.
	if bound := shutdown + 10*time.Second; elapsed > bound {
		t.Errorf("exited %v after SIGTERM, bound %v", elapsed, bound)
	}
	t.Logf("exited %v after SIGTERM", elapsed)

	// Nothing lost: the jobs were released for retry, nothing failed, the
	// quota units are still spent.
	var running, released int
	err = pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state = 'running'),
		count(*) FILTER (WHERE state IN ('available', 'retryable', 'scheduled'))
		FROM river_job WHERE kind = 'generate_wallpaper'`).Scan(&running, &released)
	if err != nil {
		t.Fatal(err)
	}
	if running != 0 || released != 1 {
		t.Errorf("after SIGTERM: %d jobs still marked running, %d released; want 0 and 1", running, released)
	}
	if st := statuses(t, pool); st["failed"] != 0 || st["succeeded"] != 1 {
		t.Errorf("after SIGTERM: %v; want the quick job succeeded and the slow one waiting for a retry", st)
	}
	if elapsed < shutdown*3/4-time.Second {
		t.Errorf("exited %v after SIGTERM: the slow job was not given the soft stop", elapsed)
	}

	model.delay.Store(int64(100 * time.Millisecond))
	apptest.Start(t, env)
	apptest.WaitFor(t, 120*time.Second, "every generation to finish", func() bool {
		st := statuses(t, pool)
		return st["queued"]+st["running"] == 0
	}, func() string { return fmt.Sprint(statuses(t, pool)) })
	if st := statuses(t, pool); st["succeeded"] != len(ids) {
		t.Errorf("after the restart: %v, want %d succeeded", st, len(ids))
	}
}
