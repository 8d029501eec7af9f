package imagegen

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Defaults of ZhipuConfig.
const (
	DefaultZhipuBaseURL = "https://open.bigmodel.cn/api/paas/v4"
	DefaultZhipuModel   = "cogview-4-250304"
)

// ZhipuConfig says how to reach Zhipu's (BigModel's) images API and which
// CogView model paints.
type ZhipuConfig struct {
	APIKey  string
	BaseURL string // DefaultZhipuBaseURL when empty
	Model   string // DefaultZhipuModel when empty
	// Watermark is sent as watermark_enabled. Zhipu marks every image
	// unless told false, which only accounts that signed its
	// watermark-removal declaration may do; false leaves wallpaperd's own
	// "AI生成" label the only mark.
	Watermark bool
	Transport
}

// Zhipu paints with Zhipu's CogView models. The API is OpenAI-shaped,
// but takes watermark_enabled and user_id, which go-openai cannot send.
type Zhipu struct {
	endpoint
	cfg ZhipuConfig
}

// NewZhipu returns a generator for cfg.
func NewZhipu(cfg ZhipuConfig) (*Zhipu, error) {
	cfg.BaseURL = strings.TrimRight(cmpOr(cfg.BaseURL, DefaultZhipuBaseURL), "/")
	cfg.Model = cmpOr(cfg.Model, DefaultZhipuModel)
	ep, err := newEndpoint(ProviderZhipu, cfg.APIKey, cfg.Transport)
	if err != nil {
		return nil, err
	}
	return &Zhipu{endpoint: ep, cfg: cfg}, nil
}

// zhipuRequest is the body of POST /images/generations.
type zhipuRequest struct {
	Model            string `json:"model"`
	Prompt           string `json:"prompt"`
	Quality          string `json:"quality"`
	Size             string `json:"size"`
	WatermarkEnabled bool   `json:"watermark_enabled"`
	// UserID is the anonymous end user, for Zhipu's abuse handling; it
	// must be 6–128 characters, which wallpaper's ids are.
	UserID string `json:"user_id,omitempty"`
}

type zhipuAnswer struct {
	Data []struct {
		URL string `json:"url"`
	} `json:"data"`
}

// Generate asks CogView for one image and downloads it.
func (z *Zhipu) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	opts, err := productOptions(req.Options)
	if err != nil {
		return nil, failure(codeRejected, err)
	}
	body := zhipuRequest{
		Model: z.cfg.Model, Prompt: req.Prompt, Size: sizeFor("zhipu/cogview", opts.size),
		// Zhipu's qualities carry the product's names; glm-image knows
		// only hd.
		Quality:          opts.quality,
		WatermarkEnabled: z.cfg.Watermark,
	}
	if strings.HasPrefix(z.cfg.Model, "glm-image") {
		body.Quality = wallpaper.QualityHD
	}
	if n := len(req.User); n >= 6 && n <= 128 {
		body.UserID = req.User
	}
	ans, err := z.postJSON(ctx, z.cfg.BaseURL+"/images/generations", body)
	if err != nil {
		return nil, err
	}
	if ans.status != http.StatusOK {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = z.decode(ans, &e)
		return nil, z.classify(ans, e.Error.Code)
	}
	var out zhipuAnswer
	if err := z.decode(ans, &out); err != nil {
		return nil, err
	}
	if len(out.Data) == 0 {
		return nil, invalidImage("the zhipu answer holds no image")
	}
	data, ctype, err := z.image(ctx, "", out.Data[0].URL)
	if err != nil {
		return nil, err
	}
	return &wallpaper.Image{
		Data: data, ContentType: ctype, Provider: ProviderZhipu, Model: z.cfg.Model,
		Params: map[string]any{"size": body.Size, "quality": body.Quality, "watermark": body.WatermarkEnabled},
	}, nil
}

// classify maps Zhipu's documented error codes (docs/providers.md), then
// the HTTP status. Zhipu answers an empty balance with 429 too, so the
// code decides first.
func (z *Zhipu) classify(ans *answer, code string) *wallpaper.ImageError {
	cause := fmt.Errorf("%w (code %q)", z.errorText(ans), code)
	switch code {
	case "1301": // 系统检测到输入或生成内容可能包含不安全或敏感内容
		return failure(codeContentPolicy, cause)
	case "1113": // 余额不足或无可用资源包
		return failure(codeBilling, cause)
	case "1211": // the model does not exist for this account
		return failure(codeAuth, cause)
	}
	return byStatus(ans.status, ans.header, cause)
}
