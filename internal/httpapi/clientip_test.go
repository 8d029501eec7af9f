package httpapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/httpapi"
)

// logSink collects the router's JSON log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// lastAccess returns the fields of the newest access-log line.
func (s *logSink) lastAccess(t *testing.T) map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(s.buf.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err == nil && rec["msg"] == "http request" {
			return rec
		}
	}
	t.Fatalf("no access-log line in:\n%s", s.buf.String())
	return nil
}

// proxyRouter is the real router with the given trusted proxies.
func proxyRouter(t *testing.T, cfg httpapi.Config) (http.Handler, *logSink) {
	t.Helper()
	sink := &logSink{}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	h, err := httpapi.New(cfg, httpapi.Deps{
		Logger: slog.New(slog.NewJSONHandler(sink, nil)),
		Ready:  func(context.Context) error { return nil },
	})
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	return h, sink
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		headers map[string]string
		want    string
	}{
		{name: "no proxies trusted: X-Forwarded-For ignored", peer: "127.0.0.1:5000",
			headers: map[string]string{"X-Forwarded-For": "203.0.113.7"}, want: "127.0.0.1"},
		{name: "no proxies trusted: X-Real-IP ignored", peer: "198.51.100.4:5000",
			headers: map[string]string{"X-Real-IP": "203.0.113.7"}, want: "198.51.100.4"},
		{name: "trusted proxy: X-Forwarded-For used", trusted: loopback, peer: "127.0.0.1:5000",
			headers: map[string]string{"X-Forwarded-For": "203.0.113.7"}, want: "203.0.113.7"},
		{name: "trusted proxy: X-Real-IP used", trusted: loopback, peer: "[::1]:5000",
			headers: map[string]string{"X-Real-IP": "203.0.113.7"}, want: "203.0.113.7"},
		// nginx appends the peer it saw to what the client sent: the address
		// nearest the proxy that it did not itself trust is the client.
		{name: "trusted proxy: client-sent prefix ignored", trusted: loopback, peer: "127.0.0.1:5000",
			headers: map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "untrusted peer among trusted config", trusted: loopback, peer: "192.0.2.1:5000",
			headers: map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"}, want: "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := proxyRouter(t, httpapi.Config{TrustedProxies: tt.trusted})
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			req.RemoteAddr = tt.peer
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			if rec := serve(h, req); rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", rec.Code)
			}
			if got := logs.lastAccess(t)["client_ip"]; got != tt.want {
				t.Errorf("logged client_ip = %v, want %s", got, tt.want)
			}
		})
	}
}

