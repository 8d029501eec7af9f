package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/tlscert/tlscerttest"
)

// testRouter is the real API router; /healthz needs no database.
func testRouter(t *testing.T) http.Handler {
	t.Helper()
	h, err := httpapi.New(httpapi.Config{MaxBodyBytes: 4 << 20}, httpapi.Deps{
		Logger: slog.New(slog.DiscardHandler),
		Ready:  func(context.Context) error { return nil },
	})
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	return h
}

// startFront runs the listeners the way serve does, until the test ends;
// their log, debug level included, goes to the returned buffer.
func startFront(t *testing.T, opts frontOptions, h http.Handler) (*front, *apptest.Log) {
	t.Helper()
	logs := &apptest.Log{}
	fr, err := listenFront(opts, h, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("listenFront: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fr.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if err := fr.shutdown(shutdownCtx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return fr, logs
}

func addrOf(l listener) string { return l.ln.Addr().String() }

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	first := tlscerttest.Write(t, dir, 1)
	reload := make(chan os.Signal, 1)
	fr, logs := startFront(t, frontOptions{
		Addr:         "127.0.0.1:0",
		CertFile:     first.CertFile,
		KeyFile:      first.KeyFile,
		RedirectAddr: "127.0.0.1:0",
		Reload:       reload,
		// Only the injected signal may reload during this test.
		PollInterval: time.Hour,
	}, testRouter(t))
	addr := addrOf(fr.api)
	if fr.scheme() != "https" {
		t.Fatalf("scheme = %q, want https", fr.scheme())
	}

	t.Run("protocol versions", func(t *testing.T) {
		tests := []struct {
			name     string
			min, max uint16
			wantErr  bool
		}{
			{name: "TLS 1.2", min: tls.VersionTLS12, max: tls.VersionTLS12},
			{name: "TLS 1.3", min: tls.VersionTLS13, max: tls.VersionTLS13},
			{name: "TLS 1.1 refused", min: tls.VersionTLS10, max: tls.VersionTLS11, wantErr: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				conn, err := tls.Dial("tcp", addr, &tls.Config{
					RootCAs: first.Pool(), MinVersion: tt.min, MaxVersion: tt.max,
				})
				if tt.wantErr {
					if err == nil {
						conn.Close()
						t.Fatalf("handshake with TLS %x..%x succeeded, want it refused", tt.min, tt.max)
					}
					// Routine on the internet: logged, at debug level.
					waitForLog(t, logs, "level=DEBUG", "TLS handshake error", "unsupported versions")
					return
				}
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				defer conn.Close()
				if got := conn.ConnectionState().Version; got != tt.max {
					t.Errorf("negotiated version %x, want %x", got, tt.max)
				}
			})
		}
	})

	t.Run("HTTP/2 with security headers", func(t *testing.T) {
		tests := []struct {
			name      string
			transport *http.Transport
			wantMajor int
		}{
			{name: "h2", transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: first.Pool()}, ForceAttemptHTTP2: true,
			}, wantMajor: 2},
			{name: "http/1.1", transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: first.Pool()},
				// A non-nil, empty map turns HTTP/2 off in the client.
				TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
			}, wantMajor: 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				defer tt.transport.CloseIdleConnections()
				resp := get(t, &http.Client{Transport: tt.transport}, "https://"+addr+"/healthz")
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status = %d, want 200", resp.StatusCode)
				}
				if resp.ProtoMajor != tt.wantMajor {
					t.Errorf("protocol = %s, want major version %d", resp.Proto, tt.wantMajor)
				}
				checkHeader(t, resp, "Strict-Transport-Security", "max-age=63072000; includeSubDomains")
				checkHeader(t, resp, "X-Content-Type-Options", "nosniff")
				checkHeader(t, resp, "Referrer-Policy", "no-referrer")
			})
		}
	})

	t.Run("redirect listener", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		redirectAddr := addrOf(*fr.redirect)
		_, redirectPort, _ := net.SplitHostPort(redirectAddr)
		_, httpsPort, _ := net.SplitHostPort(addr)
		tests := []struct {
			name, method, url, host, wantLocation string
		}{
			{name: "path and query kept", method: http.MethodGet, url: "/api/v1/wallpapers?limit=5",
				wantLocation: "https://127.0.0.1:" + httpsPort + "/api/v1/wallpapers?limit=5"},
			{name: "named host", method: http.MethodGet, url: "/healthz", host: "api.example.com:" + redirectPort,
				wantLocation: "https://api.example.com:" + httpsPort + "/healthz"},
			{name: "nothing served over plain HTTP", method: http.MethodPost, url: "/api/v1/auth/login",
				wantLocation: "https://127.0.0.1:" + httpsPort + "/api/v1/auth/login"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, err := http.NewRequest(tt.method, "http://"+redirectAddr+tt.url, strings.NewReader(`{"code":"dev-x"}`))
				if err != nil {
					t.Fatal(err)
				}
				if tt.host != "" {
					req.Host = tt.host
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", tt.method, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusMovedPermanently {
					t.Errorf("status = %d, want 301", resp.StatusCode)
				}
				checkHeader(t, resp, "Location", tt.wantLocation)
			})
		}
	})

	t.Run("certificate reload", func(t *testing.T) {
		if got := servedSerial(t, addr); got != 1 {
			t.Fatalf("serial before reload = %d, want 1", got)
		}
		tlscerttest.Write(t, dir, 2) // same paths, like a renewal
		reload <- syscall.SIGHUP
		deadline := time.Now().Add(20 * time.Second)
		for servedSerial(t, addr) != 2 {
			if time.Now().After(deadline) {
				t.Fatal("new connections still get the old certificate")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// servedSerial opens a new connection and returns the serial of the
// certificate the server presents. Verification is off because the point
// is to see which of two certificates is served.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // see above
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func get(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	resp.Body.Close()
	return resp
}

func checkHeader(t *testing.T, resp *http.Response, name, want string) {
	t.Helper()
	if got := resp.Header.Get(name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func TestSlowClientIsCutOff(t *testing.T) {
	const readHeaderTimeout = time.Second
	fr, _ := startFront(t, frontOptions{Addr: "127.0.0.1:0", ReadHeaderTimeout: readHeaderTimeout}, testRouter(t))

	conn, err := net.Dial("tcp", addrOf(fr.api))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()

	// The server's only possible answer to an unfinished header is to hang
	// up; whatever it sends before that is read too.
	closed := make(chan string, 1)
	go func() {
		got, _ := io.ReadAll(bufio.NewReader(conn))
		closed <- string(got)
	}()

	// A header that never ends, one byte at a time: well-formed, so only the
	// timeout can stop it. Sending it all would take minutes.
	header := "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + strings.Repeat("a", 4000)
	var cutAfter time.Duration
	for i := 0; i < len(header); i++ {
		select {
		case got := <-closed:
			cutAfter = time.Since(start)
			if strings.Contains(got, "200 OK") {
				t.Errorf("the server answered an unfinished request: %q", got)
			}
		default:
		}
		if cutAfter != 0 {
			break
		}
		if _, err := conn.Write([]byte{header[i]}); err != nil {
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("write: %v", err)
			}
			<-closed
			cutAfter = time.Since(start)
			break
		}
		time.Sleep(50 * time.Millisecond) // pacing the slow client, not a wait for a result
	}
	if cutAfter == 0 {
		t.Fatalf("the connection was still open after %v of header bytes", time.Since(start))
	}
	if cutAfter < readHeaderTimeout {
		t.Errorf("cut off after %v, before the %v read-header timeout: not the timeout", cutAfter, readHeaderTimeout)
	}
	t.Logf("slow client cut off after %v", cutAfter)

	// The listener itself is fine: a normal client is served.
	resp := get(t, http.DefaultClient, "http://"+addrOf(fr.api)+"/healthz")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status after the slow client = %d, want 200", resp.StatusCode)
	}
	checkHeader(t, resp, "X-Content-Type-Options", "nosniff")
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "" {
		t.Errorf("plain HTTP response carries HSTS %q", hsts)
	}
}

// TestServeTLSFromConfig: the whole program, given TLS_CERT_FILE and
// TLS_KEY_FILE, serves HTTPS with HTTP/2 on HTTP_ADDR.
func TestServeTLSFromConfig(t *testing.T) {
	pair := tlscerttest.Write(t, t.TempDir(), 7)
	wpd := apptest.Start(t, map[string]string{
		"TLS_CERT_FILE":     pair.CertFile,
		"TLS_KEY_FILE":      pair.KeyFile,
		"TLS_REDIRECT_ADDR": "127.0.0.1:0",
	})
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pair.Pool()}, ForceAttemptHTTP2: true}
	defer transport.CloseIdleConnections()
	resp := get(t, &http.Client{Transport: transport}, "https://"+wpd.Addr+"/healthz")
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("GET /healthz: %s over %s, want 200 over HTTP/2", resp.Status, resp.Proto)
	}
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 7 {
		t.Error("not served with the configured certificate")
	}
	checkHeader(t, resp, "Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	if !strings.Contains(wpd.Log(), "scheme=https") {
		t.Errorf("start-up log does not say https:\n%s", wpd.Log())
	}
}

// waitForLog waits until one line of logs holds every part; the server
// logs a failed handshake after the client has already seen it fail.
func waitForLog(t *testing.T, logs *apptest.Log, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, line := range strings.Split(logs.String(), "\n") {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q; log:\n%s", parts, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedirectToHTTPS(t *testing.T) {
	tests := []struct {
		name, httpsPort, host, target string
		wantStatus                    int
		wantLocation                  string
	}{
		{name: "default port left out", httpsPort: "443", host: "api.example.com", target: "/api/v1/wallpapers?limit=5",
			wantStatus: http.StatusMovedPermanently, wantLocation: "https://api.example.com/api/v1/wallpapers?limit=5"},
		{name: "plain port replaced", httpsPort: "443", host: "api.example.com:80", target: "/healthz",
			wantStatus: http.StatusMovedPermanently, wantLocation: "https://api.example.com/healthz"},
		{name: "other HTTPS port kept", httpsPort: "8443", host: "api.example.com:8080", target: "/healthz",
			wantStatus: http.StatusMovedPermanently, wantLocation: "https://api.example.com:8443/healthz"},
		{name: "IPv6 literal", httpsPort: "443", host: "[2001:db8::1]:80", target: "/x",
			wantStatus: http.StatusMovedPermanently, wantLocation: "https://[2001:db8::1]/x"},
		{name: "IPv6 literal, other port", httpsPort: "8443", host: "[2001:db8::1]", target: "/x",
			wantStatus: http.StatusMovedPermanently, wantLocation: "https://[2001:db8::1]:8443/x"},
		{name: "a path like a host stays a path", httpsPort: "443", host: "api.example.com", target: "//evil.example/x",
			wantStatus: http.StatusMovedPermanently, wantLocation: "https://api.example.com//evil.example/x"},
		{name: "no host", httpsPort: "443", host: "", target: "/x", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://placeholder"+tt.target, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			redirectToHTTPS(tt.httpsPort).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
		})
	}
}
