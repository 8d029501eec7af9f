package fetch_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/fetch"
)

// The URLs in these tests carry a signature, as a provider's do; no error
// may repeat it.
const sig = "?se=2030-01-01&sig=secret"

// Two addresses on the public internet, for names that must be allowed;
// the fake network routes them to local listeners.
var (
	public4 = netip.MustParseAddr("93.184.215.14")
	public6 = netip.MustParseAddr("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// server is a test server that counts the requests it receives.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

// serve starts a server (https when tls) answering with h, stopped when
// the test ends.
func serve(t *testing.T, tls bool, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	})
	if tls {
		s.Server = httptest.NewTLSServer(handler)
	} else {
		s.Server = httptest.NewServer(handler)
	}
	t.Cleanup(s.Close)
	return s
}

// serveImage is a server answering every request with img.
func serveImage(t *testing.T, tls bool, img []byte) *server {
	t.Helper()
	return serve(t, tls, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(img)
	})
}

func (s *server) port() string { return fmt.Sprint(s.Listener.Addr().(*net.TCPAddr).Port) }

// network is a fake internet: a resolver with fixed answers, and a dialer
// that routes each address to a local listener, so a test can prove that
// a refused address would have been reached without the check.
type network struct {
	names  map[string][]netip.Addr
	routes map[netip.Addr]string // address → listener host:port
}

func newNetwork() *network {
	return &network{names: map[string][]netip.Addr{}, routes: map[netip.Addr]string{}}
}

func (n *network) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := n.names[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (n *network) dial(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("the fake network dials IP literals only, not %q", address)
	}
	dst, ok := n.routes[ap.Addr()]
	if !ok {
		return nil, fmt.Errorf("no route to %s", address)
	}
	return (&net.Dialer{}).DialContext(ctx, network, dst)
}

// route makes name resolve to addrs, and the first of them lead to s.
func (n *network) route(name string, s *server, addrs ...netip.Addr) {
	if name != "" {
		n.names[name] = addrs
	}
	n.routes[addrs[0].Unmap()] = s.Listener.Addr().String()
}

// newClient returns a client on the fake network that trusts the test
// servers' certificate.
func newClient(t *testing.T, n *network, cfg fetch.Config) *fetch.Client {
	t.Helper()
	if n != nil {
		cfg.Resolver, cfg.Dial = n, n.dial
	}
	c := fetch.New(cfg)
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate()) // every httptest server has this one
	ts.Close()
	fetch.TrustForTest(c, pool)
	return c
}

// checkErr checks that err wraps want (nil for success) and keeps the
// URL's signature out of its message.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Image: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Image = %v, want %v", err, want)
	}
	if strings.Contains(err.Error(), "sig=") {
		t.Errorf("the error carries the URL's signature: %v", err)
	}
	if fetch.Retryable(err) {
		t.Errorf("Retryable(%v) = true, want a permanent error", err)
	}
}

func TestForbiddenAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr string
		why  string // in the error; "" for an address that is allowed
	}{
		{"public IPv4 is allowed", public4.String(), ""},
		{"public IPv6 is allowed", public6.String(), ""},
		{"loopback", "127.0.0.1", "loopback"},
		{"loopback, not .1", "127.8.9.10", "loopback"},
		{"private 10/8", "10.1.2.3", "private"},
		{"private 172.16/12", "172.31.255.254", "private"},
		{"private 192.168/16", "192.168.1.1", "private"},
		{"cloud metadata", "169.254.169.254", "link-local"},
		{"link-local", "169.254.1.1", "link-local"},
		{"CGNAT", "100.64.0.1", "CGNAT"},
		{"unspecified", "0.0.0.0", "unspecified"},
		{"this network", "0.1.2.3", "this network"},
		{"multicast", "224.0.0.251", "multicast"},
		{"broadcast", "255.255.255.255", "broadcast"},
		{"reserved class E", "240.0.0.1", "reserved"},
		{"benchmarking", "198.18.0.1", "benchmarking"},
		{"documentation", "192.0.2.10", "documentation"},
		{"IETF 192.0.0/24", "192.0.0.170", "IETF"},
		{"IPv6 loopback", "::1", "loopback"},
		{"IPv6 unspecified", "::", "unspecified"},
		{"IPv6 link-local", "fe80::1", "link-local"},
		{"IPv6 unique local", "fc00::1", "unique local"},
		{"AWS metadata over IPv6", "fd00:ec2::254", "unique local"},
		{"IPv6 site-local", "fec0::1", "site-local"},
		{"IPv6 multicast", "ff02::1", "multicast"},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", "loopback"},
		{"IPv4-mapped metadata", "::ffff:169.254.169.254", "link-local"},
		{"IPv4-mapped private", "::ffff:10.0.0.1", "private"},
		{"IPv4-compatible loopback", "::127.0.0.1", "IPv4-compatible"},
		{"NAT64 of the metadata address", "64:ff9b::a9fe:a9fe", "NAT64"},
		{"6to4 of a private address", "2002:a00:1::1", "6to4"},
		{"Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"IPv6 documentation", "2001:db8::1", "documentation"},
		{"IPv6 outside global unicast", "4000::1", "outside IPv6 global unicast"},
	}
	img := pngBytes(t)
	for _, tt := range tests {
		for _, how := range []string{"by name", "literal"} {
			if tt.why == "" && how == "literal" {
				continue // the test certificate names no public address
			}
			t.Run(tt.name+" "+how, func(t *testing.T) {
				t.Parallel()
				target := serveImage(t, true, img)
				n := newNetwork()
				addr := netip.MustParseAddr(tt.addr)
				rawURL := "https://" + net.JoinHostPort(tt.addr, "443") + "/x.png" + sig
				if how == "by name" {
					n.route("images.example.com", target, addr)
					rawURL = "https://images.example.com/x.png" + sig
				} else {
					n.route("", target, addr)
				}
				got, err := newClient(t, n, fetch.Config{}).Image(context.Background(), rawURL)
				if tt.why == "" {
					checkErr(t, err, nil)
					if !bytes.Equal(got.Data, img) || got.ContentType != "image/png" {
						t.Errorf("got %d bytes of %s, want the %d-byte PNG", len(got.Data), got.ContentType, len(img))
					}
					if n := target.hits.Load(); n != 1 {
						t.Errorf("the server saw %d requests, want 1", n)
					}
					return
				}
				if n := target.hits.Load(); n != 0 {
					t.Errorf("the server behind %s saw %d requests, want none", tt.addr, n)
				}
				checkErr(t, err, fetch.ErrForbidden)
				if !strings.Contains(err.Error(), tt.why) {
					t.Errorf("Image = %v, want it to say %q", err, tt.why)
				}
			})
		}
	}
}

// TestForbiddenOnRealNetwork dials for real, with the system resolver:
// the check does not depend on the test's fake network.
func TestForbiddenOnRealNetwork(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	for _, host := range []string{"127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			target := serveImage(t, true, img)
			_, err := newClient(t, nil, fetch.Config{}).Image(context.Background(), "https://"+host+":"+target.port()+"/x.png"+sig)
			if n := target.hits.Load(); n != 0 {
				t.Errorf("the loopback server saw %d requests, want none", n)
			}
			checkErr(t, err, fetch.ErrForbidden)
		})
	}
}

func TestMixedAnswerIsRefused(t *testing.T) {
	t.Parallel()
	target := serveImage(t, true, pngBytes(t))
	n := newNetwork()
	// A rebinding-style answer: a public address first, an inside one after.
	n.route("images.example.com", target, public4, netip.MustParseAddr("10.0.0.7"))
	_, err := newClient(t, n, fetch.Config{}).Image(context.Background(), "https://images.example.com/x.png"+sig)
	if n := target.hits.Load(); n != 0 {
		t.Errorf("the server saw %d requests, want none", n)
	}
	checkErr(t, err, fetch.ErrForbidden)
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	tests := []struct {
		name     string
		location string // where the public origin redirects; TARGET is the target's port
		tls      bool   // whether the target speaks https
		target   netip.Addr
		want     error
	}{
		{"to another public host", "https://other.example.com/y.png" + sig, true, public6, nil},
		{"to a name inside", "https://inside.example.com/y.png" + sig, true, netip.MustParseAddr("10.0.0.7"), fetch.ErrForbidden},
		{"to the metadata address", "https://169.254.169.254/latest/meta-data/", true, netip.MustParseAddr("169.254.169.254"), fetch.ErrForbidden},
		{"to loopback", "https://127.0.0.1:443/y.png", true, netip.MustParseAddr("127.0.0.1"), fetch.ErrForbidden},
		{"to IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/y.png", true, netip.MustParseAddr("127.0.0.1"), fetch.ErrForbidden},
		{"to http on a public host", "http://other.example.com/y.png" + sig, false, public6, fetch.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			origin := serve(t, true, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tt.location, http.StatusFound)
			})
			target := serveImage(t, tt.tls, img)
			n := newNetwork()
			n.route("cdn.example.com", origin, public4)
			n.route("other.example.com", target, tt.target)
			n.route("inside.example.com", target, tt.target)
			got, err := newClient(t, n, fetch.Config{}).Image(context.Background(), "https://cdn.example.com/x.png"+sig)
			if origin.hits.Load() != 1 {
				t.Errorf("the origin saw %d requests, want 1", origin.hits.Load())
			}
			wantHits := int32(0)
			if tt.want == nil {
				wantHits = 1
			}
			if n := target.hits.Load(); n != wantHits {
				t.Errorf("the redirect target saw %d requests, want %d", n, wantHits)
			}
			checkErr(t, err, tt.want)
			if tt.want == nil && !bytes.Equal(got.Data, img) {
				t.Errorf("got %d bytes, want the %d-byte PNG", len(got.Data), len(img))
			}
		})
	}
}

