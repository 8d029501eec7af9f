// Package testenv is what wallpaperd's tests need from the machine they
// run on: a free loopback port, the module's root, the wallpaperd binary
// built once per test process, and the outside programs the tests drive
// (versitygw, nginx, Caddy, exiftool, Chromium).
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// FreeAddr asks the kernel for a free loopback address ("127.0.0.1:PORT").
// The port is free when asked for; a program that cannot take an open
// listener binds it a moment later, so another process could take it in
// between: callers that start such programs retry on a failed start.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FreePort is FreeAddr's port.
func FreePort(tb testing.TB) int {
	tb.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(tb))
	n, err := strconv.Atoi(port)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// ModuleRoot walks up from the working directory (a test runs in its
// package's directory) to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path is a file under the module root, for tests that read the tree
// (docs/swagger.json, deploy/…).
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// binaryPrefix names the directories the binary is built into, one per
// test process.
const binaryPrefix = "wallpaperd-test-bin-"

var binary = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("WALLPAPERD_BIN"); p != "" {
		return p, nil
	}
	// No TestMain owns the cleanup, so each process removes the
	// directories of test processes that have ended.
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), binaryPrefix+"*"))
	for _, d := range stale {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), binaryPrefix))
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d", binaryPrefix, os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return Build(filepath.Join(dir, "wallpaperd"))
})

// Binary is wallpaperd built from this tree once per test process (or
// $WALLPAPERD_BIN when set).
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := binary()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Build compiles ./cmd/wallpaperd of this module into bin.
func Build(bin string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/wallpaperd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: go build ./cmd/wallpaperd: %v\n%s", err, out)
	}
	return bin, nil
}

// Program finds an outside program the test needs: $<NAME>_BIN, else name
// on $PATH, else one of the other places given (absolute, or relative to
// the module root, like .tools/bin/versitygw). Without it the test is
// skipped, unless the environment variable require is "1" (make test sets
// them), in which case it fails: CI must never skip such a test silently.
func Program(tb testing.TB, name, require string, places ...string) string {
	tb.Helper()
	envVar := strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_BIN"
	if p := os.Getenv(envVar); p != "" {
		if isExecutable(p) {
			return p
		}
		tb.Fatalf("testenv: %s=%s is not an executable file", envVar, p)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	root, _ := ModuleRoot()
	for _, p := range places {
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		if isExecutable(p) {
			return p
		}
	}
	msg := fmt.Sprintf("testenv: no %s: not in %s, on PATH or in %v", name, envVar, places)
	if require != "" && os.Getenv(require) == "1" {
		tb.Fatalf("%s, and %s=1 requires it (make test installs it)", msg, require)
	}
	tb.Skipf("%s (make test installs it)", msg)
	return ""
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
