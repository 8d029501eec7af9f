package apptest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// Process is wallpaperd running as the built binary (`wallpaperd serve`),
// for the tests about the process itself: signals, crashes, its listeners,
// a proxy in front of it.
type Process struct {
	// Addr is where the API listens (host:port), read from its log.
	Addr string
	// Env is the environment it was started with.
	Env map[string]string

	cmd    *exec.Cmd
	log    *Log
	exited chan struct{}
	err    error // how it ended; set when exited is closed
}

// Log collects what a process prints; safe for concurrent use.
type Log struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serving matches the line serve logs once it listens, in text (dev) and
// JSON (prod) form.
var serving = regexp.MustCompile(`msg=serving addr=(\S+)|"msg":"serving","addr":"([^"]+)"`)

// ProcessDefaults are the settings every test process starts from: dev,
// a free loopback port, a data directory of its own, a fresh database and
// a replica id of its own (a test restarting "the same" replica passes
// REPLICA_ID).
func ProcessDefaults(t testing.TB) map[string]string {
	return map[string]string{
		"APP_ENV":      "dev",
		"HTTP_ADDR":    "127.0.0.1:0",
		"DATA_DIR":     t.TempDir(),
		"DATABASE_URL": pgtest.NewURL(t),
		"JWT_SECRET":   JWTSecret,
		"REPLICA_ID":   ReplicaID(),
	}
}

// Start runs the binary with ProcessDefaults overlaid by env and waits
// until it serves. When the test ends it is stopped (SIGTERM, then SIGKILL)
// and, if the test failed, its log is shown.
func Start(t testing.TB, env map[string]string) *Process {
	t.Helper()
	full := ProcessDefaults(t)
	maps.Copy(full, env)
	p := &Process{Env: full, log: &Log{}, exited: make(chan struct{})}
	p.cmd = exec.Command(testenv.Binary(t), "serve")
	p.cmd.Dir = t.TempDir() // no developer's .env is read
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range full {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.Stop(20 * time.Second)
		if t.Failed() {
			t.Logf("wallpaperd log:\n%s", tail(p.log.String(), 16000))
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		if m := serving.FindStringSubmatch(p.log.String()); m != nil {
			p.Addr = m[1] + m[2]
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

// URL is the API's base URL over plain HTTP.
func (p *Process) URL() string { return "http://" + p.Addr }

// Log is everything the process printed so far.
func (p *Process) Log() string { return p.log.String() }

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling wallpaperd: %v", err)
	}
}

// Kill ends the process at once (SIGKILL), as a crash would, and waits
// for it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Wait waits up to d for the process to exit and returns how it ended;
// ended is false when it is still running.
func (p *Process) Wait(d time.Duration) (ended bool, err error) {
	select {
	case <-p.exited:
		return true, p.err
	case <-time.After(d):
		return false, nil
	}
}

// Stop asks the process to shut down (SIGTERM) and kills it after grace.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if ended, _ := p.Wait(grace); !ended {
		p.Kill()
	}
}

// Call sends a JSON request and decodes a 2xx answer into out (when not
// nil); it returns the status.
func (p *Process) Call(t testing.TB, method, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, p.URL()+path, strings.NewReader(body))
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
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// Login logs in with the dev code dev-NAME and returns the access token.
func (p *Process) Login(t testing.TB, name string) string {
	t.Helper()
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if st := p.Call(t, http.MethodPost, "/api/v1/auth/login", "", fmt.Sprintf(`{"code":"dev-%s"}`, name), &s); st != http.StatusOK {
		t.Fatalf("login %s: %d", name, st)
	}
	return s.AccessToken
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