func TestTooManyRedirects(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	for _, hops := range []int{fetch.MaxRedirects, fetch.MaxRedirects + 1} {
		t.Run(fmt.Sprintf("%d redirects", hops), func(t *testing.T) {
			t.Parallel()
			s := serve(t, true, func(w http.ResponseWriter, r *http.Request) {
				var i int
				_, _ = fmt.Sscanf(r.URL.Path, "/hop/%d", &i)
				if i < hops {
					http.Redirect(w, r, fmt.Sprintf("/hop/%d", i+1), http.StatusFound)
					return
				}
				_, _ = w.Write(img)
			})
			n := newNetwork()
			n.route("cdn.example.com", s, public4)
			_, err := newClient(t, n, fetch.Config{}).Image(context.Background(), "https://cdn.example.com/hop/0"+sig)
			if hops <= fetch.MaxRedirects {
				checkErr(t, err, nil)
			} else {
				checkErr(t, err, fetch.ErrTooManyRedirects)
			}
			if got, want := s.hits.Load(), int32(min(hops, fetch.MaxRedirects)+1); got != want {
				t.Errorf("the server saw %d requests, want %d", got, want)
			}
		})
	}
}

func TestSchemes(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	tests := []struct {
		name         string
		url          string // HOST is the plain http server's host:port
		allowPrivate bool
		want         error
	}{
		{"http to a public host", "http://images.example.com/x.png" + sig, false, fetch.ErrForbidden},
		{"http to loopback", "http://HOST/x.png" + sig, false, fetch.ErrForbidden},
		{"http to loopback with AllowPrivate", "http://HOST/x.png" + sig, true, nil},
		{"http to a public host with AllowPrivate", "http://images.example.com/x.png" + sig, true, nil},
		{"file", "file:///etc/passwd", true, fetch.ErrForbidden},
		{"ftp", "ftp://HOST/x.png", true, fetch.ErrForbidden},
		{"no scheme", "//HOST/x.png", true, fetch.ErrForbidden},
		{"no host", "https:///x.png", true, fetch.ErrForbidden},
		{"not a URL", "https://HOST/x.png\x7f" + sig, true, fetch.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := serveImage(t, false, img)
			n := newNetwork()
			n.route("images.example.com", target, public4)
			n.routes[netip.MustParseAddr("127.0.0.1")] = target.Listener.Addr().String()
			c := newClient(t, n, fetch.Config{AllowPrivate: tt.allowPrivate})
			_, err := c.Image(context.Background(), strings.ReplaceAll(tt.url, "HOST", target.Listener.Addr().String()))
			wantHits := int32(0)
			if tt.want == nil {
				wantHits = 1
			}
			if n := target.hits.Load(); n != wantHits {
				t.Errorf("the server saw %d requests, want %d", n, wantHits)
			}
			checkErr(t, err, tt.want)
		})
	}
}

// TestAllowPrivate fetches from a real loopback server, with the real
// dialer and resolver.
func TestAllowPrivate(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	target := serveImage(t, false, img)
	relay := serve(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+target.port()+"/x.png", http.StatusFound)
	})
	got, err := fetch.New(fetch.Config{AllowPrivate: true}).Image(context.Background(), relay.URL+"/x.png"+sig)
	checkErr(t, err, nil)
	if !bytes.Equal(got.Data, img) || target.hits.Load() != 1 {
		t.Errorf("got %d bytes after %d requests, want the %d-byte PNG after 1", len(got.Data), target.hits.Load(), len(img))
	}
}

