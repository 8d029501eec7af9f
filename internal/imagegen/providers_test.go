package imagegen_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/png"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/fetch"
	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// provider builds one provider's real client against its fake.
type provider struct {
	name    string
	model   string // the default model, recorded on each image
	fake    func(testing.TB) *imagegentest.Provider
	newGen  func(t *testing.T, baseURL string, key string, tr imagegen.Transport) wallpaper.ImageGenerator
	sizeKey string // the request field carrying the size
}

var providers = []provider{
	{
		name: "ark", model: imagegen.DefaultArkModel, fake: imagegentest.NewFakeArk, sizeKey: "size",
		newGen: func(t *testing.T, baseURL, key string, tr imagegen.Transport) wallpaper.ImageGenerator {
			g, err := imagegen.NewArk(imagegen.ArkConfig{APIKey: key, BaseURL: baseURL, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			return g
		},
	},
	{
		name: "zhipu", model: imagegen.DefaultZhipuModel, fake: imagegentest.NewFakeZhipu, sizeKey: "size",
		newGen: func(t *testing.T, baseURL, key string, tr imagegen.Transport) wallpaper.ImageGenerator {
			g, err := imagegen.NewZhipu(imagegen.ZhipuConfig{APIKey: key, BaseURL: baseURL, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			return g
		},
	},
	{
		name: "siliconflow", model: imagegen.DefaultSiliconFlowModel, fake: imagegentest.NewFakeSiliconFlow, sizeKey: "image_size",
		newGen: func(t *testing.T, baseURL, key string, tr imagegen.Transport) wallpaper.ImageGenerator {
			g, err := imagegen.NewSiliconFlow(imagegen.SiliconFlowConfig{APIKey: key, BaseURL: baseURL, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			return g
		},
	},
}

func providerNamed(t *testing.T, name string) provider {
	t.Helper()
	for _, p := range providers {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no provider %q", name)
	return provider{}
}

// start returns the provider's fake and its real client, which may
// download from the fake's loopback http URLs unless change says otherwise.
func (p provider) start(t *testing.T, change func(*imagegen.Transport)) (*imagegentest.Provider, wallpaper.ImageGenerator) {
	t.Helper()
	fake := p.fake(t)
	tr := imagegen.Transport{AllowPrivateFetch: true}
	if change != nil {
		change(&tr)
	}
	return fake, p.newGen(t, fake.BaseURL(), imagegentest.APIKey, tr)
}

// TestProviderSizes: each product size goes out as the size in the
// provider's table (docs/providers.md), and the wallpaper is the pixels
// that came back, in the same orientation as asked.
func TestProviderSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		product  string
		want     string
	}{
		{"ark", wallpaper.SizePortrait, "1440x2560"},
		{"ark", wallpaper.SizeLandscape, "2560x1440"},
		{"ark", wallpaper.SizeSquare, "2048x2048"},
		{"zhipu", wallpaper.SizePortrait, "1024x1792"},
		{"zhipu", wallpaper.SizeLandscape, "1792x1024"},
		{"zhipu", wallpaper.SizeSquare, "1024x1024"},
		{"siliconflow", wallpaper.SizePortrait, "928x1664"},
		{"siliconflow", wallpaper.SizeLandscape, "1664x928"},
		{"siliconflow", wallpaper.SizeSquare, "1328x1328"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+" "+tt.product, func(t *testing.T) {
			t.Parallel()
			p := providerNamed(t, tt.provider)
			fake, g := p.start(t, nil)
			img, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox", Options: wallpaper.Options{Size: tt.product}})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if got := fake.Requests()[0][p.sizeKey]; got != tt.want {
				t.Errorf("%s sent %v, want %s", p.sizeKey, got, tt.want)
			}
			if img.Params["size"] != tt.want || img.Provider != tt.provider || img.Model != p.model || img.ContentType != "image/png" {
				t.Errorf("image provider %q model %q type %q params %v", img.Provider, img.Model, img.ContentType, img.Params)
			}
			cfg, _, err := image.DecodeConfig(bytes.NewReader(img.Data))
			if err != nil {
				t.Fatal(err)
			}
			pw, ph := dims(t, tt.product)
			if (cfg.Width > cfg.Height) != (pw > ph) || (cfg.Width < cfg.Height) != (pw < ph) {
				t.Errorf("asked %s, got a %dx%d image: the orientation changed", tt.product, cfg.Width, cfg.Height)
			}
		})
	}
}

func dims(t *testing.T, size string) (int, int) {
	t.Helper()
	ws, hs, _ := strings.Cut(size, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil {
		t.Fatalf("size %q", size)
	}
	return w, h
}

// TestProviderRequests: the fields each provider needs go over the wire,
// above all Ark's watermark:false (wallpaperd labels the image itself).
func TestProviderRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		opts     wallpaper.Options
		want     map[string]any
	}{
		{"ark", wallpaper.Options{}, map[string]any{
			"model": imagegen.DefaultArkModel, "prompt": "a fox", "size": "1440x2560", "response_format": "url", "watermark": false}},
		{"zhipu", wallpaper.Options{}, map[string]any{
			"model": imagegen.DefaultZhipuModel, "prompt": "a fox", "size": "1024x1792", "quality": "standard",
			"watermark_enabled": false, "user_id": "0123456789abcdef01234567"}},
		{"zhipu", wallpaper.Options{Quality: wallpaper.QualityHD}, map[string]any{
			"model": imagegen.DefaultZhipuModel, "prompt": "a fox", "size": "1024x1792", "quality": "hd",
			"watermark_enabled": false, "user_id": "0123456789abcdef01234567"}},
		{"siliconflow", wallpaper.Options{}, map[string]any{
			"model": imagegen.DefaultSiliconFlowModel, "prompt": "a fox", "image_size": "928x1664", "batch_size": 1.0,
			"num_inference_steps": 20.0}},
		{"siliconflow", wallpaper.Options{Quality: wallpaper.QualityHD}, map[string]any{
			"model": imagegen.DefaultSiliconFlowModel, "prompt": "a fox", "image_size": "928x1664", "batch_size": 1.0,
			"num_inference_steps": 50.0}},
	}
	for _, tt := range tests {
		t.Run(tt.provider+" "+tt.opts.Quality, func(t *testing.T) {
			t.Parallel()
			fake, g := providerNamed(t, tt.provider).start(t, nil)
			_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox", Options: tt.opts, User: "0123456789abcdef01234567"})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			got := fake.Requests()[0]
			if len(got) != len(tt.want) {
				t.Errorf("request %v, want exactly %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], v)
				}
			}
		})
	}
}

// TestProviderErrors: each provider's documented error answers map to
// the failure codes (docs/providers.md), with what the job may retry.
func TestProviderErrors(t *testing.T) {
	t.Parallel()
	type want struct {
		code       string
		retryable  bool
		retryAfter time.Duration
	}
	withHeader := func(r imagegentest.Reply, k, v string) imagegentest.Reply {
		r.Header = http.Header{k: {v}}
		return r
	}
	tests := []struct {
		provider string
		name     string
		reply    imagegentest.Reply
		want     want
	}{
		{"ark", "prompt refused", imagegentest.ArkError(400, "InputTextSensitiveContentDetected",
			"The request failed because the input text may contain sensitive information."), want{code: "content_policy"}},
		{"ark", "image refused", imagegentest.ArkError(400, "OutputImageSensitiveContentDetected",
			"The request failed because the output image may contain sensitive information."), want{code: "content_policy"}},
		{"ark", "risk detection", imagegentest.ArkError(400, "InputTextRiskDetection",
			"The request could not be processed because the input text includes sensitive content."), want{code: "content_policy"}},
		{"ark", "invalid parameter", imagegentest.ArkError(400, "InvalidParameter",
			"One or more parameters specified in the request are not valid."), want{code: "upstream_rejected"}},
		{"ark", "closed endpoint", imagegentest.ArkError(400, "InvalidEndpoint.ClosedEndpoint",
			"The request targeted an endpoint that is currently closed or temporarily unavailable."), want{code: "upstream_unavailable", retryable: true}},
		{"ark", "overdue account", imagegentest.ArkError(403, "AccountOverdueError",
			"The request failed because your account has an overdue balance."), want{code: "upstream_billing"}},
		{"ark", "access denied", imagegentest.ArkError(403, "AccessDenied",
			"The request failed because you do not have access to the requested resource."), want{code: "upstream_auth"}},
		{"ark", "model not opened", imagegentest.ArkError(404, "ModelNotOpen",
			"Your account has not activated the model."), want{code: "upstream_auth"}},
		{"ark", "rate limited with Retry-After", withHeader(imagegentest.ArkError(429, "RateLimitExceeded.EndpointRPMExceeded",
			"The Requests Per Minute (RPM) limit of the associated endpoint for your account has been exceeded."), "Retry-After", "7"),
			want{code: "upstream_rate_limited", retryable: true, retryAfter: 7 * time.Second}},
		{"ark", "500", imagegentest.ArkError(500, "InternalServiceError",
			"The service encountered an unexpected internal error."), want{code: "upstream_unavailable", retryable: true}},
		{"ark", "503", imagegentest.ArkError(503, "ServerOverloaded",
			"The service is currently unable to handle additional requests due to server overload."), want{code: "upstream_unavailable", retryable: true}},
		{"ark", "gateway timeout", imagegentest.Reply{Status: 504, Body: "<html>504 Gateway Time-out</html>"},
			want{code: "upstream_timeout", retryable: true}},

		{"zhipu", "content filter", imagegentest.ZhipuError(400, "1301", "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，感谢您的配合。"),
			want{code: "content_policy"}},
		{"zhipu", "balance (a 429)", imagegentest.ZhipuError(429, "1113", "余额不足或无可用资源包,请充值。"), want{code: "upstream_billing"}},
		{"zhipu", "concurrency with Retry-After", withHeader(imagegentest.ZhipuError(429, "1302", "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"), "Retry-After", "3"),
			want{code: "upstream_rate_limited", retryable: true, retryAfter: 3 * time.Second}},
		{"zhipu", "unknown model", imagegentest.ZhipuError(400, "1211", "模型不存在，请检查模型代码。"), want{code: "upstream_auth"}},
		{"zhipu", "bad parameter", imagegentest.ZhipuError(400, "1214", "size参数非法"), want{code: "upstream_rejected"}},
		{"zhipu", "500", imagegentest.ZhipuError(500, "500", "Internal Error"), want{code: "upstream_unavailable", retryable: true}},

		{"siliconflow", "model does not exist", imagegentest.SiliconFlowError(400, 20012, "Model does not exist. Please check it carefully."),
			want{code: "upstream_auth"}},
		{"siliconflow", "bad parameter", imagegentest.SiliconFlowError(400, 20015, "image_size is invalid"), want{code: "upstream_rejected"}},
		{"siliconflow", "balance", imagegentest.SiliconFlowError(403, 30001, "Sorry, your account balance is insufficient"),
			want{code: "upstream_billing"}},
		{"siliconflow", "rate limited with Retry-After", withHeader(imagegentest.SiliconFlowError(429, 0,
			"Request was rejected due to rate limiting. If you want more, please contact contact@siliconflow.cn. Details:TPM limit reached."), "Retry-After", "12"),
			want{code: "upstream_rate_limited", retryable: true, retryAfter: 12 * time.Second}},
		{"siliconflow", "overloaded", imagegentest.SiliconFlowError(503, 50505, "Model service overloaded. Please try again later."),
			want{code: "upstream_unavailable", retryable: true}},
		{"siliconflow", "504", imagegentest.Reply{Status: 504, Body: "upstream request timeout"}, want{code: "upstream_timeout", retryable: true}},
	}
	for _, tt := range tests {
		t.Run(tt.provider+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			fake, g := providerNamed(t, tt.provider).start(t, nil)
			fake.Enqueue(tt.reply)
			_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox"})
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("Generate = %v, want an ImageError", err)
			}
			if ie.Code != tt.want.code || ie.Retryable != tt.want.retryable || ie.RetryAfter != tt.want.retryAfter {
				t.Errorf("got %s retryable=%v after %v, want %+v (cause %v)", ie.Code, ie.Retryable, ie.RetryAfter, tt.want, ie.Err)
			}
			if ie.Message == "" || strings.Contains(strings.ToLower(ie.Message), tt.provider) {
				t.Errorf("message %q is not a short user-safe sentence", ie.Message)
			}
			if fake.Downloads() != 0 {
				t.Errorf("%d downloads after an error answer", fake.Downloads())
			}
		})
	}
}

// TestProviderSlowAndExpired: a provider slower than the request timeout,
// a download slower than its own, and an image URL that expired before
// it was fetched (a retry asks for a fresh one).
func TestProviderSlowAndExpired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		reply     imagegentest.Reply
		change    func(*imagegen.Transport)
		code      string
		downloads int
	}{
		{"slower than the request timeout", imagegentest.Hang(),
			func(tr *imagegen.Transport) { tr.RequestTimeout = 100 * time.Millisecond }, "upstream_timeout", 0},
		{"download slower than its timeout", imagegentest.Reply{Download: &imagegentest.Download{Hang: true}},
			func(tr *imagegen.Transport) { tr.DownloadTimeout = 100 * time.Millisecond }, "upstream_timeout", 1},
		{"expired image URL", imagegentest.Expired(), nil, "upstream_unavailable", 1},
		{"url returns html", imagegentest.Reply{Download: &imagegentest.Download{ContentType: "image/png", Body: []byte("<html>hi</html>")}},
			nil, "invalid_image", 1},
	}
	for _, p := range providers {
		for _, tt := range tests {
			t.Run(p.name+" "+tt.name, func(t *testing.T) {
				t.Parallel()
				fake, g := p.start(t, tt.change)
				fake.Enqueue(tt.reply)
				_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox"})
				var ie *wallpaper.ImageError
				if !errors.As(err, &ie) || ie.Code != tt.code || !ie.Retryable {
					t.Fatalf("Generate = %v, want a retryable %s", err, tt.code)
				}
				if got := fake.Downloads(); got != tt.downloads {
					t.Errorf("%d downloads, want %d", got, tt.downloads)
				}
				if strings.Contains(err.Error(), "Signature=fake") {
					t.Errorf("the error carries the signed image URL: %v", err)
				}
			})
		}
	}
}

