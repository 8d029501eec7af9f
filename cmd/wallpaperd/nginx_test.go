package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
	"github.com/wallpaperd/wallpaperd/internal/tlscert/tlscerttest"
)

const nginxSite = "../../deploy/nginx/wallpaperd.conf"

// TestDeployDocIncludesNginxSite: docs/deploy.md shows the very file the
// nginx test runs.
func TestDeployDocIncludesNginxSite(t *testing.T) {
	site, err := os.ReadFile(nginxSite)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- deploy/nginx/wallpaperd.conf, verbatim -->\n```nginx\n"
	_, block, ok := strings.Cut(string(doc), marker)
	if !ok {
		t.Fatalf("docs/deploy.md lacks the marker %q before the nginx site", marker)
	}
	block, _, ok = strings.Cut(block, "```\n")
	if !ok {
		t.Fatal("docs/deploy.md: the nginx block is not closed")
	}
	if block != string(site) {
		t.Errorf("the nginx site in docs/deploy.md differs from %s: copy the file into the doc", nginxSite)
	}
}

// TestNginx runs the nginx site of deploy/ in front of a running wallpaperd
// (the real process on its own database, TRUSTED_PROXIES=127.0.0.1) and
// checks the API through it, and that wallpaperd logs the client's address,
// not nginx's.
func TestNginx(t *testing.T) {
	nginx := testenv.Program(t, "nginx", "REQUIRE_NGINX", "/usr/sbin/nginx")
	wpd := apptest.Start(t, proxiedEnv())
	pair := tlscerttest.Write(t, t.TempDir(), 1)
	https, plain := startNginx(t, nginx, wpd.Addr, pair)
	checkThroughProxy(t, proxied{
		wpd: wpd, pair: pair, https: https, plain: plain,
		redirectStatus: http.StatusMovedPermanently, redirectBase: "https://127.0.0.1",
	})
	t.Run("feed cached by nginx", func(t *testing.T) { checkNginxFeedCache(t, https, pair) })
}

// checkNginxFeedCache: nginx keeps an anonymous feed page for wallpaperd's
// max-age (FEED_CACHE_TTL, a minute here) and answers its revalidation,
// and never keeps the answer to a request with a token.
func checkNginxFeedCache(t *testing.T, https string, pair tlscerttest.Pair) {
	client := clientFrom(t, "127.0.0.5", pair)
	page := https + "/api/v1/wallpapers?limit=7"
	send := func(t *testing.T, headers map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, page, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := send(t, nil)
	if first.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", page, first.StatusCode)
	}
	checkHeader(t, first, "X-Cache-Status", "MISS")
	checkHeader(t, first, "Cache-Control", "public, max-age=60")
	checkHeader(t, first, "Vary", "Authorization")
	tag := first.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag on the feed page")
	}
	second := send(t, nil)
	checkHeader(t, second, "X-Cache-Status", "HIT")
	checkHeader(t, second, "ETag", tag)
	if again := send(t, map[string]string{"If-None-Match": tag}); again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating through nginx: %d, want 304", again.StatusCode)
	}

	resp, err := client.Post(https+"/api/v1/auth/login", "application/json", strings.NewReader(`{"code":"dev-cached"}`))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	for range 2 {
		mine := send(t, map[string]string{"Authorization": "Bearer " + s.AccessToken})
		checkHeader(t, mine, "X-Cache-Status", "BYPASS")
		checkHeader(t, mine, "Cache-Control", "private, no-cache")
	}
}

// Few enough logins that a token cannot refill (one per 30 s) while a test
// runs.
const loginsPerMinute = 2

// proxiedEnv is wallpaperd's setting behind a proxy on the same host.
func proxiedEnv() map[string]string {
	return map[string]string{
		"TRUSTED_PROXIES":       "127.0.0.1",
		"LOGIN_RATE_PER_MINUTE": fmt.Sprint(loginsPerMinute),
		// Long enough that a page nginx keeps is still fresh when asked again.
		"FEED_CACHE_TTL": "1m",
	}
}

