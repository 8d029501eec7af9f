// Package fetch downloads an image from a URL an image provider handed us,
// without letting that URL reach inside: https only, every address checked
// at dial time after DNS resolution (so a public-looking name that resolves
// to 10.0.0.1 or 169.254.169.254 is refused too), each redirect re-checked,
// a few redirects at most, no proxy from the environment, a total timeout
// and a size cap while reading. The body must be a PNG, JPEG or WebP by its
// bytes.
//
// Errors are classified for the caller: ErrForbidden (a destination we do
// not go to), ErrTooManyRedirects, ErrTooLarge and ErrNotImage are
// permanent, *StatusError carries a non-2xx status, Timeout and Retryable
// say what trying again may achieve. No error carries the URL's query,
// which is often a signature.
package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/picture"
)

// Defaults of Config.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultMaxBytes = 20 << 20
)

// MaxRedirects is how many redirects one fetch follows: signed storage
// URLs redirect once or twice at most; more is a loop or a trick.
const MaxRedirects = 3

// Errors of Client.Image. Each is permanent: fetching the same URL again
// ends the same way. Their messages, and those of the errors wrapping
// them, are safe for logs.
var (
	// ErrForbidden is a destination a fetch does not go to: a scheme other
	// than https (http too with AllowPrivate), or an address, first or
	// after a redirect, that is not public.
	ErrForbidden        = errors.New("destination not allowed")
	ErrTooManyRedirects = errors.New("too many redirects")
	ErrTooLarge         = errors.New("body over the size cap")
	ErrNotImage         = errors.New("body is not a png, jpeg or webp image")
)

// StatusError is an answer with a status other than 2xx.
type StatusError struct {
	StatusCode int
	Where      string // which answer, after redirects; never a URL's query
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s is %d %s", e.Where, e.StatusCode, http.StatusText(e.StatusCode))
}

// Timeout reports whether err is a fetch that ran out of time.
func Timeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// Retryable reports whether fetching the same URL again may succeed: a
// timeout, a 5xx, 408 or 429, or trouble reaching the server (refused,
// reset, DNS); not a refused destination, an oversize or non-image body,
// or another status.
func Retryable(err error) bool {
	var se *StatusError
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrTooManyRedirects),
		errors.Is(err, ErrTooLarge), errors.Is(err, ErrNotImage):
		return false
	case errors.As(err, &se):
		return se.StatusCode >= 500 || se.StatusCode == http.StatusRequestTimeout || se.StatusCode == http.StatusTooManyRequests
	}
	return true
}

// Resolver looks up the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config says what a Client may fetch.
type Config struct {
	// AllowPrivate (IMAGE_FETCH_ALLOW_PRIVATE) allows http and any
	// address, loopback and private included: for tests and relays on the
	// local network. Off, only https to public addresses.
	AllowPrivate bool
	Timeout      time.Duration // the whole fetch, redirects and body included; DefaultTimeout when zero
	MaxBytes     int64         // DefaultMaxBytes when zero

	// Resolver looks up host names; nil is net.DefaultResolver. For tests.
	Resolver Resolver
	// Dial connects to an address that passed the destination check: an
	// IP literal and a port, never a name. nil is a net.Dialer. For tests,
	// which route a public address to a local listener.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Client fetches images. It is safe for concurrent use and keeps
// connections alive between fetches.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext
	}
	c := &Client{cfg: cfg}
	transport := &http.Transport{
		// No Proxy: a proxy would dial for us, past the address check.
		Proxy:                  nil,
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true, // a custom DialContext turns it off otherwise
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           10,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.http = &http.Client{Transport: transport, CheckRedirect: c.checkRedirect}
	return c
}

// Image is a fetched image.
type Image struct {
	Data        []byte
	Format      string // picture.FormatPNG, FormatJPEG or FormatWebP
	ContentType string // from the bytes, never from the server's header
}

// Image fetches the image at rawURL, sending no credentials, within the
// Timeout and MaxBytes.
func (c *Client) Image(ctx context.Context, rawURL string) (*Image, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's error quotes the whole URL, signature included.
		return nil, fmt.Errorf("fetch: %w: not a URL", ErrForbidden)
	}
	img, err := c.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", redacted(u), err)
	}
	return img, nil
}

func (c *Client) get(ctx context.Context, u *url.URL) (*Image, error) {
	if err := c.checkURL(u); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: not a request URL", ErrForbidden) // err quotes the URL
	}
	req.Header.Set("Accept", "image/png, image/jpeg, image/webp")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL and its signature
		}
		return nil, err
	}
	defer resp.Body.Close()
	where := "the answer"
	if last := resp.Request.URL; last.String() != u.String() {
		where = "the answer of " + redacted(last) // after redirects
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{StatusCode: resp.StatusCode, Where: where}
	}
	if resp.ContentLength > c.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %s declares %d bytes, the cap is %d", ErrTooLarge, where, resp.ContentLength, c.cfg.MaxBytes)
	}
	// One byte over the cap is enough to know, and nothing more is read.
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", where, err)
	}
	if int64(len(data)) > c.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, where, c.cfg.MaxBytes)
	}
	format, ok := picture.Sniff(data)
	if !ok {
		return nil, fmt.Errorf("%w: %s starts %q", ErrNotImage, where, data[:min(len(data), 16)])
	}
	return &Image{Data: data, Format: format, ContentType: picture.ContentType(format)}, nil
}

// checkURL refuses a URL whose scheme is not allowed or that names no
// host; the address is checked when it is dialled.
func (c *Client) checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.cfg.AllowPrivate:
	default:
		return fmt.Errorf("%w: scheme %q is not https", ErrForbidden, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%w: no host", ErrForbidden)
	}
	return nil
}

// checkRedirect applies the URL check to each hop and bounds their
// number; the address check applies to every connection anyway.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, MaxRedirects)
	}
	if err := c.checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect to %s: %w", redacted(req.URL), err)
	}
	return nil
}

// dial resolves addr's host, refuses the connection when any of its
// addresses is not public, and dials the checked addresses in turn. The
// check is here, on the addresses actually dialled, rather than on the
// URL: a name can resolve anywhere, and differently each time.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q: %w", addr, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = c.cfg.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}
	if !c.cfg.AllowPrivate {
		// A name with one inside address among public ones is refused
		// whole: no legitimate image host answers like that.
		for _, ip := range ips {
			if why := refusal(ip); why != "" {
				if ip.String() == host {
					return nil, fmt.Errorf("%w: %s is %s", ErrForbidden, ip, why)
				}
				return nil, fmt.Errorf("%w: %s resolves to %s, %s", ErrForbidden, host, ip, why)
			}
		}
	}
	var errs []error
	for _, ip := range ips {
		conn, err := c.cfg.Dial(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// redacted is u without its query, fragment and user info, for errors
// and logs.
func redacted(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