// TestProviderBadKeyNeverLeaks: a wrong key is upstream_auth, and the key
// never reaches the error.
func TestProviderBadKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	const key = "sk-wrong-key-abcdefghijklmnop"
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			fake := p.fake(t)
			g := p.newGen(t, fake.BaseURL(), key, imagegen.Transport{AllowPrivateFetch: true})
			_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox"})
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) || ie.Code != "upstream_auth" || ie.Retryable {
				t.Fatalf("Generate with a bad key = %v, want a permanent upstream_auth", err)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("the key leaked: %v", err)
			}
		})
	}
}

// TestProviderRefusesInsideImageURLs: without AllowPrivateFetch the
// fake's own http URL on loopback is never fetched.
func TestProviderRefusesInsideImageURLs(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			fake, g := p.start(t, func(tr *imagegen.Transport) { tr.AllowPrivateFetch = false })
			_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox"})
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) || ie.Code != "invalid_image" || ie.Retryable || !errors.Is(err, fetch.ErrForbidden) {
				t.Fatalf("Generate = %v, want a permanent invalid_image from fetch.ErrForbidden", err)
			}
			if fake.Downloads() != 0 {
				t.Errorf("the inside URL was fetched %d times", fake.Downloads())
			}
		})
	}
}

// TestProviderUnreachable: a closed port is a retryable unavailability.
func TestProviderUnreachable(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			g := p.newGen(t, "http://127.0.0.1:1/api", imagegentest.APIKey, imagegen.Transport{})
			_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox"})
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) || ie.Code != "upstream_unavailable" || !ie.Retryable {
				t.Fatalf("Generate = %v, want a retryable upstream_unavailable", err)
			}
		})
	}
}

