package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/tlscert"
)

// frontOptions shape the public listeners. serve fills them from the
// configuration; tests set loopback addresses, their own reload trigger and
// a short read-header timeout.
type frontOptions struct {
	Addr string
	// CertFile and KeyFile, both set, switch Addr to HTTPS.
	CertFile, KeyFile string
	// RedirectAddr, when set, is a plain-HTTP listener that only redirects
	// to HTTPS.
	RedirectAddr string
	// Reload triggers a certificate reload (serve feeds it SIGHUP); the
	// files are also polled every PollInterval (zero: tlscert's default).
	Reload       <-chan os.Signal
	PollInterval time.Duration
	// ReadHeaderTimeout, when set, replaces newHTTPServer's.
	ReadHeaderTimeout time.Duration
}

func frontOptionsFrom(cfg *config.Config, reload <-chan os.Signal) frontOptions {
	return frontOptions{
		Addr:         cfg.HTTPAddr,
		CertFile:     cfg.TLSCertFile,
		KeyFile:      cfg.TLSKeyFile,
		RedirectAddr: cfg.TLSRedirectAddr,
		Reload:       reload,
	}
}

// front is the public side of the process: the API listener, plain or TLS
// with a reloading certificate, and the optional redirect listener.
type front struct {
	api      listener
	redirect *listener
	certs    *tlscert.Reloader
	opts     frontOptions
}

type listener struct {
	srv *http.Server
	ln  net.Listener
	tls bool
}

// listenFront opens the listeners (so a port clash fails start-up at once)
// and loads the certificate; serve starts answering.
func listenFront(opts frontOptions, h http.Handler, logger *slog.Logger) (*front, error) {
	f := &front{opts: opts}
	srv := newHTTPServer(opts.Addr, h)
	if opts.ReadHeaderTimeout > 0 {
		srv.ReadHeaderTimeout = opts.ReadHeaderTimeout
	}
	srv.ErrorLog = log.New(serverErrorLog{logger}, "", 0)
	if opts.CertFile != "" || opts.KeyFile != "" {
		certs, err := tlscert.New(opts.CertFile, opts.KeyFile, logger)
		if err != nil {
			return nil, err
		}
		f.certs = certs
		srv.TLSConfig = certs.ServerConfig()
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", opts.Addr, err)
	}
	f.api = listener{srv: srv, ln: ln, tls: f.certs != nil}

	if opts.RedirectAddr != "" {
		if f.certs == nil {
			_ = ln.Close()
			return nil, errors.New("TLS_REDIRECT_ADDR needs TLS_CERT_FILE and TLS_KEY_FILE")
		}
		_, httpsPort, _ := net.SplitHostPort(ln.Addr().String())
		rln, err := net.Listen("tcp", opts.RedirectAddr)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("listening on %s: %w", opts.RedirectAddr, err)
		}
		redirect := newRedirectServer(opts.RedirectAddr, httpsPort)
		redirect.ErrorLog = srv.ErrorLog
		f.redirect = &listener{srv: redirect, ln: rln}
	}
	return f, nil
}

// scheme is how clients reach the API listener.
func (f *front) scheme() string {
	if f.api.tls {
		return "https"
	}
	return "http"
}

// serve answers on every listener and reloads the certificate until ctx
// ends and shutdown has been called; a listener that fails takes the
// others down with it, so its error reaches serve's errgroup.
func (f *front) serve(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range f.listeners() {
		g.Go(func() error {
			var err error
			if l.tls {
				// The certificate comes from TLSConfig.GetCertificate.
				err = l.srv.ServeTLS(l.ln, "", "")
			} else {
				err = l.srv.Serve(l.ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serving on %s: %w", l.ln.Addr(), err)
		})
	}
	if f.certs != nil {
		g.Go(func() error { return f.certs.Run(gctx, f.opts.Reload, f.opts.PollInterval) })
	}
	g.Go(func() error {
		<-gctx.Done()
		if ctx.Err() == nil { // a listener failed: stop the rest now
			for _, l := range f.listeners() {
				_ = l.srv.Close()
			}
		}
		return nil
	})
	return g.Wait()
}

// shutdown stops accepting and waits, until ctx ends, for requests in
// flight.
func (f *front) shutdown(ctx context.Context) error {
	var errs []error
	for _, l := range f.listeners() {
		errs = append(errs, l.srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (f *front) listeners() []listener {
	if f.redirect == nil {
		return []listener{f.api}
	}
	return []listener{f.api, *f.redirect}
}

// newRedirectServer answers every request with a 301 to the same host and
// path over HTTPS, and nothing else. Its requests are tiny, so its limits
// are much tighter than the API's.
func newRedirectServer(addr, httpsPort string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           redirectToHTTPS(httpsPort),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
}

// redirectToHTTPS keeps the host the client asked for and swaps the port
// for the HTTPS listener's (left out when it is the default 443).
func redirectToHTTPS(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" {
			http.Error(w, "a Host header is required", http.StatusBadRequest)
			return
		}
		if httpsPort != "443" {
			host = net.JoinHostPort(host, httpsPort)
		} else if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			host = "[" + host + "]"
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
}

// serverErrorLog takes net/http's own error lines into the structured log.
// Failed TLS handshakes (scanners, clients too old for TLS 1.2) are routine
// on the internet: they go to debug so they do not drown real warnings.
type serverErrorLog struct{ logger *slog.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelDebug
	}
	l.logger.Log(context.Background(), level, "http server", "err", msg)
	return len(p), nil
}