// proxied is a wallpaperd behind a running proxy.
type proxied struct {
	wpd            *apptest.Process
	pair           tlscerttest.Pair
	https          string // the proxy's HTTPS base URL
	plain          string // its plain-HTTP base URL, which redirects
	redirectStatus int
	redirectBase   string // where plain + "/x" redirects to, less "/x"
}

// checkThroughProxy uses the API through the proxy as a phone would, and
// checks what wallpaperd saw: the client's address, HTTPS, the limits.
func checkThroughProxy(t *testing.T, p proxied) {
	t.Helper()
	https, plain, wpd, pair := p.https, p.plain, p.wpd, p.pair
	// The client comes from 127.0.0.2, the proxy from 127.0.0.1: the log
	// tells them apart.
	const clientIP = "127.0.0.2"
	client := clientFrom(t, clientIP, pair)
	var accessToken string // from the login case

	tests := []struct {
		name, method, url, body string
		headers                 map[string]string
		wantStatus              int
		check                   func(t *testing.T, resp *http.Response, body []byte)
	}{
		{name: "health over HTTP/2 with HSTS", method: http.MethodGet, url: https + "/healthz", wantStatus: http.StatusOK,
			check: func(t *testing.T, resp *http.Response, _ []byte) {
				if resp.ProtoMajor != 2 {
					t.Errorf("protocol %s, want HTTP/2", resp.Proto)
				}
				// Set by wallpaperd, which believed the proxy's X-Forwarded-Proto.
				checkHeader(t, resp, "Strict-Transport-Security", "max-age=63072000; includeSubDomains")
				checkHeader(t, resp, "X-Content-Type-Options", "nosniff")
			}},
		{name: "readiness", method: http.MethodGet, url: https + "/readyz", wantStatus: http.StatusOK},
		{name: "spoofed X-Forwarded-For", method: http.MethodGet, url: https + "/healthz?spoofed",
			headers: map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.7"}, wantStatus: http.StatusOK},
		{name: "login", method: http.MethodPost, url: https + "/api/v1/auth/login", body: `{"code":"dev-nginx"}`,
			headers: map[string]string{"Content-Type": "application/json"}, wantStatus: http.StatusOK,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var s struct {
					AccessToken string `json:"access_token"`
					TokenType   string `json:"token_type"`
				}
				if err := json.Unmarshal(body, &s); err != nil || s.AccessToken == "" || s.TokenType != "Bearer" {
					t.Fatalf("login answer %s (%v)", body, err)
				}
				// The Authorization header passes through the proxy.
				req, err := http.NewRequest(http.MethodGet, https+"/api/v1/me", nil)
				if err != nil {
					t.Fatal(err)
				}
				accessToken = s.AccessToken
				req.Header.Set("Authorization", "Bearer "+s.AccessToken)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET /api/v1/me with the new token: status %d, want 200", resp.StatusCode)
				}
			}},
		{name: "public feed", method: http.MethodGet, url: https + "/api/v1/wallpapers?limit=5", wantStatus: http.StatusOK,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var feed struct {
					Items []json.RawMessage `json:"items"`
				}
				if err := json.Unmarshal(body, &feed); err != nil || feed.Items == nil {
					t.Errorf("feed answer %s (%v), want {items:[…]}", body, err)
				}
			}},
		// wallpaperd serves /metrics itself here (METRICS_ADDR is unset);
		// the proxy keeps it off the internet.
		{name: "metrics not proxied", method: http.MethodGet, url: https + "/metrics", wantStatus: http.StatusNotFound,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if bytes.Contains(body, []byte("# HELP")) {
					t.Errorf("the proxy passed /metrics through: %.200s", body)
				}
			}},
		{name: "API error body comes from wallpaperd", method: http.MethodGet, url: https + "/api/v1/no-such-endpoint",
			wantStatus: http.StatusNotFound, check: func(t *testing.T, _ *http.Response, body []byte) {
				if !bytes.Contains(body, []byte(`"request_id"`)) {
					t.Errorf("404 body %s is not wallpaperd's", body)
				}
			}},
		{name: "body over client_max_body_size", method: http.MethodPost, url: https + "/api/v1/auth/login",
			body: strings.Repeat("x", 5<<20), headers: map[string]string{"Content-Type": "application/json"},
			wantStatus: http.StatusRequestEntityTooLarge},
		{name: "plain HTTP redirects", method: http.MethodGet, url: plain + "/api/v1/wallpapers?limit=5",
			wantStatus: p.redirectStatus, check: func(t *testing.T, resp *http.Response, _ []byte) {
				checkHeader(t, resp, "Location", p.redirectBase+"/api/v1/wallpapers?limit=5")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.method, tt.url, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %.300s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.check != nil {
				tt.check(t, resp, body)
			}
		})
	}

	// wx.uploadFile and wx.downloadFile through the proxy: a body far over
	// the proxy's in-memory buffer, then the stored image.
	t.Run("avatar upload and download", func(t *testing.T) {
		if accessToken == "" {
			t.Skip("the login case failed")
		}
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		part, err := mw.CreateFormFile("file", "avatar.png")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := part.Write(noisePNG(t, 700)); err != nil {
			t.Fatal(err)
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPut, https+"/api/v1/me/avatar", &form)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+accessToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT /api/v1/me/avatar (%d bytes): status %d, body %.300s", form.Len(), resp.StatusCode, body)
		}
		var u struct {
			AvatarURL string `json:"avatar_url"`
		}
		if err := json.Unmarshal(body, &u); err != nil {
			t.Fatal(err)
		}
		// https because wallpaperd believed the proxy's X-Forwarded-Proto.
		avatar, err := url.Parse(u.AvatarURL)
		if err != nil || avatar.Scheme != "https" {
			t.Fatalf("avatar_url %q, want an https URL", u.AvatarURL)
		}
		img := get(t, client, https+avatar.RequestURI())
		if img.StatusCode != http.StatusOK || !strings.HasPrefix(img.Header.Get("Content-Type"), "image/") {
			t.Errorf("GET %s through the proxy: %d %s", avatar.RequestURI(), img.StatusCode, img.Header.Get("Content-Type"))
		}
	})

	// Every request that reached wallpaperd so far was logged with the
	// client's address, the spoofed one included.
	t.Run("client address logged", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/api/v1/auth/login", "/api/v1/me", "/api/v1/wallpapers"} {
			ips := loggedClientIPs(wpd, path)
			if len(ips) == 0 {
				t.Errorf("no access-log line for %s; log:\n%s", path, wpd.Log())
			}
			for _, ip := range ips {
				if ip != clientIP {
					t.Errorf("%s logged client_ip=%s, want %s", path, ip, clientIP)
				}
			}
		}
	})

	// Behind the proxy the login limit counts each phone: one that sends a
	// new X-Forwarded-For each time is still limited, and another phone is
	// not held back by it.
	t.Run("login limit per client", func(t *testing.T) {
		login := func(t *testing.T, c *http.Client, spoof string) int {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, https+"/api/v1/auth/login", strings.NewReader(`{"code":"dev-limit"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if spoof != "" {
				req.Header.Set("X-Forwarded-For", spoof)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		greedy := clientFrom(t, "127.0.0.3", pair)
		for i := range loginsPerMinute {
			if code := login(t, greedy, fmt.Sprintf("203.0.113.%d", i)); code != http.StatusOK {
				t.Fatalf("login %d: status %d, want 200", i+1, code)
			}
		}
		if code := login(t, greedy, "203.0.113.200"); code != http.StatusTooManyRequests {
			t.Errorf("login %d from one phone with a spoofed X-Forwarded-For: status %d, want 429", loginsPerMinute+1, code)
		}
		if code := login(t, clientFrom(t, "127.0.0.4", pair), ""); code != http.StatusOK {
			t.Errorf("another phone's login: status %d, want 200", code)
		}
	})
}

// clientFrom is an HTTPS client whose connections come from ip (any
// 127.0.0.0/8 address works on Linux), trusting only pair.
func clientFrom(t *testing.T, ip string, pair tlscerttest.Pair) *http.Client {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	transport := &http.Transport{
		DialContext:       dialer.DialContext,
		TLSClientConfig:   &tls.Config{RootCAs: pair.Pool()},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{
		Transport:     transport,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var accessLine = regexp.MustCompile(`msg="http request" .*path=(\S+) .*client_ip=(\S+)`)

// loggedClientIPs returns the client_ip of each of p's access-log lines
// for path.
func loggedClientIPs(p *apptest.Process, path string) []string {
	var ips []string
	sc := bufio.NewScanner(strings.NewReader(p.Log()))
	for sc.Scan() {
		if m := accessLine.FindStringSubmatch(sc.Text()); m != nil && m[1] == path {
			ips = append(ips, m[2])
		}
	}
	return ips
}

// startNginx runs nginx in the foreground with a main configuration of the
// test's own (every path in a temp dir) that includes the deploy/ site,
// changed only where a test must differ from a server:
//
//   - the upstream 127.0.0.1:8080 becomes wallpaperd's address,
//   - listen 443 / listen 80 become free loopback ports,
//   - the Let's Encrypt certificate paths become the test's pair.
//
// It returns the HTTPS and the plain-HTTP base URLs.
func startNginx(t *testing.T, nginx, upstream string, pair tlscerttest.Pair) (httpsURL, plainURL string) {
	t.Helper()
	dir := t.TempDir()
	site, err := os.ReadFile(nginxSite)
	if err != nil {
		t.Fatal(err)
	}
	httpsPort, plainPort := testenv.FreePort(t), testenv.FreePort(t)
	conf := string(site)
	for _, r := range []struct{ old, new string }{
		{"server 127.0.0.1:8080;", "server " + upstream + ";"},
		{"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", httpsPort)},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", plainPort)},
		{"/etc/letsencrypt/live/api.example.com/fullchain.pem", pair.CertFile},
		{"/etc/letsencrypt/live/api.example.com/privkey.pem", pair.KeyFile},
		{"proxy_cache_path /var/cache/nginx/wallpaperd ", "proxy_cache_path " + filepath.Join(dir, "cache") + " "},
	} {
		if strings.Count(conf, r.old) != 1 {
			t.Fatalf("%s: expected %q exactly once; update the test with the site", nginxSite, r.old)
		}
		conf = strings.Replace(conf, r.old, r.new, 1)
	}
	sitePath := filepath.Join(dir, "wallpaperd.conf")
	writeTestFile(t, sitePath, conf)

	// Workers drop to nobody when nginx starts as root; they could not
	// write the temp dir then.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	mainConf := fmt.Sprintf(`%[2]s
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
worker_processes 1;
events { worker_connections 128; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[3]s;
}
`, dir, user, sitePath)
	mainPath := filepath.Join(dir, "nginx.conf")
	writeTestFile(t, mainPath, mainConf)

	cmd := exec.Command(nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", mainPath, "-g", "daemon off;")
	startListening(t, "nginx", cmd, func() string {
		errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return string(errLog)
	}, httpsPort, plainPort)
	return fmt.Sprintf("https://127.0.0.1:%d", httpsPort), fmt.Sprintf("http://127.0.0.1:%d", plainPort)
}

// startListening starts a reverse proxy, stops it (SIGINT, then SIGKILL)
// when the test ends, and waits until it accepts connections on every port.
// explain, when set, adds the proxy's own log to a failure.
func startListening(t *testing.T, name string, cmd *exec.Cmd, explain func() string, ports ...int) {
	t.Helper()
	var out apptest.Log
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // graceful stop of this process only
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	report := func() string {
		if explain == nil {
			return out.String()
		}
		return out.String() + "\n" + explain()
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, port := range ports {
		for {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("%s exited: %v\n%s", name, err, report())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not listening on %d; output:\n%s", name, port, report())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// noisePNG encodes a size×size image of random pixels: it does not
// compress, so the upload is about 3 bytes a pixel.
func noisePNG(t *testing.T, size int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.UintN(256))
		if i%4 == 3 {
			img.Pix[i] = 255 // opaque: encoded as RGB
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
