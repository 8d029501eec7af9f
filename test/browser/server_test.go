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
	"regexp"
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
		// Gin lists its routes in debug mode; routes() reads that list.
		"GIN_MODE=debug",
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

var ginRoute = regexp.MustCompile(`(?m)^\[GIN-debug\] (GET|POST|PUT|PATCH|DELETE)\s+(\S+)\s+-->`)

// routes lists the API routes the binary registered, read from Gin's
// debug listing, in the spec's spelling ({id} for :id). Routes that serve
// files rather than the API (/swagger, /media, /metrics) are left out.
func (s *server) routes(t *testing.T) map[operation]bool {
	t.Helper()
	found := map[operation]bool{}
	for _, m := range ginRoute.FindAllStringSubmatch(s.logs.String(), -1) {
		path := m[2]
		if strings.Contains(path, "*") || path == "/metrics" {
			continue
		}
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		found[operation{strings.ToLower(m[1]), strings.Join(parts, "/")}] = true
	}
	if len(found) == 0 {
		t.Fatal("wallpaperd printed no Gin route listing (is GIN_MODE=debug honoured?)")
	}
	return found
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
