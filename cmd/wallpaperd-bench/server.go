package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// server is a running wallpaperd process.
type server struct {
	base    string // http://127.0.0.1:PORT
	logPath string
	cmd     *exec.Cmd
	exited  chan error
	dir     string
}

// startServer builds wallpaperd (unless o.server names a binary) and runs
// it in dev mode against databaseURL on a free loopback port, its log in a
// file, with env on top of the bench's settings, and waits until it is
// ready.
func startServer(ctx context.Context, o options, databaseURL string, env ...string) (*server, error) {
	dir, err := os.MkdirTemp("", "wallpaperd-bench-")
	if err != nil {
		return nil, err
	}
	bin := o.server
	if bin == "" {
		if bin, err = testenv.Build(filepath.Join(dir, "wallpaperd")); err != nil {
			return nil, fmt.Errorf("building wallpaperd (run from inside the module, or pass -server): %w", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()

	s := &server{base: "http://" + addr, logPath: filepath.Join(dir, "wallpaperd.log"), dir: dir, exited: make(chan error, 1)}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin, "serve")
	// The working directory is the temporary one, so no .env is read.
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"APP_ENV=dev",
		"DATABASE_URL=" + databaseURL,
		"HTTP_ADDR=" + addr,
		"DATA_DIR=" + filepath.Join(dir, "data"),
		"SWAGGER_ENABLED=false",
		"WORKERS=2",
		// Two servers share the database (uncached, then cached): each is
		// its own replica.
		"REPLICA_ID=" + filepath.Base(dir),
		// The hot-like scenario logs in its users from one address; the
		// like limit stays at its default (likes.go).
		"LOGIN_RATE_PER_MINUTE=1000000",
	}
	s.cmd.Env = append(s.cmd.Env, env...)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting wallpaperd: %w", err)
	}
	go func() { s.exited <- s.cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("wallpaperd exited at start (%v); see %s", err, s.logPath)
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill() // the log stays for the reader
			<-s.exited
			return nil, fmt.Errorf("wallpaperd not ready within a minute; see %s", s.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the server gracefully (SIGTERM), then for good, and removes
// its directory (the binary built for it, its data and its log).
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.RemoveAll(s.dir)
}

// cpuTime is the CPU time (user and system) the server has used so far,
// from /proc/PID/stat; 0 where there is no /proc.
func (s *server) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: the fields start after its ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	// Linux reports clock ticks of 1/100 s (USER_HZ) on every platform Go supports.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