func TestSizeCap(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	size := int64(len(img))
	tests := []struct {
		name    string
		max     int64
		chunked bool // no Content-Length
		endless bool // the body never ends
		want    error
	}{
		{"exactly the cap", size, false, false, nil},
		{"exactly the cap, chunked", size, true, false, nil},
		{"one byte over, declared", size - 1, false, false, fetch.ErrTooLarge},
		{"one byte over, chunked", size - 1, true, false, fetch.ErrTooLarge},
		// Read without a cap, this body would run into the timeout.
		{"endless", 1 << 20, true, true, fetch.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, false, func(w http.ResponseWriter, r *http.Request) {
				if !tt.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(len(img)))
				}
				_, _ = w.Write(img)
				if tt.chunked {
					w.(http.Flusher).Flush()
				}
				chunk := make([]byte, 32<<10)
				for tt.endless && r.Context().Err() == nil {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			})
			c := fetch.New(fetch.Config{AllowPrivate: true, MaxBytes: tt.max, Timeout: time.Minute})
			got, err := c.Image(context.Background(), s.URL+"/x.png"+sig)
			checkErr(t, err, tt.want)
			if tt.want == nil && !bytes.Equal(got.Data, img) {
				t.Errorf("got %d bytes, want %d", len(got.Data), len(img))
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request, release <-chan struct{})
	}{
		{"no answer", func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}},
		{"body stalls", func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			w.Header().Set("Content-Length", fmt.Sprint(len(img)+100))
			_, _ = w.Write(img)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			s := serve(t, false, func(w http.ResponseWriter, r *http.Request) { tt.handle(w, r, release) })
			t.Cleanup(func() { close(release) }) // before the server closes
			c := fetch.New(fetch.Config{AllowPrivate: true, Timeout: 200 * time.Millisecond})
			_, err := c.Image(context.Background(), s.URL+"/x.png"+sig)
			if err == nil || !fetch.Timeout(err) || !fetch.Retryable(err) {
				t.Fatalf("Image = %v, want a retryable timeout", err)
			}
			if strings.Contains(err.Error(), "sig=") {
				t.Errorf("the error carries the URL's signature: %v", err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	tests := []struct {
		status    int
		retryable bool
	}{
		{http.StatusNotFound, false},
		{http.StatusForbidden, false},
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			s := serve(t, false, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write(img) // an image body does not make an error page a success
			})
			_, err := fetch.New(fetch.Config{AllowPrivate: true}).Image(context.Background(), s.URL+"/x.png"+sig)
			var se *fetch.StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Fatalf("Image = %v, want a StatusError %d", err, tt.status)
			}
			if fetch.Retryable(err) != tt.retryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, !tt.retryable, tt.retryable)
			}
			if strings.Contains(err.Error(), "sig=") {
				t.Errorf("the error carries the URL's signature: %v", err)
			}
		})
	}
}

func TestSniffing(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 100)...)
	webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), make([]byte, 100)...)
	tests := []struct {
		name   string
		header string // the Content-Type the server claims
		body   []byte
		want   string // the content type sniffed; "" for ErrNotImage
	}{
		{"png", "application/octet-stream", img, "image/png"},
		{"jpeg labelled png", "image/png", jpeg, "image/jpeg"},
		{"webp", "", webp, "image/webp"},
		{"html labelled png", "image/png", []byte("<!DOCTYPE html><html>Access denied</html>"), ""},
		{"gif", "image/gif", []byte("GIF89a\x01\x00\x01\x00"), ""},
		{"svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), ""},
		{"empty", "image/png", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, false, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.header)
				_, _ = w.Write(tt.body)
			})
			got, err := fetch.New(fetch.Config{AllowPrivate: true}).Image(context.Background(), s.URL+"/x.png"+sig)
			if tt.want == "" {
				checkErr(t, err, fetch.ErrNotImage)
				return
			}
			checkErr(t, err, nil)
			if got.ContentType != tt.want || !bytes.Equal(got.Data, tt.body) {
				t.Errorf("got %d bytes of %s, want %d bytes of %s", len(got.Data), got.ContentType, len(tt.body), tt.want)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"forbidden", fmt.Errorf("fetch x: %w", fetch.ErrForbidden), false},
		{"too many redirects", fmt.Errorf("fetch x: %w", fetch.ErrTooManyRedirects), false},
		{"too large", fmt.Errorf("fetch x: %w", fetch.ErrTooLarge), false},
		{"not an image", fmt.Errorf("fetch x: %w", fetch.ErrNotImage), false},
		{"404", &fetch.StatusError{StatusCode: 404}, false},
		{"408", &fetch.StatusError{StatusCode: 408}, true},
		{"503", fmt.Errorf("fetch x: %w", &fetch.StatusError{StatusCode: 503}), true},
		{"deadline", fmt.Errorf("fetch x: %w", context.DeadlineExceeded), true},
		{"cancelled by the caller", fmt.Errorf("fetch x: %w", context.Canceled), false},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := fetch.Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