func TestNewProviders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		new  func() error
		ok   bool
	}{
		{"ark", func() error { _, err := imagegen.NewArk(imagegen.ArkConfig{APIKey: "k"}); return err }, true},
		{"ark without key", func() error { _, err := imagegen.NewArk(imagegen.ArkConfig{}); return err }, false},
		{"zhipu", func() error { _, err := imagegen.NewZhipu(imagegen.ZhipuConfig{APIKey: "k"}); return err }, true},
		{"zhipu without key", func() error { _, err := imagegen.NewZhipu(imagegen.ZhipuConfig{}); return err }, false},
		{"siliconflow", func() error { _, err := imagegen.NewSiliconFlow(imagegen.SiliconFlowConfig{APIKey: "k"}); return err }, true},
		{"siliconflow qwen-image snapshot", func() error {
			_, err := imagegen.NewSiliconFlow(imagegen.SiliconFlowConfig{APIKey: "k", Model: "Qwen/Qwen-Image-2512"})
			return err
		}, true},
		{"siliconflow edit model", func() error {
			_, err := imagegen.NewSiliconFlow(imagegen.SiliconFlowConfig{APIKey: "k", Model: "Qwen/Qwen-Image-Edit-2509"})
			return err
		}, false},
		{"siliconflow without a size table", func() error {
			_, err := imagegen.NewSiliconFlow(imagegen.SiliconFlowConfig{APIKey: "k", Model: "Kwai-Kolors/Kolors"})
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.new(); (err == nil) != tt.ok {
				t.Errorf("= %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
