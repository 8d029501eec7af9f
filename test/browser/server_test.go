//go:build browser

package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// moduleRoot walks up from the package directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// wallpaperdBinary is $WALLPAPERD_BIN, or a binary built from this tree
// into the test's temporary directory.
func wallpaperdBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WALLPAPERD_BIN"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "wallpaperd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/wallpaperd")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wallpaperd: %v\n%s", err, out)
	}
	return bin
}

// freeAddr asks the kernel for a free port on the loopback interface.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// lockedBuffer collects the server's log for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is a running wallpaperd.
type server struct {
	base string        // http://127.0.0.1:PORT
	logs *lockedBuffer // everything it printed
}

// startWallpaperd runs the real binary with the dev defaults on a fresh
// database and a free port, and waits until /readyz answers 200. The server
// is stopped when the test ends.
func startWallpaperd(t *testing.T) *server {
	t.Helper()
	bin := wallpaperdBinary(t)
	dbURL := pgtest.NewURL(t)
	addr := freeAddr(t)
	dir := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve")
	// A directory of its own, so no developer's .env is read.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"APP_ENV=dev",
		"HTTP_ADDR="+addr,
		"DATABASE_URL="+dbURL,
		"DATA_DIR="+filepath.Join(dir, "var"),
		"SWAGGER_ENABLED=true",
		"WORKERS=2",
	)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// SIGTERM first so the server shuts down and lets go of the database
	// before pgtest drops it.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start wallpaperd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("wallpaperd log:\n%s", tail(logs.String(), 8000))
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("wallpaperd exited before it was ready: %v\n%s", err, tail(logs.String(), 8000))
		default:
		}
		if res, err := http.Get(base + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return &server{base: base, logs: logs}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("wallpaperd not ready after 90s\n%s", tail(logs.String(), 8000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// productEndpoints is the endpoint table of PRODUCT.md, the contract the
// API is built to, plus the probes outside /api/v1.
var productEndpoints = []operation{
	{"get", "/healthz"},
	{"get", "/readyz"},
	{"post", "/api/v1/auth/login"},
	{"post", "/api/v1/auth/refresh"},
	{"post", "/api/v1/auth/logout"},
	{"get", "/api/v1/me"},
	{"patch", "/api/v1/me"},
	{"put", "/api/v1/me/avatar"},
	{"post", "/api/v1/generations"},
	{"get", "/api/v1/generations/{id}"},
	{"get", "/api/v1/me/generations"},
	{"get", "/api/v1/wallpapers"},
	{"get", "/api/v1/wallpapers/{id}"},
	{"patch", "/api/v1/wallpapers/{id}"},
	{"delete", "/api/v1/wallpapers/{id}"},
	{"put", "/api/v1/wallpapers/{id}/like"},
	{"delete", "/api/v1/wallpapers/{id}/like"},
	{"get", "/api/v1/me/wallpapers"},
}

// serves reports whether the server has a route for op: anything but the
// router's own "no such endpoint" 404 or "method not allowed" answer. The
// probe carries no token and no body, so it changes nothing.
func (s *server) serves(t *testing.T, op operation) bool {
	t.Helper()
	path := strings.ReplaceAll(op.Path, "{id}", "00000000-0000-4000-8000-000000000000")
	req, err := http.NewRequest(strings.ToUpper(op.Method), s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("probe %s: %v", op, err)
	}
	defer res.Body.Close()
	var body struct{ Code, Message string }
	_ = json.NewDecoder(res.Body).Decode(&body)
	switch {
	case res.StatusCode == http.StatusNotFound && body.Message == "no such endpoint":
		return false
	case body.Code == "method_not_allowed":
		return false
	}
	return true
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// devLogin logs in with a dev code and returns the access token.
func devLogin(base, code string) (string, error) {
	body, _ := json.Marshal(map[string]string{"code": code})
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("decode the login answer: %w", err)
	}
	if res.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", errors.New("login answered " + res.Status)
	}
	return out.AccessToken, nil
}

// operation is one documented method and path.
type operation struct{ Method, Path string }

func (o operation) String() string { return strings.ToUpper(o.Method) + " " + o.Path }

// documentedOperations reads docs/swagger.json, the document the binary
// serves, for the operations Swagger UI must show.
func documentedOperations(t *testing.T) map[operation]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "docs", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[operation]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch":
				ops[operation{method, path}] = true
			}
		}
	}
	return ops
}
