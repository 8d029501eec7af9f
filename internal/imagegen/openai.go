package imagegen

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/wallpaperd/wallpaperd/internal/fetch"
	"github.com/wallpaperd/wallpaperd/internal/picture"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Defaults of OpenAIConfig.
const (
	// DefaultRequestTimeout bounds one image request: the models take
	// 10–60 s, hd and gpt-image-1 high at the upper end.
	DefaultRequestTimeout  = 150 * time.Second
	DefaultDownloadTimeout = 30 * time.Second
	// DefaultMaxImageBytes caps a downloaded image; a 1792x1024 hd PNG is
	// around 4 MiB.
	DefaultMaxImageBytes = 20 << 20
)

// What the user is shown for each failure; never the provider's words.
const (
	msgContentPolicy = "The image model refused this prompt. Try describing it differently."
	msgUnavailable   = "Image generation is unavailable right now. Please try again later."
	msgRateLimited   = "The image model is busy. Please try again shortly."
	msgTimeout       = "The image model took too long to answer."
	msgRejected      = "The image model rejected this request."
	msgInvalidImage  = "The image model returned an unusable image."
)

// OpenAI's image models this generator speaks to.
const (
	ModelDallE3    = "dall-e-3"    // answers with a URL to download
	ModelGPTImage1 = "gpt-image-1" // answers inline, in base64
)

// OpenAIConfig says which model OpenAI paints with and how to reach it.
type OpenAIConfig struct {
	APIKey string
	// BaseURL is the API root including /v1, for OpenAI-compatible relays;
	// empty for api.openai.com.
	BaseURL string
	// Model is ModelDallE3 or ModelGPTImage1.
	Model string
	// HTTPClient makes the API calls; nil is a new client. Timeouts come
	// from the fields below, not from it. Image downloads go through
	// package fetch instead, which refuses inside addresses.
	HTTPClient      *http.Client
	RequestTimeout  time.Duration // DefaultRequestTimeout when zero
	DownloadTimeout time.Duration // DefaultDownloadTimeout when zero
	MaxImageBytes   int64         // DefaultMaxImageBytes when zero
	// AllowPrivateFetch (IMAGE_FETCH_ALLOW_PRIVATE) lets image downloads
	// use http and reach private and loopback addresses: for tests and
	// local relays. Off, a returned image URL must be https to a public
	// address.
	AllowPrivateFetch bool
}

// OpenAI paints with OpenAI's Images API: dall-e-3, whose image is
// downloaded from the URL it returns, or gpt-image-1, which returns it
// inline. Failures come back as *wallpaper.ImageError, classified for the
// job's retry decision.
type OpenAI struct {
	cfg   OpenAIConfig
	http  *http.Client
	fetch *fetch.Client
}

