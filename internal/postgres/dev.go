package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
	"github.com/gofrs/flock"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DevDatabaseName is the database dev mode creates and uses.
const DevDatabaseName = "wallpaperd"

// DevOptions says where dev mode finds or puts its Postgres.
type DevOptions struct {
	LocalAddr string // a running server to try first, e.g. 127.0.0.1:5432
	DataDir   string // the embedded server lives in DataDir/postgres
	BinDir    string // PG_BIN_DIR; empty: look for a local install
	Logger    *slog.Logger
}

// DevDatabase finds a database for dev mode: the local server when one
// answers (creating the wallpaperd database there if missing), otherwise an
// embedded Postgres under DataDir. stop shuts the embedded server down; it
// is a no-op for a local server.
func DevDatabase(ctx context.Context, o DevOptions) (dsn string, stop func() error, err error) {
	noop := func() error { return nil }
	if o.LocalAddr != "" && answers(o.LocalAddr) {
		host, port, _ := net.SplitHostPort(o.LocalAddr)
		admin := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", net.JoinHostPort(host, port))
		if err := EnsureDatabase(ctx, admin, DevDatabaseName); err != nil {
			return "", nil, fmt.Errorf("postgres: local server at %s answers but: %w (set DATABASE_URL to use another)", o.LocalAddr, err)
		}
		o.Logger.Info("using the local Postgres server", "addr", o.LocalAddr, "database", DevDatabaseName)
		return WithDatabase(admin, DevDatabaseName), noop, nil
	}
	return startEmbedded(ctx, o)
}

// EnsureDatabase creates the named database on the server adminURL points
// at, unless it exists.
func EnsureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connecting: %w", redact(err))
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("looking for database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created meanwhile by another process
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating database %q: %w", name, err)
	}
	return nil
}

// embeddedWait bounds how long a process waits for the embedded server
// another process owns (and may be starting) to answer.
const embeddedWait = 60 * time.Second

