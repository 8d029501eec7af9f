package imagegen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/fetch"
	"github.com/wallpaperd/wallpaperd/internal/picture"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Defaults of Transport.
const (
	// DefaultRequestTimeout bounds one image request: the models take
	// 10–60 s, hd and the gpt-image models at high quality at the upper
	// end.
	DefaultRequestTimeout  = 150 * time.Second
	DefaultDownloadTimeout = 30 * time.Second
	// DefaultMaxImageBytes caps a downloaded image; a 2560x1440 PNG from
	// Seedream is around 6 MiB.
	DefaultMaxImageBytes = 20 << 20
)

// Transport is how a provider's generator reaches the network; every
// provider's config embeds one.
type Transport struct {
	// HTTPClient makes the API calls; nil is a new client. Timeouts come
	// from the fields below, not from it. Image downloads go through
	// package fetch instead, which refuses inside addresses.
	HTTPClient      *http.Client
	RequestTimeout  time.Duration // one API call; DefaultRequestTimeout when zero
	DownloadTimeout time.Duration // DefaultDownloadTimeout when zero
	MaxImageBytes   int64         // DefaultMaxImageBytes when zero
	// AllowPrivateFetch (IMAGE_FETCH_ALLOW_PRIVATE) lets image downloads
	// use http and reach private and loopback addresses: for tests and
	// local relays. Off, a returned image URL must be https to a public
	// address.
	AllowPrivateFetch bool
}

// endpoint is what every provider's generator shares: its name, its key,
// the API client and the image downloader.
type endpoint struct {
	provider string
	key      string
	http     *http.Client
	timeout  time.Duration
	maxBytes int64
	fetch    *fetch.Client
}

func newEndpoint(provider, key string, t Transport) (endpoint, error) {
	if key == "" {
		return endpoint{}, fmt.Errorf("imagegen: %s needs an API key", provider)
	}
	if t.RequestTimeout <= 0 {
		t.RequestTimeout = DefaultRequestTimeout
	}
	if t.DownloadTimeout <= 0 {
		t.DownloadTimeout = DefaultDownloadTimeout
	}
	if t.MaxImageBytes <= 0 {
		t.MaxImageBytes = DefaultMaxImageBytes
	}
	client := t.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	return endpoint{
		provider: provider, key: key, http: client, timeout: t.RequestTimeout, maxBytes: t.MaxImageBytes,
		fetch: fetch.New(fetch.Config{AllowPrivate: t.AllowPrivateFetch, Timeout: t.DownloadTimeout, MaxBytes: t.MaxImageBytes}),
	}, nil
}

// What the user is shown for each failure; never the provider's words,
// nor which provider it was.
const (
	msgContentPolicy = "The image model refused this prompt. Try describing it differently."
	msgUnavailable   = "Image generation is unavailable right now. Please try again later."
	msgRateLimited   = "The image model is busy. Please try again shortly."
	msgTimeout       = "The image model took too long to answer."
	msgRejected      = "The image model rejected this request."
	msgInvalidImage  = "The image model returned an unusable image."
)

// The failure codes a provider's answer is classified into (the API's
// generation error codes).
const (
	codeContentPolicy = "content_policy"
	codeRejected      = "upstream_rejected"
	codeBilling       = "upstream_billing"
	codeAuth          = "upstream_auth"
	codeRateLimited   = "upstream_rate_limited"
	codeUnavailable   = "upstream_unavailable"
	codeTimeout       = "upstream_timeout"
	codeInvalidImage  = "invalid_image"
)

// failure builds the ImageError for code: its user message, and whether a
// later attempt may succeed. An invalid image's retryability depends on
// why, so its callers set it.
func failure(code string, cause error) *wallpaper.ImageError {
	e := &wallpaper.ImageError{Code: code, Err: cause}
	switch code {
	case codeContentPolicy:
		e.Message = msgContentPolicy
	case codeRejected:
		e.Message = msgRejected
	case codeRateLimited:
		e.Message, e.Retryable = msgRateLimited, true
	case codeTimeout:
		e.Message, e.Retryable = msgTimeout, true
	case codeUnavailable:
		e.Message, e.Retryable = msgUnavailable, true
	case codeInvalidImage:
		e.Message = msgInvalidImage
	default: // billing, auth: the operator's trouble, told to the user as unavailable
		e.Message = msgUnavailable
	}
	return e
}

// byStatus classifies an HTTP error answer by its status alone; each
// provider refines it with the error codes it documents.
func byStatus(status int, header http.Header, cause error) *wallpaper.ImageError {
	switch {
	case status == http.StatusTooManyRequests:
		e := failure(codeRateLimited, cause)
		e.RetryAfter = retryAfter(header, time.Now())
		return e
	case status == http.StatusPaymentRequired:
		return failure(codeBilling, cause)
	// A model or endpoint this account cannot use is the operator's
	// setup, like a bad key: another provider may paint.
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
		return failure(codeAuth, cause)
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return failure(codeTimeout, cause)
	case status >= 500:
		return failure(codeUnavailable, cause)
	default:
		return failure(codeRejected, cause)
	}
}