// NewOpenAI returns a generator for cfg.Model.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("imagegen: OpenAI needs an API key")
	}
	switch cfg.Model {
	case ModelDallE3, ModelGPTImage1:
	default:
		return nil, fmt.Errorf("imagegen: model %q is not %s or %s", cfg.Model, ModelDallE3, ModelGPTImage1)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.DownloadTimeout <= 0 {
		cfg.DownloadTimeout = DefaultDownloadTimeout
	}
	if cfg.MaxImageBytes <= 0 {
		cfg.MaxImageBytes = DefaultMaxImageBytes
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	images := fetch.New(fetch.Config{AllowPrivate: cfg.AllowPrivateFetch, Timeout: cfg.DownloadTimeout, MaxBytes: cfg.MaxImageBytes})
	return &OpenAI{cfg: cfg, http: client, fetch: images}, nil
}

// modelRequest maps the product options to what the model takes: sizes,
// qualities and styles it does not know become the nearest it does.
func (o *OpenAI) modelRequest(req wallpaper.ImageRequest) (openai.ImageRequest, map[string]any, error) {
	opts := req.Options
	size := cmpOr(opts.Size, wallpaper.SizePortrait)
	quality := cmpOr(opts.Quality, wallpaper.QualityStandard)
	style := cmpOr(opts.Style, wallpaper.StyleVivid)
	switch size {
	case wallpaper.SizePortrait, wallpaper.SizeLandscape, wallpaper.SizeSquare:
	default:
		return openai.ImageRequest{}, nil, fmt.Errorf("imagegen: unknown size %q", size)
	}
	if quality != wallpaper.QualityStandard && quality != wallpaper.QualityHD {
		return openai.ImageRequest{}, nil, fmt.Errorf("imagegen: unknown quality %q", quality)
	}
	if style != wallpaper.StyleVivid && style != wallpaper.StyleNatural {
		return openai.ImageRequest{}, nil, fmt.Errorf("imagegen: unknown style %q", style)
	}

	r := openai.ImageRequest{Prompt: req.Prompt, Model: o.cfg.Model, N: 1, User: req.User}
	if o.cfg.Model == ModelGPTImage1 {
		// gpt-image-1 has no 16:9 sizes and no style; it always answers
		// in base64 and refuses response_format.
		r.Size = map[string]string{
			wallpaper.SizePortrait:  openai.CreateImageSize1024x1536,
			wallpaper.SizeLandscape: openai.CreateImageSize1536x1024,
			wallpaper.SizeSquare:    openai.CreateImageSize1024x1024,
		}[size]
		r.Quality = map[string]string{
			wallpaper.QualityStandard: openai.CreateImageQualityMedium,
			wallpaper.QualityHD:       openai.CreateImageQualityHigh,
		}[quality]
		return r, map[string]any{"size": r.Size, "quality": r.Quality}, nil
	}
	r.Size, r.Quality, r.Style = size, quality, style
	// A URL rather than base64: the answer stays small and the image is
	// fetched with our own size cap and content check.
	r.ResponseFormat = openai.CreateImageResponseFormatURL
	return r, map[string]any{"size": r.Size, "quality": r.Quality, "style": r.Style}, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// headerRecorder keeps the headers of the response to one API call:
// go-openai's errors carry the status but not Retry-After.
type headerRecorder struct {
	client *http.Client
	header http.Header
}

func (h *headerRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := h.client.Do(req)
	if err == nil {
		h.header = resp.Header
	}
	return resp, err
}

// Generate asks the model for one image and returns its bytes.
func (o *OpenAI) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	oreq, params, err := o.modelRequest(req)
	if err != nil {
		return nil, &wallpaper.ImageError{Code: "upstream_rejected", Message: msgRejected, Err: err}
	}
	// A client per call: it is a few fields, and it gives the call its
	// own header recorder.
	rec := &headerRecorder{client: o.http}
	cc := openai.DefaultConfig(o.cfg.APIKey)
	if o.cfg.BaseURL != "" {
		cc.BaseURL = strings.TrimRight(o.cfg.BaseURL, "/")
	}
	cc.HTTPClient = rec

	callCtx, cancel := context.WithTimeout(ctx, o.cfg.RequestTimeout)
	defer cancel()
	resp, err := openai.NewClientWithConfig(cc).CreateImage(callCtx, oreq)
	if err != nil {
		return nil, o.classify(err, rec.header)
	}
	if len(resp.Data) == 0 {
		return nil, &wallpaper.ImageError{Code: "invalid_image", Message: msgInvalidImage, Retryable: true, Err: errors.New("imagegen: the answer holds no image")}
	}
	item := resp.Data[0]
	var data []byte
	switch {
	case item.B64JSON != "":
		data, err = base64.StdEncoding.DecodeString(item.B64JSON)
		if err != nil {
			return nil, &wallpaper.ImageError{Code: "invalid_image", Message: msgInvalidImage, Retryable: true, Err: fmt.Errorf("imagegen: decoding b64_json: %w", err)}
		}
	case item.URL != "":
		if data, err = o.download(ctx, item.URL); err != nil {
			return nil, err
		}
	default:
		return nil, &wallpaper.ImageError{Code: "invalid_image", Message: msgInvalidImage, Retryable: true, Err: errors.New("imagegen: the answer has neither url nor b64_json")}
	}
	format, ok := picture.Sniff(data)
	if !ok {
		return nil, &wallpaper.ImageError{Code: "invalid_image", Message: msgInvalidImage, Retryable: true,
			Err: fmt.Errorf("imagegen: the image is not png, jpeg or webp (starts %q)", data[:min(len(data), 16)])}
	}
	if item.RevisedPrompt != "" {
		params["revised_prompt"] = item.RevisedPrompt
	}
	return &wallpaper.Image{Data: data, ContentType: picture.ContentType(format), Model: o.cfg.Model, Params: params}, nil
}

// download fetches the image at the URL the model returned: only that
// URL, without our API key, within DownloadTimeout and MaxImageBytes, and
// only from a public https address unless AllowPrivateFetch.
func (o *OpenAI) download(ctx context.Context, rawURL string) ([]byte, error) {
	img, err := o.fetch.Image(ctx, rawURL)
	if err != nil {
		return nil, downloadError(err)
	}
	return img.Data, nil
}

// downloadError classifies a failed download of a provider's image URL
// for the job. A retry of the job asks the model again and gets a new
// URL, so a bad status or a body that is not an image is retryable; a
// destination we refuse to reach or an oversize image is not: the same
// provider would answer the same way.
func downloadError(err error) *wallpaper.ImageError {
	var se *fetch.StatusError
	switch {
	case errors.Is(err, fetch.ErrForbidden), errors.Is(err, fetch.ErrTooManyRedirects), errors.Is(err, fetch.ErrTooLarge):
		return &wallpaper.ImageError{Code: "invalid_image", Message: msgInvalidImage, Err: err}
	case errors.Is(err, fetch.ErrNotImage):
		return &wallpaper.ImageError{Code: "invalid_image", Message: msgInvalidImage, Retryable: true, Err: err}
	case errors.As(err, &se):
		return &wallpaper.ImageError{Code: "upstream_unavailable", Message: msgUnavailable, Retryable: true, Err: err}
	}
	return transportError(err)
}

// transportError classifies a failure to talk to the provider at all.
func transportError(err error) *wallpaper.ImageError {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &wallpaper.ImageError{Code: "upstream_timeout", Message: msgTimeout, Retryable: true, Err: err}
	}
	return &wallpaper.ImageError{Code: "upstream_unavailable", Message: msgUnavailable, Retryable: true, Err: err}
}

