package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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

// binary builds wallpaperd once per test process, into a directory named
// for the process; the directories of test processes that have ended are
// removed first (no TestMain owns the cleanup).
var binary = sync.OnceValues(func() (string, error) {
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), "wallpaperd-faults-*"))
	for _, d := range stale {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "wallpaperd-faults-"))
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("wallpaperd-faults-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wallpaperd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

// proc is a running wallpaperd process.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	log    *syncLog
	exited chan struct{}
	err    error // set when exited is closed
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingAddr = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startProc runs the binary with env and waits until it serves.
func startProc(t *testing.T, env map[string]string) *proc {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(bin, "serve"), log: &syncLog{}, exited: make(chan struct{})}
	p.cmd.Dir = t.TempDir() // no .env from the source tree
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("wallpaperd log:\n%s", p.log)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := servingAddr.FindStringSubmatch(p.log.String()); m != nil {
			p.addr = m[1]
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("wallpaperd exited before serving: %v\n%s", p.err, p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wallpaperd does not serve:\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends a JSON request to the process and decodes the answer into out.
func (p *proc) call(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (p *proc) login(t *testing.T, name string) string {
	t.Helper()
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if st := p.call(t, http.MethodPost, "/api/v1/auth/login", "", `{"code":"dev-`+name+`"}`, &s); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	return s.AccessToken
}

func (p *proc) submit(t *testing.T, token string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		var g struct {
			ID string `json:"id"`
		}
		if st := p.call(t, http.MethodPost, "/api/v1/generations", token, fmt.Sprintf(`{"prompt":"process fault %d"}`, i), &g); st != http.StatusAccepted {
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
		"APP_ENV": "dev", "HTTP_ADDR": "127.0.0.1:0", "DATABASE_URL": dbURL, "DATA_DIR": t.TempDir(),
		"OPENAI_API_KEY": imagegentest.APIKey, "OPENAI_BASE_URL": model.baseURL(),
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

	first := startProc(t, env)
	token := first.login(t, "killed")
	ids := first.submit(t, token, 4)
	waitFor(t, 60*time.Second, "the model to be painting", func() bool { return model.received.Load() >= 2 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	if st := statuses(t, pool); st["succeeded"] == len(ids) {
		t.Fatalf("every job finished before the kill (%v): the test tested nothing", st)
	}

	model.delay.Store(int64(100 * time.Millisecond))
	second := startProc(t, env)
	waitFor(t, 120*time.Second, "every generation to finish", func() bool {
		st := statuses(t, pool)
		return st["queued"]+st["running"] == 0
	}, func() string { return fmt.Sprint(statuses(t, pool)) })
	if st := statuses(t, pool); st["succeeded"] != len(ids) {
		t.Errorf("after the restart: %v, want %d succeeded", st, len(ids))
	}
	var used int
	if st := second.call(t, http.MethodGet, "/api/v1/me", token, "", &struct {
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

	p := startProc(t, env)
	token := p.login(t, "terminated")
	ids := p.submit(t, token, 2)
	waitFor(t, 60*time.Second, "the model to be painting", func() bool { return model.received.Load() >= int64(len(ids)) })

	// A request in flight: headers and half the body sent.
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"code":"dev-inflight"}`
	fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:8])
	time.Sleep(200 * time.Millisecond) // let the server start reading it

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the shutdown to begin", func() bool { return strings.Contains(p.log.String(), "shutting down") })
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

	select {
	case <-p.exited:
	case <-time.After(shutdown + 20*time.Second):
		t.Fatalf("wallpaperd still running %v after SIGTERM", time.Since(start))
	}
	elapsed := time.Since(start)
	if p.err != nil {
		t.Errorf("exit: %v", p.err)
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
	startProc(t, env)
	waitFor(t, 120*time.Second, "every generation to finish", func() bool {
		st := statuses(t, pool)
		return st["queued"]+st["running"] == 0
	}, func() string { return fmt.Sprint(statuses(t, pool)) })
	if st := statuses(t, pool); st["succeeded"] != len(ids) {
		t.Errorf("after the restart: %v, want %d succeeded", st, len(ids))
	}
}
