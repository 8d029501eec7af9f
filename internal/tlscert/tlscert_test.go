package tlscert_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/tlscert"
	"github.com/wallpaperd/wallpaperd/internal/tlscert/tlscerttest"
)

// syncBuffer is a log sink the reloader's goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newReloader(t *testing.T, p tlscerttest.Pair) (*tlscert.Reloader, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	r, err := tlscert.New(p.CertFile, p.KeyFile, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, logs
}

func servedSerial(t *testing.T, r *tlscert.Reloader) int64 {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return c.Leaf.SerialNumber.Int64()
}

// waitFor polls cond until it holds; the deadline is generous because the
// machine is slow and shared, and only a hang makes it expire.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	good := tlscerttest.Write(t, dir, 1)
	tests := []struct {
		name              string
		certFile, keyFile string
		wantErr           string
	}{
		{name: "valid pair", certFile: good.CertFile, keyFile: good.KeyFile},
		{name: "missing cert", certFile: dir + "/nope.pem", keyFile: good.KeyFile, wantErr: "no such file"},
		{name: "key as cert", certFile: good.KeyFile, keyFile: good.KeyFile, wantErr: "tlscert: loading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tlscert.New(tt.certFile, tt.keyFile, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := r.Leaf().SerialNumber.Int64(); got != 1 {
				t.Errorf("serial = %d, want 1", got)
			}
			cfg := r.ServerConfig()
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			if cfg.CipherSuites != nil {
				t.Errorf("CipherSuites = %v, want Go's defaults (nil)", cfg.CipherSuites)
			}
			if strings.Join(cfg.NextProtos, ",") != "h2,http/1.1" {
				t.Errorf("NextProtos = %v, want h2 and http/1.1", cfg.NextProtos)
			}
		})
	}
}

func TestReloadKeepsOldPairOnFailure(t *testing.T) {
	dir := t.TempDir()
	p := tlscerttest.Write(t, dir, 1)
	r, logs := newReloader(t, p)

	tests := []struct {
		name    string
		breakIt func(t *testing.T)
	}{
		{name: "garbage cert", breakIt: func(t *testing.T) { writeFile(t, p.CertFile, "not a certificate") }},
		{name: "key of another cert", breakIt: func(t *testing.T) {
			other := tlscerttest.Write(t, t.TempDir(), 99)
			key, err := os.ReadFile(other.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			tlscerttest.Write(t, dir, 1) // a fresh, valid cert…
			writeFile(t, p.KeyFile, string(key))
		}},
		{name: "files removed", breakIt: func(t *testing.T) {
			if err := os.Remove(p.CertFile); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.breakIt(t)
			if err := r.Reload(); err == nil {
				t.Fatal("Reload succeeded on a broken pair")
			}
			if got := servedSerial(t, r); got != 1 {
				t.Errorf("served serial = %d after a failed reload, want the old 1", got)
			}
			if !strings.Contains(logs.String(), "keeping the previous one") {
				t.Errorf("failed reload not logged; logs:\n%s", logs)
			}
		})
	}

	tlscerttest.Write(t, dir, 2)
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload of a repaired pair: %v", err)
	}
	if got := servedSerial(t, r); got != 2 {
		t.Errorf("served serial = %d, want 2", got)
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		signal   bool
	}{
		// An hour-long poll cannot fire during the test: only the signal can
		// have reloaded.
		{name: "on signal", interval: time.Hour, signal: true},
		{name: "on file change", interval: 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, _ := newReloader(t, tlscerttest.Write(t, dir, 1))
			trigger := make(chan os.Signal, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx, trigger, tt.interval) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})

			tlscerttest.Write(t, dir, 2)
			if tt.signal {
				trigger <- syscall.SIGHUP
			}
			waitFor(t, "the new certificate", func() bool { return servedSerial(t, r) == 2 })
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
