package imagegen

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Defaults of ArkConfig.
const (
	DefaultArkBaseURL = "https://ark.cn-beijing.volces.com/api/v3"
	DefaultArkModel   = "doubao-seedream-4-5-251128"
)

// ArkConfig says how to reach Volcengine Ark's images API and which
// Seedream model (or endpoint id) paints.
type ArkConfig struct {
	APIKey  string
	BaseURL string // DefaultArkBaseURL when empty
	Model   string // DefaultArkModel when empty; an endpoint id (ep-…) works too
	Transport
}

// Ark paints with Volcengine Ark's Seedream models. The API is
// OpenAI-shaped, but its sizes are its own and its `watermark` field
// (true unless sent false) has no place in go-openai's request: hence
// this small client.
type Ark struct {
	endpoint
	cfg ArkConfig
}

// NewArk returns a generator for cfg.
func NewArk(cfg ArkConfig) (*Ark, error) {
	cfg.BaseURL = strings.TrimRight(cmpOr(cfg.BaseURL, DefaultArkBaseURL), "/")
	cfg.Model = cmpOr(cfg.Model, DefaultArkModel)
	ep, err := newEndpoint(ProviderArk, cfg.APIKey, cfg.Transport)
	if err != nil {
		return nil, err
	}
	return &Ark{endpoint: ep, cfg: cfg}, nil
}

// arkRequest is the body of POST /images/generations.
type arkRequest struct {
	Model          string `json:"model"`
	Prompt         string `json:"prompt"`
	Size           string `json:"size"`
	ResponseFormat string `json:"response_format"`
	// Watermark is always sent false: Ark's mark would be a second one
	// beside the "AI生成" label wallpaperd draws on every wallpaper.
	Watermark bool `json:"watermark"`
}

// arkError is the error object of an answer, top-level or per image.
type arkError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type arkAnswer struct {
	Model string `json:"model"`
	Data  []struct {
		URL     string    `json:"url"`
		B64JSON string    `json:"b64_json"`
		Size    string    `json:"size"`
		Error   *arkError `json:"error"`
	} `json:"data"`
	Error *arkError `json:"error"`
}

// Generate asks Seedream for one image and downloads it (its URLs live
// 24 hours).
func (a *Ark) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	opts, err := productOptions(req.Options)
	if err != nil {
		return nil, failure(codeRejected, err)
	}
	body := arkRequest{
		Model: a.cfg.Model, Prompt: req.Prompt, Size: sizeFor("ark/seedream", opts.size),
		ResponseFormat: "url", Watermark: false,
	}
	ans, err := a.postJSON(ctx, a.cfg.BaseURL+"/images/generations", body)
	if err != nil {
		return nil, err
	}
	if ans.status != http.StatusOK {
		var e struct {
			Error arkError `json:"error"`
		}
		_ = a.decode(ans, &e)
		return nil, a.classify(ans, e.Error.Code)
	}
	var out arkAnswer
	if err := a.decode(ans, &out); err != nil {
		return nil, err
	}
	if out.Error != nil && out.Error.Code != "" {
		return nil, a.classify(ans, out.Error.Code)
	}
	if len(out.Data) == 0 {
		return nil, invalidImage("the ark answer holds no image")
	}
	item := out.Data[0]
	if item.Error != nil && item.Error.Code != "" {
		return nil, a.classify(ans, item.Error.Code)
	}
	data, ctype, err := a.image(ctx, item.B64JSON, item.URL)
	if err != nil {
		return nil, err
	}
	return &wallpaper.Image{
		Data: data, ContentType: ctype, Provider: ProviderArk, Model: a.cfg.Model,
		Params: map[string]any{"size": body.Size, "watermark": false},
	}, nil
}

// classify maps Ark's documented error codes (docs/providers.md), then its
// HTTP status.
func (a *Ark) classify(ans *answer, code string) *wallpaper.ImageError {
	cause := fmt.Errorf("%w (code %q)", a.errorText(ans), code)
	switch {
	// InputTextSensitiveContentDetected, OutputImageSensitiveContentDetected,
	// InputTextRiskDetection and the like: the content check refused.
	case strings.Contains(code, "Sensitive") || strings.Contains(code, "RiskDetection"):
		return failure(codeContentPolicy, cause)
	case code == "AccountOverdueError":
		return failure(codeBilling, cause)
	case code == "InvalidEndpoint.ClosedEndpoint":
		// Closed or "temporarily unavailable": try again later.
		return failure(codeUnavailable, cause)
	}
	if ans.status == http.StatusOK {
		return failure(codeUnavailable, cause) // an error inside a success
	}
	return byStatus(ans.status, ans.header, cause)
}
