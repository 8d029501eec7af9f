package imagegen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// OpenAI's image models this generator knows by name.
const (
	// DefaultOpenAIModel is IMAGE_MODEL's default: OpenAI's current fast
	// image model, which its deprecations page names as the replacement of
	// the gpt-image-1 models.
	DefaultOpenAIModel = "gpt-image-2.6-flare"
	ModelDallE3        = "dall-e-3"    // shut down by OpenAI; relays may still serve it
	ModelGPTImage1     = "gpt-image-1" // shut down by OpenAI; relays may still serve it
)

// openAIShutdowns are the image models OpenAI's deprecations page gives a
// shutdown date (checked 2026-11-29). A request for a shut-down model
// fails with model_not_found; a relay may still serve it.
var openAIShutdowns = map[string]time.Time{
	"dall-e-2":                 date(2026, 5, 12),
	"dall-e-3":                 date(2026, 5, 12),
	"gpt-image-1":              date(2026, 10, 23),
	"gpt-image-1-mini":         date(2026, 12, 1),
	"gpt-image-1.5":            date(2026, 12, 1),
	"gpt-image-1.5-2025-12-16": date(2026, 12, 1),
	"chatgpt-image-latest":     date(2026, 12, 1),
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// OpenAIShutdown reports the day OpenAI shuts model down (or did), when
// its deprecations page names one.
func OpenAIShutdown(model string) (time.Time, bool) {
	d, ok := openAIShutdowns[model]
	return d, ok
}

// openAIFamily is the size table and options a model takes: by family,
// so that a new snapshot id (gpt-image-2.6-flare-2027-01-01) needs no
// code change.
func openAIFamily(model string) (string, bool) {
	switch {
	case strings.HasPrefix(model, "dall-e-3"):
		return "openai/dall-e-3", true
	case strings.HasPrefix(model, "gpt-image-1"), strings.HasPrefix(model, "chatgpt-image-"):
		return "openai/gpt-image-1", true
	case strings.HasPrefix(model, "gpt-image-"):
		return "openai/gpt-image-2", true
	}
	return "", false
}

// OpenAIModelKnown reports whether this generator knows the sizes and
// options of model: dall-e-3, or a gpt-image or chatgpt-image model.
func OpenAIModelKnown(model string) bool {
	_, ok := openAIFamily(model)
	return ok
}

// OpenAIConfig says which model OpenAI (or a relay speaking its API)
// paints with and how to reach it.
type OpenAIConfig struct {
	APIKey string
	// BaseURL is the API root including /v1, for OpenAI-compatible relays;
	// empty for api.openai.com.
	BaseURL string
	// Model is an image model id; DefaultOpenAIModel when empty.
	Model string
	Transport
}

// OpenAI paints with OpenAI's Images API. dall-e-3 answers with a URL
// that is downloaded; the gpt-image models answer inline in base64.
type OpenAI struct {
	endpoint
	cfg    OpenAIConfig
	family string
}

// NewOpenAI returns a generator for cfg.Model.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	cfg.Model = cmpOr(cfg.Model, DefaultOpenAIModel)
	family, ok := openAIFamily(cfg.Model)
	if !ok {
		return nil, fmt.Errorf("imagegen: OpenAI model %q is not dall-e-3 nor a gpt-image model", cfg.Model)
	}
	ep, err := newEndpoint(ProviderOpenAI, cfg.APIKey, cfg.Transport)
	if err != nil {
		return nil, err
	}
	return &OpenAI{endpoint: ep, cfg: cfg, family: family}, nil
}

// modelRequest maps the product options to what the model takes.
func (o *OpenAI) modelRequest(req wallpaper.ImageRequest) (openai.ImageRequest, map[string]any, error) {
	opts, err := productOptions(req.Options)
	if err != nil {
		return openai.ImageRequest{}, nil, err
	}
	r := openai.ImageRequest{Prompt: req.Prompt, Model: o.cfg.Model, N: 1, User: req.User, Size: sizeFor(o.family, opts.size)}
	if o.family != "openai/dall-e-3" {
		// The gpt-image models have no style; they always answer in
		// base64 and refuse response_format.
		r.Quality = map[string]string{
			wallpaper.QualityStandard: openai.CreateImageQualityMedium,
			wallpaper.QualityHD:       openai.CreateImageQualityHigh,
		}[opts.quality]
		return r, map[string]any{"size": r.Size, "quality": r.Quality}, nil
	}
	r.Quality, r.Style = opts.quality, opts.style
	// A URL rather than base64: the answer stays small and the image is
	// fetched with our own size cap and content check.
	r.ResponseFormat = openai.CreateImageResponseFormatURL
	return r, map[string]any{"size": r.Size, "quality": r.Quality, "style": r.Style}, nil
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
		return nil, failure(codeRejected, err)
	}
	// A client per call: it is a few fields, and it gives the call its
	// own header recorder.
	rec := &headerRecorder{client: o.http}
	cc := openai.DefaultConfig(o.key)
	if o.cfg.BaseURL != "" {
		cc.BaseURL = strings.TrimRight(o.cfg.BaseURL, "/")
	}
	cc.HTTPClient = rec

	callCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	resp, err := openai.NewClientWithConfig(cc).CreateImage(callCtx, oreq)
	if err != nil {
		return nil, o.classify(err, rec.header)
	}
	if len(resp.Data) == 0 {
		return nil, invalidImage("the answer holds no image")
	}
	item := resp.Data[0]
	data, ctype, err := o.image(ctx, item.B64JSON, item.URL)
	if err != nil {
		return nil, err
	}
	if item.RevisedPrompt != "" {
		params["revised_prompt"] = item.RevisedPrompt
	}
	return &wallpaper.Image{Data: data, ContentType: ctype, Provider: ProviderOpenAI, Model: o.cfg.Model, Params: params}, nil
}

// classify turns a go-openai error into an ImageError.
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
	switch {
	case code == "billing_hard_limit_reached" || code == "insufficient_quota" ||
		strings.Contains(strings.ToLower(message), "billing hard limit"):
		// An empty account does not refill by retrying, 429 or not.
		return failure(codeBilling, cause)
	case status == http.StatusBadRequest && (code == "content_policy_violation" || code == "moderation_blocked"):
		return failure(codeContentPolicy, cause)
	case code == "model_not_found":
		// A shut-down model, or one this relay does not serve.
		return failure(codeAuth, cause)
	}
	return byStatus(status, header, cause)
}