// TestLoginLimitFollowsClientIP: the per-IP login limit counts the real
// peer unless a trusted proxy names the client. A body that is not JSON is
// refused (415) by the handler without reaching WeChat or the database, so
// the limiter in front of it is all that is exercised.
func TestLoginLimitFollowsClientIP(t *testing.T) {
	const perMinute = 3
	tests := []struct {
		name    string
		trusted []netip.Prefix
		// forwardedFor is the X-Forwarded-For of the i-th attempt.
		forwardedFor func(i int) string
		wantLimited  bool
	}{
		{name: "spoofed X-Forwarded-For does not dodge the limit",
			forwardedFor: func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }, wantLimited: true},
		{name: "clients behind a trusted proxy are counted apart", trusted: loopback,
			forwardedFor: func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }},
		{name: "one client behind a trusted proxy is limited", trusted: loopback,
			forwardedFor: func(int) string { return "203.0.113.9" }, wantLimited: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := proxyRouter(t, httpapi.Config{TrustedProxies: tt.trusted, LoginRatePerMinute: perMinute})
			limited := false
			for i := range perMinute + 1 {
				req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader("code=dev-x"))
				req.Header.Set("Content-Type", "text/plain")
				req.RemoteAddr = "127.0.0.1:40000"
				req.Header.Set("X-Forwarded-For", tt.forwardedFor(i))
				rec := serve(h, req)
				switch rec.Code {
				case http.StatusUnsupportedMediaType:
				case http.StatusTooManyRequests:
					if i < perMinute {
						t.Fatalf("attempt %d limited; the limit is %d", i+1, perMinute)
					}
					if rec.Header().Get("Retry-After") == "" {
						t.Error("429 without Retry-After")
					}
					limited = true
				default:
					t.Fatalf("attempt %d: status %d, body %s", i+1, rec.Code, rec.Body)
				}
			}
			if limited != tt.wantLimited {
				t.Errorf("attempt %d limited = %v, want %v (last client_ip %v)",
					perMinute+1, limited, tt.wantLimited, logs.lastAccess(t)["client_ip"])
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	const hsts = "max-age=63072000; includeSubDomains"
	tests := []struct {
		name     string
		trusted  []netip.Prefix
		peer     string
		tls      bool
		proto    string
		wantHSTS bool
	}{
		{name: "plain HTTP", peer: "198.51.100.4:5000"},
		{name: "direct TLS", peer: "198.51.100.4:5000", tls: true, wantHSTS: true},
		{name: "X-Forwarded-Proto from an untrusted peer", peer: "198.51.100.4:5000", proto: "https"},
		{name: "X-Forwarded-Proto https from a trusted proxy", trusted: loopback, peer: "127.0.0.1:5000", proto: "https", wantHSTS: true},
		{name: "X-Forwarded-Proto http from a trusted proxy", trusted: loopback, peer: "127.0.0.1:5000", proto: "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := proxyRouter(t, httpapi.Config{TrustedProxies: tt.trusted})
			for _, path := range []string{"/healthz", "/no/such/route"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.RemoteAddr = tt.peer
				if tt.tls {
					req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
				}
				if tt.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tt.proto)
				}
				rec := serve(h, req)
				got := rec.Header()
				if v := got.Get("X-Content-Type-Options"); v != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options = %q", path, v)
				}
				if v := got.Get("Referrer-Policy"); v != "no-referrer" {
					t.Errorf("%s: Referrer-Policy = %q", path, v)
				}
				want := ""
				if tt.wantHSTS {
					want = hsts
				}
				if v := got.Get("Strict-Transport-Security"); v != want {
					t.Errorf("%s: Strict-Transport-Security = %q, want %q", path, v, want)
				}
			}
		})
	}
}

// TestSwaggerUIWithSecurityHeaders: nosniff makes browsers refuse scripts
// and styles served with the wrong type, and a Content-Security-Policy
// would block Swagger UI's inline script; so every asset the page loads is
// fetched and its type checked.
func TestSwaggerUIWithSecurityHeaders(t *testing.T) {
	h, _ := proxyRouter(t, httpapi.Config{Swagger: true})
	fetch := func(t *testing.T, path string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
		rec := serve(h, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, rec.Code)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); csp != "" {
			t.Errorf("GET %s: Content-Security-Policy %q would have to allow Swagger UI's inline script", path, csp)
		}
		if v := rec.Header().Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q", path, v)
		}
		return rec
	}
	page := fetch(t, "/swagger/index.html")
	checkType(t, "/swagger/index.html", page, "text/html")

	// The page's own references, resolved against /swagger/.
	refs := regexp.MustCompile(`(?:src|href)="\./([^"]+)"`).FindAllStringSubmatch(page.Body.String(), -1)
	wantTypes := map[string]string{".js": "application/javascript", ".css": "text/css", ".png": "image/png"}
	seen := map[string]bool{}
	for _, m := range refs {
		path := "/swagger/" + m[1]
		ext := path[strings.LastIndex(path, "."):]
		want, ok := wantTypes[ext]
		if !ok {
			continue
		}
		seen[ext] = true
		t.Run(m[1], func(t *testing.T) { checkType(t, path, fetch(t, path), want) })
	}
	if !seen[".js"] || !seen[".css"] {
		t.Fatalf("index.html references no script or no stylesheet: %v", refs)
	}
	t.Run("doc.json", func(t *testing.T) {
		checkType(t, "/swagger/doc.json", fetch(t, "/swagger/doc.json"), "application/json")
	})
}

func checkType(t *testing.T, path string, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	got, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if err != nil {
		t.Fatalf("GET %s: Content-Type %q: %v", path, rec.Header().Get("Content-Type"), err)
	}
	// text/javascript is as good as application/javascript to a browser.
	if got != want && !(want == "application/javascript" && got == "text/javascript") {
		t.Errorf("GET %s: Content-Type %q, want %q (nosniff blocks a mismatch)", path, got, want)
	}
}