// startEmbedded starts the embedded server under DataDir, or uses the one
// another wallpaperd process started there: `wallpaperd admin add` during
// `make run` shares the live server instead of stopping it. The process
// that started the server owns it (an exclusive lock on owner.lock, which
// the operating system releases when the process dies, however it dies)
// and alone stops it; a server whose owner is gone was left behind by a
// killed process and is stopped, then started again.
func startEmbedded(ctx context.Context, o DevOptions) (string, func() error, error) {
	base, err := filepath.Abs(filepath.Join(o.DataDir, "postgres"))
	if err != nil {
		return "", nil, err
	}
	dataPath := filepath.Join(base, "data")
	runtimePath := filepath.Join(base, "runtime") // wiped by every start
	socketDir := filepath.Join(base, "socket")
	if err := os.MkdirAll(socketDir, 0o700); err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	owner := flock.New(filepath.Join(base, "owner.lock"))
	deadline := time.Now().Add(embeddedWait)
	for {
		locked, err := owner.TryLock()
		if err != nil {
			return "", nil, fmt.Errorf("postgres: locking the embedded server's directory: %w", err)
		}
		if locked {
			break
		}
		// Another process owns the server: use it once it is ready.
		if port, ok := readyPort(dataPath); ok {
			admin := fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			err := EnsureDatabase(ctx, admin, DevDatabaseName)
			if err == nil {
				o.Logger.Info("using the embedded Postgres another wallpaperd process runs", "data", dataPath, "port", port)
				return WithDatabase(admin, DevDatabaseName), func() error { return nil }, nil
			}
			o.Logger.Debug("the embedded Postgres of another process does not answer yet", "err", err)
		}
		if time.Now().After(deadline) {
			return "", nil, fmt.Errorf("postgres: another wallpaperd process holds the embedded server in %s, "+
				"but it did not answer within %v (set DATABASE_URL to use another)", dataPath, embeddedWait)
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	dsn, stop, err := ownEmbedded(ctx, o, dataPath, runtimePath, socketDir)
	if err != nil {
		_ = owner.Unlock()
		return "", nil, err
	}
	return dsn, func() error {
		err := stop()
		_ = owner.Unlock() // an error here changes nothing: the lock goes with the process
		return err
	}, nil
}

// ownEmbedded starts the embedded server, this process holding the owner
// lock.
func ownEmbedded(ctx context.Context, o DevOptions, dataPath, runtimePath, socketDir string) (string, func() error, error) {
	binaries, err := findBinaries(o.BinDir)
	if err != nil {
		return "", nil, err
	}
	if os.Geteuid() == 0 {
		return "", nil, errors.New("postgres: no server answers at " + o.LocalAddr +
			" and the embedded Postgres cannot run as root (initdb refuses). " +
			"Start a local server (e.g. `apt-get install postgresql`), set DATABASE_URL, or run wallpaperd as an unprivileged user")
	}
	// The owner lock is ours: a server still running here was left by a
	// process that died.
	stopStale(binaries, dataPath)

	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cfg := embeddedpostgres.DefaultConfig().
		Version(embeddedpostgres.PostgresVersion(strconv.Itoa(binaries.major) + ".0.0")).
		Port(uint32(port)).
		Username("postgres").Password("postgres").Database("postgres").
		DataPath(dataPath).RuntimePath(runtimePath).
		StartParameters(map[string]string{"unix_socket_directories": socketDir}).
		StartTimeout(60 * time.Second).
		Logger(embeddedLog{o.Logger})
	if binaries.path != "" {
		cfg = cfg.BinariesPath(binaries.path)
	}
	db := embeddedpostgres.NewDatabase(cfg)
	o.Logger.Info("starting embedded Postgres", "data", dataPath, "binaries", binaries.path, "port", port)
	if err := db.Start(); err != nil {
		return "", nil, fmt.Errorf("postgres: embedded server did not start: %w (set DATABASE_URL or PG_BIN_DIR)", err)
	}
	admin := fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := EnsureDatabase(ctx, admin, DevDatabaseName); err != nil {
		_ = db.Stop()
		return "", nil, fmt.Errorf("postgres: embedded server: %w", err)
	}
	return WithDatabase(admin, DevDatabaseName), db.Stop, nil
}

type binaries struct {
	path  string // the directory holding bin/pg_ctl; empty: let the library download
	major int
}

// findBinaries looks for Postgres binaries: PG_BIN_DIR first (the bin
// directory itself or its parent), then the usual Debian and Homebrew
// locations. With none found the library downloads its own.
func findBinaries(binDir string) (binaries, error) {
	if binDir != "" {
		for _, dir := range []string{binDir, filepath.Dir(filepath.Clean(binDir))} {
			if b, ok := probeBinaries(dir); ok {
				return b, nil
			}
		}
		return binaries{}, fmt.Errorf("postgres: PG_BIN_DIR=%s holds no pg_ctl (neither in it nor in its bin/)", binDir)
	}
	candidates, _ := filepath.Glob("/usr/lib/postgresql/*")
	for i := len(candidates) - 1; i >= 0; i-- { // newest major first
		if b, ok := probeBinaries(candidates[i]); ok {
			return b, nil
		}
	}
	return binaries{major: 16}, nil
}

func probeBinaries(dir string) (binaries, bool) {
	if _, err := os.Stat(filepath.Join(dir, "bin", "pg_ctl")); err != nil {
		return binaries{}, false
	}
	out, err := exec.Command(filepath.Join(dir, "bin", "pg_ctl"), "--version").Output()
	if err != nil {
		return binaries{}, false
	}
	var major int
	// "pg_ctl (PostgreSQL) 15.20 (Debian ...)"
	if _, err := fmt.Sscanf(string(out), "pg_ctl (PostgreSQL) %d", &major); err != nil || major == 0 {
		return binaries{}, false
	}
	return binaries{path: dir, major: major}, true
}

// readyPort is the port of the server running on dataPath, from its
// postmaster.pid (line 4: the port, line 8: the status), when it says it
// is ready and the port answers.
func readyPort(dataPath string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataPath, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[7]) != "ready" {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil || port <= 0 || !answers(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))) {
		return 0, false
	}
	return port, true
}

// stopStale stops a server left running on dataPath by a process that was
// killed (its owner lock released), so that its data directory can be
// started again.
func stopStale(b binaries, dataPath string) {
	if b.path == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(dataPath, "postmaster.pid")); err != nil {
		return
	}
	_ = exec.Command(filepath.Join(b.path, "bin", "pg_ctl"), "stop", "-w", "-m", "fast", "-D", dataPath).Run()
}

func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("postgres: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WithDatabase returns dsn pointing at the named database instead.
func WithDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	return u.String()
}

// embeddedLog sends the embedded server's output to the debug log.
type embeddedLog struct{ l *slog.Logger }

func (w embeddedLog) Write(p []byte) (int, error) {
	w.l.Debug("embedded postgres", "output", string(p))
	return len(p), nil
}
