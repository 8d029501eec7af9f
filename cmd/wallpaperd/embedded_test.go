package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// TestEmbeddedPostgres runs the real binary in dev mode where no Postgres
// answers: it must start an embedded server under DATA_DIR with the
// machine's own binaries, migrate, and serve /readyz. initdb refuses root,
// so as root the binary runs as nobody.
func TestEmbeddedPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a Postgres server")
	}
	if _, err := os.Stat("/usr/lib/postgresql"); err != nil && os.Getenv("PG_BIN_DIR") == "" {
		t.Skip("no local Postgres binaries (set PG_BIN_DIR)")
	}
	// A world-readable work directory: the unprivileged user must reach
	// the binary and own DATA_DIR.
	work, err := os.MkdirTemp("", "wpd-embedded-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	// A copy of the test process's build, where the unprivileged user can
	// run it.
	bin := filepath.Join(work, "wallpaperd")
	if err := copyFile(testenv.Binary(t), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(work, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "serve")
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Skip("running as root and there is no user nobody")
		}
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		if err := os.Chown(dataDir, uid, gid); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	port := testenv.FreePort(t)
	cmd.Dir = dataDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dataDir,
		"APP_ENV=dev",
		"DATA_DIR=" + dataDir,
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"LOCAL_PG_ADDR=127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), // nothing answers there
		"PG_BIN_DIR=" + os.Getenv("PG_BIN_DIR"),
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})

	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("wallpaperd exited (%v):\n%s", err, out.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 90s:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postgres", "data", "PG_VERSION")); err != nil {
		t.Errorf("no embedded data directory under DATA_DIR: %v", err)
	}
	// SIGTERM stops the service and its embedded server.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("wallpaperd did not stop on SIGTERM:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postgres", "data", "postmaster.pid")); err == nil {
		t.Errorf("the embedded Postgres still runs after wallpaperd stopped")
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, mode)
}
