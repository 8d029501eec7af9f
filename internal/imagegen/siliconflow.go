package imagegen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Defaults of SiliconFlowConfig.
const (
	DefaultSiliconFlowBaseURL = "https://api.siliconflow.cn/v1"
	DefaultSiliconFlowModel   = "Qwen/Qwen-Image"
)

// SiliconFlowModelKnown reports whether this generator has a size table
// for model: the Qwen-Image text-to-image models (the -Edit ones take no
// size).
func SiliconFlowModelKnown(model string) bool {
	return strings.HasPrefix(model, "Qwen/Qwen-Image") && !strings.Contains(model, "-Edit")
}

// SiliconFlowConfig says how to reach SiliconFlow's images API and which
// model paints.
type SiliconFlowConfig struct {
	APIKey  string
	BaseURL string // DefaultSiliconFlowBaseURL when empty
	Model   string // DefaultSiliconFlowModel when empty
	Transport
}

// SiliconFlow paints with the models SiliconFlow hosts. Its images API is
// its own shape (image_size, batch_size; images[].url), not OpenAI's.
type SiliconFlow struct {
	endpoint
	cfg SiliconFlowConfig
}

// NewSiliconFlow returns a generator for cfg.
func NewSiliconFlow(cfg SiliconFlowConfig) (*SiliconFlow, error) {
	cfg.BaseURL = strings.TrimRight(cmpOr(cfg.BaseURL, DefaultSiliconFlowBaseURL), "/")
	cfg.Model = cmpOr(cfg.Model, DefaultSiliconFlowModel)
	if !SiliconFlowModelKnown(cfg.Model) {
		return nil, fmt.Errorf("imagegen: SiliconFlow model %q has no size table (docs/providers.md says how to add one)", cfg.Model)
	}
	ep, err := newEndpoint(ProviderSiliconFlow, cfg.APIKey, cfg.Transport)
	if err != nil {
		return nil, err
	}
	return &SiliconFlow{endpoint: ep, cfg: cfg}, nil
}

// siliconFlowRequest is the body of POST /images/generations.
type siliconFlowRequest struct {
	Model             string `json:"model"`
	Prompt            string `json:"prompt"`
	ImageSize         string `json:"image_size"`
	BatchSize         int    `json:"batch_size"`
	NumInferenceSteps int    `json:"num_inference_steps"`
}

type siliconFlowAnswer struct {
	Images []struct {
		URL string `json:"url"`
	} `json:"images"`
	Seed json.Number `json:"seed"`
}

// Inference steps per product quality: the API's default, and the 50 of
// Qwen-Image's official configuration.
var siliconFlowSteps = map[string]int{wallpaper.QualityStandard: 20, wallpaper.QualityHD: 50}

// Generate asks the model for one image and downloads it at once: its URL
// lives an hour.
func (s *SiliconFlow) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	opts, err := productOptions(req.Options)
	if err != nil {
		return nil, failure(codeRejected, err)
	}
	body := siliconFlowRequest{
		Model: s.cfg.Model, Prompt: req.Prompt, ImageSize: sizeFor("siliconflow/qwen-image", opts.size),
		BatchSize: 1, NumInferenceSteps: siliconFlowSteps[opts.quality],
	}
	ans, err := s.postJSON(ctx, s.cfg.BaseURL+"/images/generations", body)
	if err != nil {
		return nil, err
	}
	if ans.status != http.StatusOK {
		var e struct {
			Code json.Number `json:"code"`
		}
		_ = json.Unmarshal(ans.body, &e) // some error answers are plain text
		return nil, s.classify(ans, e.Code.String())
	}
	var out siliconFlowAnswer
	if err := s.decode(ans, &out); err != nil {
		return nil, err
	}
	if len(out.Images) == 0 {
		return nil, invalidImage("the siliconflow answer holds no image")
	}
	data, ctype, err := s.image(ctx, "", out.Images[0].URL)
	if err != nil {
		return nil, err
	}
	params := map[string]any{"size": body.ImageSize, "num_inference_steps": body.NumInferenceSteps}
	if out.Seed != "" {
		params["seed"] = out.Seed.String()
	}
	return &wallpaper.Image{Data: data, ContentType: ctype, Provider: ProviderSiliconFlow, Model: s.cfg.Model, Params: params}, nil
}

// classify maps SiliconFlow's documented error codes (docs/providers.md),
// then the HTTP status.
func (s *SiliconFlow) classify(ans *answer, code string) *wallpaper.ImageError {
	cause := fmt.Errorf("%w (code %q)", s.errorText(ans), code)
	switch code {
	case "30001": // Sorry, your account balance is insufficient (403)
		return failure(codeBilling, cause)
	case "20012", "30003": // model does not exist / model disabled (400, 403)
		return failure(codeAuth, cause)
	}
	return byStatus(ans.status, ans.header, cause)
}
