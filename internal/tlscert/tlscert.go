// Package tlscert owns the certificate wallpaperd serves when it terminates
// TLS itself: it loads the key pair, hands it to crypto/tls, and picks up a
// renewed pair (certbot and friends rewrite the files) without a restart.
package tlscert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often Run looks at the files for a change.
const DefaultInterval = 5 * time.Second

// Reloader serves the current certificate to crypto/tls and replaces it when
// the files change or when it is told to. A pair that fails to load never
// replaces a working one: the old certificate stays in service and the
// failure is logged.
type Reloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	cert atomic.Pointer[tls.Certificate]

	// mu serialises reloads, so a poll and a signal never race to install
	// an older pair over a newer one; seen is guarded by it.
	mu   sync.Mutex
	seen fileState
}

// New loads the key pair once; an unusable pair is an error here, since
// there is nothing to fall back on yet.
func New(certFile, keyFile string, logger *slog.Logger) (*Reloader, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate is the tls.Config hook: it returns the pair in service.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Leaf returns the parsed leaf certificate in service.
func (r *Reloader) Leaf() *x509.Certificate { return r.cert.Load().Leaf }

// ServerConfig is the TLS configuration for the public listener: TLS 1.2 at
// least (WeChat demands it), Go's default cipher suites (secure, and kept up
// to date by the toolchain), HTTP/2 with HTTP/1.1 as the fallback.
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// Reload reads the files now. On failure the previous certificate stays in
// service; the error says why the new one was refused.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked()
}

func (r *Reloader) reloadLocked() error {
	// The state is taken before reading, so a write that lands while we read
	// shows up as a change on the next poll and is loaded then.
	state, statErr := stat(r.certFile, r.keyFile)
	r.seen = state
	if statErr != nil {
		return r.refuse(statErr)
	}
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return r.refuse(err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return r.refuse(err)
		}
	}
	old := r.cert.Swap(&pair)
	if old == nil || !old.Leaf.Equal(pair.Leaf) {
		r.logger.Info("tls certificate loaded",
			"file", r.certFile,
			"subject", pair.Leaf.Subject.String(),
			"dns_names", pair.Leaf.DNSNames,
			"serial", pair.Leaf.SerialNumber.String(),
			"not_after", pair.Leaf.NotAfter)
	}
	if time.Now().After(pair.Leaf.NotAfter) {
		r.logger.Warn("tls certificate has expired", "file", r.certFile, "not_after", pair.Leaf.NotAfter)
	}
	return nil
}

// refuse wraps a load failure and, when a certificate is already in
// service, logs that it stays.
func (r *Reloader) refuse(err error) error {
	err = fmt.Errorf("tlscert: loading %s and %s: %w", r.certFile, r.keyFile, err)
	if r.cert.Load() != nil {
		r.logger.Error("tls certificate reload failed; keeping the previous one", "err", err)
	}
	return err
}

// Run reloads on every value from trigger (serve feeds it SIGHUP) and
// whenever the files' size or modification time changes, checked every
// interval (DefaultInterval when zero). It returns when ctx ends.
func (r *Reloader) Run(ctx context.Context, trigger <-chan os.Signal, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig := <-trigger:
			r.logger.Info("reloading tls certificate", "signal", fmt.Sprint(sig))
			_ = r.Reload() // logged by refuse; the old pair stays
		case <-tick.C:
			r.reloadIfChanged()
		}
	}
}

func (r *Reloader) reloadIfChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	// An unchanged state includes the same stat failure as last time: it
	// was logged once, which is enough.
	if state, _ := stat(r.certFile, r.keyFile); state == r.seen {
		return
	}
	_ = r.reloadLocked()
}

// fileState is what a poll compares: both files' size and modification time
// (os.Stat follows certbot's symlinks to the real files), or why they could
// not be read.
type fileState struct {
	certSize, keySize int64
	certMod, keyMod   time.Time
	failure           string
}

func stat(certFile, keyFile string) (fileState, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return fileState{failure: err.Error()}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return fileState{failure: err.Error()}, err
	}
	return fileState{certSize: c.Size(), keySize: k.Size(), certMod: c.ModTime(), keyMod: k.ModTime()}, nil
}
