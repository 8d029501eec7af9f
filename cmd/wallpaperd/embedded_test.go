package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// TestEmbeddedPostgres runs the real binary in dev mode where no Postgres
// answers: it must start an embedded server under DATA_DIR with the
// machine's own binaries, migrate, and serve /readyz; `wallpaperd admin
// add` beside it shares that server instead of stopping it. initdb refuses
// root, so as root the binary runs as nobody.
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

	var cred *syscall.Credential
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
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	port := testenv.FreePort(t)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dataDir,
		"APP_ENV=dev",
		"DATA_DIR=" + dataDir,
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"LOCAL_PG_ADDR=127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), // nothing answers there
		"PG_BIN_DIR=" + os.Getenv("PG_BIN_DIR"),
	}
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dataDir, env
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	cmd := command("serve")
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

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ready := func() (int, error) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("wallpaperd exited (%v):\n%s", err, out.String())
		default:
		}
		if status, _ := ready(); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 90s:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postgres", "data", "PG_VERSION")); err != nil {
		t.Errorf("no embedded data directory under DATA_DIR: %v", err)
	}

	// `wallpaperd admin add` with the same DATA_DIR while the server runs
	// (`make run` in one terminal, the command in another) uses the
	// embedded server the server started, and leaves it running.
	add := command("admin", "add", "ops")
	var addErr bytes.Buffer
	add.Stderr = &addErr
	added, err := add.Output()
	if err != nil {
		t.Fatalf("admin add while serving: %v\n%s\nserver:\n%s", err, addErr.String(), out.String())
	}
	token := regexp.MustCompile(`wpa_\S+`).Find(added)
	if token == nil {
		t.Fatalf("admin add printed no token:\n%s", added)
	}
	if status, err := ready(); status != http.StatusOK {
		t.Fatalf("/readyz after admin add: %d (%v); the server lost its database:\n%s", status, err, out.String())
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/admin/queue", nil)
	req.Header.Set("Authorization", "Bearer "+string(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the admin added beside the server: GET /api/v1/admin/queue answers %d, want 200 (one database)", resp.StatusCode)
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