// transportError classifies a failure to talk to the provider at all.
func transportError(err error) *wallpaper.ImageError {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return failure(codeTimeout, err)
	}
	return failure(codeUnavailable, err)
}

// downloadError classifies a failed download of a provider's image URL
// for the job. A retry of the job asks the model again and gets a new
// URL, so a bad status (an expired URL) or a body that is not an image is
// retryable; a destination we refuse to reach or an oversize image is
// not: the same provider would answer the same way.
func downloadError(err error) *wallpaper.ImageError {
	var se *fetch.StatusError
	switch {
	case errors.Is(err, fetch.ErrForbidden), errors.Is(err, fetch.ErrTooManyRedirects), errors.Is(err, fetch.ErrTooLarge):
		return failure(codeInvalidImage, err)
	case errors.Is(err, fetch.ErrNotImage):
		e := failure(codeInvalidImage, err)
		e.Retryable = true
		return e
	case errors.As(err, &se):
		return failure(codeUnavailable, err)
	}
	return transportError(err)
}

// invalidImage is a retryable invalid_image: the model may do better on
// the next try.
func invalidImage(format string, args ...any) *wallpaper.ImageError {
	e := failure(codeInvalidImage, fmt.Errorf("imagegen: "+format, args...))
	e.Retryable = true
	return e
}

// download fetches the image at the URL the model returned: only that
// URL, without our API key, within the download timeout and size cap,
// and only from a public https address unless AllowPrivateFetch.
func (e endpoint) download(ctx context.Context, rawURL string) ([]byte, error) {
	img, err := e.fetch.Image(ctx, rawURL)
	if err != nil {
		return nil, downloadError(err)
	}
	return img.Data, nil
}

// image reads the one image of an answer, given inline (base64) or as a
// URL to download, and checks that its bytes are an image.
func (e endpoint) image(ctx context.Context, b64, rawURL string) ([]byte, string, error) {
	var data []byte
	var err error
	switch {
	case b64 != "":
		if int64(base64.StdEncoding.DecodedLen(len(b64))) > e.maxBytes {
			return nil, "", failure(codeInvalidImage, fmt.Errorf("imagegen: the inline image is over %d bytes", e.maxBytes))
		}
		if data, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return nil, "", invalidImage("decoding the inline image: %w", err)
		}
	case rawURL != "":
		if data, err = e.download(ctx, rawURL); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", invalidImage("the answer holds no image")
	}
	format, ok := picture.Sniff(data)
	if !ok {
		return nil, "", invalidImage("the image is not png, jpeg or webp (starts %q)", data[:min(len(data), 16)])
	}
	return data, picture.ContentType(format), nil
}

// redact keeps the API key out of a cause, which ends up in logs: a relay
// may echo the key it was sent.
func (e endpoint) redact(err error) error {
	if e.key == "" || err == nil || !strings.Contains(err.Error(), e.key) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), e.key, "[redacted]"))
}

// answer is an HTTP answer of a provider's JSON API.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorText is the start of an error answer's body for logs, the key
// taken out.
func (e endpoint) errorText(a *answer) error {
	body := strings.TrimSpace(string(a.body[:min(len(a.body), 512)]))
	return e.redact(fmt.Errorf("%s answered %d: %s", e.provider, a.status, body))
}

// maxAnswerBytes bounds a JSON answer read into memory: a URL answer is a
// few hundred bytes, an inline one the image in base64.
func (e endpoint) maxAnswerBytes() int64 { return e.maxBytes/3*4 + 64<<10 }

// postJSON sends body as JSON to url with the bearer key, within the
// request timeout, and reads the answer. Any HTTP status comes back as an
// answer; an error is a failure to talk at all, already classified.
func (e endpoint) postJSON(ctx context.Context, url string, body any) (*answer, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("imagegen: encoding the %s request: %w", e.provider, err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, failure(codeRejected, fmt.Errorf("imagegen: %s request: %w", e.provider, err))
	}
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, transportError(e.redact(err))
	}
	defer resp.Body.Close()
	limit := e.maxAnswerBytes()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, transportError(e.redact(fmt.Errorf("reading the %s answer: %w", e.provider, err)))
	}
	if int64(len(data)) > limit {
		return nil, failure(codeInvalidImage, fmt.Errorf("imagegen: the %s answer is over %d bytes", e.provider, limit))
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// decode reads a successful answer into out; a body that is not the
// documented JSON is the provider misbehaving.
func (e endpoint) decode(a *answer, out any) error {
	if err := json.Unmarshal(a.body, out); err != nil {
		return failure(codeUnavailable, fmt.Errorf("imagegen: the %s answer is not its JSON: %w", e.provider, err))
	}
	return nil
}

// maxRetryAfter bounds the provider's hint: a job should not sleep for a
// day because a relay said so.
const maxRetryAfter = time.Hour

// retryAfter reads Retry-After (seconds or an HTTP date) or OpenAI's
// retry-after-ms; 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			d = time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := h.Get("Retry-After"); d == 0 && v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	}
	return min(max(d, 0), maxRetryAfter)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