// classify turns a go-openai error into an ImageError: what the job may
// retry, and what the user is told.
func (o *OpenAI) classify(err error, header http.Header) *wallpaper.ImageError {
	cause := o.redact(err)
	status, code, message := 0, "", ""
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		status, message = apiErr.HTTPStatusCode, apiErr.Message
		if s, ok := apiErr.Code.(string); ok {
			code = s
		}
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
	default:
		return transportError(cause)
	}

	ie := func(c, msg string, retryable bool) *wallpaper.ImageError {
		return &wallpaper.ImageError{Code: c, Message: msg, Retryable: retryable, Err: cause}
	}
	billing := code == "billing_hard_limit_reached" || code == "insufficient_quota" ||
		strings.Contains(strings.ToLower(message), "billing hard limit")
	switch {
	case billing:
		// An empty account does not refill by retrying, 429 or not.
		return ie("upstream_billing", msgUnavailable, false)
	case status == http.StatusTooManyRequests:
		e := ie("upstream_rate_limited", msgRateLimited, true)
		e.RetryAfter = retryAfter(header, time.Now())
		return e
	case status == http.StatusBadRequest && (code == "content_policy_violation" || code == "moderation_blocked"):
		return ie("content_policy", msgContentPolicy, false)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ie("upstream_auth", msgUnavailable, false)
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return ie("upstream_timeout", msgTimeout, true)
	case status >= 500:
		return ie("upstream_unavailable", msgUnavailable, true)
	default:
		return ie("upstream_rejected", msgRejected, false)
	}
}

// redact keeps the API key out of the cause, which ends up in logs: a
// relay may echo the key it was sent.
func (o *OpenAI) redact(err error) error {
	if o.cfg.APIKey == "" || !strings.Contains(err.Error(), o.cfg.APIKey) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), o.cfg.APIKey, "[redacted]"))
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
