package imagegen_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/wallpaperd/wallpaperd/internal/fetch"
	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// newOpenAI returns a generator using fake; it may download from the
// fake's loopback http URLs unless change says otherwise.
func newOpenAI(t *testing.T, fake *imagegentest.Fake, model string, change func(*imagegen.OpenAIConfig)) *imagegen.OpenAI {
	t.Helper()
	cfg := imagegen.OpenAIConfig{APIKey: imagegentest.APIKey, BaseURL: fake.BaseURL(), Model: model,
		Transport: imagegen.Transport{AllowPrivateFetch: true}}
	if change != nil {
		change(&cfg)
	}
	g, err := imagegen.NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestOpenAIOptionMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		model  string
		opts   wallpaper.Options
		want   openai.ImageRequest // what goes over the wire
		params map[string]any
	}{
		{
			name: "dall-e-3 defaults", model: imagegen.ModelDallE3, opts: wallpaper.Options{},
			want:   openai.ImageRequest{Model: "dall-e-3", N: 1, Size: "1024x1792", Quality: "standard", Style: "vivid", ResponseFormat: "url"},
			params: map[string]any{"size": "1024x1792", "quality": "standard", "style": "vivid"},
		},
		{
			name: "dall-e-3 landscape natural hd", model: imagegen.ModelDallE3,
			opts:   wallpaper.Options{Size: wallpaper.SizeLandscape, Style: wallpaper.StyleNatural, Quality: wallpaper.QualityHD},
			want:   openai.ImageRequest{Model: "dall-e-3", N: 1, Size: "1792x1024", Quality: "hd", Style: "natural", ResponseFormat: "url"},
			params: map[string]any{"size": "1792x1024", "quality": "hd", "style": "natural"},
		},
		{
			name: "gpt-image-1 portrait standard", model: imagegen.ModelGPTImage1,
			opts:   wallpaper.Options{Size: wallpaper.SizePortrait, Style: wallpaper.StyleVivid, Quality: wallpaper.QualityStandard},
			want:   openai.ImageRequest{Model: "gpt-image-1", N: 1, Size: "1024x1536", Quality: "medium"},
			params: map[string]any{"size": "1024x1536", "quality": "medium"},
		},
		{
			name: "gpt-image-1 landscape hd", model: imagegen.ModelGPTImage1,
			opts:   wallpaper.Options{Size: wallpaper.SizeLandscape, Style: wallpaper.StyleNatural, Quality: wallpaper.QualityHD},
			want:   openai.ImageRequest{Model: "gpt-image-1", N: 1, Size: "1536x1024", Quality: "high"},
			params: map[string]any{"size": "1536x1024", "quality": "high"},
		},
		{
			name: "gpt-image-1 square", model: imagegen.ModelGPTImage1, opts: wallpaper.Options{Size: wallpaper.SizeSquare},
			want:   openai.ImageRequest{Model: "gpt-image-1", N: 1, Size: "1024x1024", Quality: "medium"},
			params: map[string]any{"size": "1024x1024", "quality": "medium"},
		},
		{
			name: "default model: the product's portrait size itself", model: "", opts: wallpaper.Options{},
			want:   openai.ImageRequest{Model: imagegen.DefaultOpenAIModel, N: 1, Size: "1024x1792", Quality: "medium"},
			params: map[string]any{"size": "1024x1792", "quality": "medium"},
		},
		{
			name: "gpt-image-2 landscape hd", model: "gpt-image-2", opts: wallpaper.Options{Size: wallpaper.SizeLandscape, Quality: wallpaper.QualityHD},
			want:   openai.ImageRequest{Model: "gpt-image-2", N: 1, Size: "1792x1024", Quality: "high"},
			params: map[string]any{"size": "1792x1024", "quality": "high"},
		},
		{
			name: "a dated snapshot maps by its family", model: "gpt-image-2.5-sunburst-2026-09-08", opts: wallpaper.Options{Size: wallpaper.SizeSquare},
			want:   openai.ImageRequest{Model: "gpt-image-2.5-sunburst-2026-09-08", N: 1, Size: "1024x1024", Quality: "medium"},
			params: map[string]any{"size": "1024x1024", "quality": "medium"},
		},
		{
			name: "gpt-image-1.5 is of the gpt-image-1 family", model: "gpt-image-1.5", opts: wallpaper.Options{},
			want:   openai.ImageRequest{Model: "gpt-image-1.5", N: 1, Size: "1024x1536", Quality: "medium"},
			params: map[string]any{"size": "1024x1536", "quality": "medium"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := imagegentest.NewFakeOpenAI(t)
			g := newOpenAI(t, fake, tt.model, nil)
			img, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox", Options: tt.opts, User: "u-1"})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			reqs := fake.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			want := tt.want
			want.Prompt, want.User = "a fox", "u-1"
			if reqs[0] != want {
				t.Errorf("request =\n%+v\nwant\n%+v", reqs[0], want)
			}
			if img.Model != want.Model || img.Provider != "openai" || img.ContentType != "image/png" {
				t.Errorf("Provider %q, Model %q, ContentType %q", img.Provider, img.Model, img.ContentType)
			}
			if len(img.Params) != len(tt.params) {
				t.Errorf("Params = %v, want %v", img.Params, tt.params)
			}
			for k, v := range tt.params {
				if img.Params[k] != v {
					t.Errorf("Params[%s] = %v, want %v", k, img.Params[k], v)
				}
			}
		})
	}
}

func TestOpenAIRefusesUnknownOptions(t *testing.T) {
	t.Parallel()
	fake := imagegentest.NewFakeOpenAI(t)
	g := newOpenAI(t, fake, imagegen.ModelDallE3, nil)
	for _, opts := range []wallpaper.Options{{Size: "512x512"}, {Quality: "ultra"}, {Style: "noir"}} {
		_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "p", Options: opts})
		var ie *wallpaper.ImageError
		if !errors.As(err, &ie) || ie.Code != "upstream_rejected" || ie.Retryable {
			t.Errorf("options %+v: %v, want a permanent upstream_rejected", opts, err)
		}
	}
	if n := fake.Calls(); n != 0 {
		t.Errorf("%d requests reached the model, want none", n)
	}
}

func TestOpenAIGenerate(t *testing.T) {
	t.Parallel()
	png := imagegentest.PNG(t, 1024, 1792)
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0}, 100)...)
	htmlPage := []byte("<!DOCTYPE html><html><body>Access denied</body></html>")

	type want struct {
		code       string // "" for success
		retryable  bool
		retryAfter time.Duration
		data       []byte
		ctype      string
		revised    string
		downloads  int
	}
	tests := []struct {
		name   string
		model  string
		reply  imagegentest.Reply
		change func(*imagegen.OpenAIConfig)
		want   want
	}{
		{
			name: "url mode downloads the image", model: imagegen.ModelDallE3,
			reply: func() imagegentest.Reply {
				r := imagegentest.OKURL(png)
				r.RevisedPrompt = "A red fox in snow."
				return r
			}(),
			want: want{data: png, ctype: "image/png", revised: "A red fox in snow.", downloads: 1},
		},
		{
			name: "url mode jpeg is sniffed", model: imagegen.ModelDallE3,
			reply: func() imagegentest.Reply {
				r := imagegentest.OKURL(jpeg)
				r.Download = &imagegentest.Download{ContentType: "application/octet-stream", Body: jpeg}
				return r
			}(),
			want: want{data: jpeg, ctype: "image/jpeg", downloads: 1},
		},
		{
			name: "b64 mode", model: imagegen.ModelGPTImage1, reply: imagegentest.OKB64(png),
			want: want{data: png, ctype: "image/png"},
		},
		{
			name: "429 with Retry-After seconds", model: imagegen.ModelDallE3, reply: imagegentest.RateLimited("20"),
			want: want{code: "upstream_rate_limited", retryable: true, retryAfter: 20 * time.Second},
		},
		{
			name: "429 without Retry-After", model: imagegen.ModelDallE3, reply: imagegentest.RateLimited(""),
			want: want{code: "upstream_rate_limited", retryable: true},
		},
		{
			name: "429 out of credit is billing", model: imagegen.ModelDallE3,
			reply: imagegentest.Error(429, "insufficient_quota", "insufficient_quota", "You exceeded your current quota, please check your plan and billing details."),
			want:  want{code: "upstream_billing"},
		},
		{
			name: "500", model: imagegen.ModelDallE3, reply: imagegentest.ServerError(),
			want: want{code: "upstream_unavailable", retryable: true},
		},
		{
			name: "502 from a relay with an HTML body", model: imagegen.ModelDallE3,
			reply: imagegentest.Reply{Status: 502, Body: "<html>Bad Gateway</html>"},
			want:  want{code: "upstream_unavailable", retryable: true},
		},
		{
			name: "content policy", model: imagegen.ModelDallE3, reply: imagegentest.ContentPolicy(),
			want: want{code: "content_policy"},
		},
		{
			name: "gpt-image-1 moderation", model: imagegen.ModelGPTImage1,
			reply: imagegentest.Error(400, "moderation_blocked", "image_generation_user_error", "Your request was rejected by the safety system."),
			want:  want{code: "content_policy"},
		},
		{
			name: "billing hard limit", model: imagegen.ModelDallE3, reply: imagegentest.Billing(),
			want: want{code: "upstream_billing"},
		},
		{
			name: "billing by message only", model: imagegen.ModelDallE3,
			reply: imagegentest.Error(400, "", "invalid_request_error", "Billing hard limit has been reached"),
			want:  want{code: "upstream_billing"},
		},
		{
			name: "other 400", model: imagegen.ModelDallE3,
			reply: imagegentest.Error(400, "invalid_value", "invalid_request_error", "Invalid value for size."),
			want:  want{code: "upstream_rejected"},
		},
		{
			name: "shut-down model", model: imagegen.ModelDallE3,
			reply: imagegentest.Error(404, "model_not_found", "invalid_request_error",
				"The model `dall-e-3` has been deprecated. Learn more: https://platform.openai.com/docs/deprecations"),
			want: want{code: "upstream_auth"},
		},
		{
			name: "403", model: imagegen.ModelDallE3,
			reply: imagegentest.Error(403, "unsupported_country_region_territory", "request_forbidden", "Country, region, or territory not supported"),
			want:  want{code: "upstream_auth"},
		},
		{
			name: "slower than the request timeout", model: imagegen.ModelDallE3, reply: imagegentest.Hang(),
			change: func(c *imagegen.OpenAIConfig) { c.RequestTimeout = 100 * time.Millisecond },
			want:   want{code: "upstream_timeout", retryable: true},
		},
		{
			name: "download slower than its timeout", model: imagegen.ModelDallE3,
			reply:  imagegentest.Reply{Download: &imagegentest.Download{Hang: true}},
			change: func(c *imagegen.OpenAIConfig) { c.DownloadTimeout = 100 * time.Millisecond },
			want:   want{code: "upstream_timeout", retryable: true, downloads: 1},
		},
		{
			name: "url returns html", model: imagegen.ModelDallE3,
			reply: imagegentest.Reply{Download: &imagegentest.Download{ContentType: "image/png", Body: htmlPage}},
			want:  want{code: "invalid_image", retryable: true, downloads: 1},
		},
		{
			name: "url returns 403", model: imagegen.ModelDallE3,
			reply: imagegentest.Reply{Download: &imagegentest.Download{Status: 403, ContentType: "application/xml", Body: []byte("<Error>AuthenticationFailed</Error>")}},
			want:  want{code: "upstream_unavailable", retryable: true, downloads: 1},
		},
		{
			name: "oversized download", model: imagegen.ModelDallE3, reply: imagegentest.OKURL(png),
			change: func(c *imagegen.OpenAIConfig) { c.MaxImageBytes = int64(len(png) - 1) },
			want:   want{code: "invalid_image", downloads: 1},
		},
		{
			name: "b64 that is not an image", model: imagegen.ModelGPTImage1, reply: imagegentest.OKB64(htmlPage),
			want: want{code: "invalid_image", retryable: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := imagegentest.NewFakeOpenAI(t)
			fake.Enqueue(tt.reply)
			g := newOpenAI(t, fake, tt.model, tt.change)
			img, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox", Options: wallpaper.Options{}})
			if fake.Calls() != 1 {
				t.Errorf("%d API calls, want 1", fake.Calls())
			}
			if got := fake.Downloads(); got != tt.want.downloads {
				t.Errorf("%d downloads, want %d", got, tt.want.downloads)
			}
			if tt.want.code == "" {
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				if !bytes.Equal(img.Data, tt.want.data) || img.ContentType != tt.want.ctype {
					t.Errorf("got %d bytes of %s, want %d bytes of %s", len(img.Data), img.ContentType, len(tt.want.data), tt.want.ctype)
				}
				if got, _ := img.Params["revised_prompt"].(string); got != tt.want.revised {
					t.Errorf("revised_prompt = %q, want %q", got, tt.want.revised)
				}
				return
			}
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("Generate = %v (%T), want an *ImageError", err, err)
			}
			if ie.Code != tt.want.code || ie.Retryable != tt.want.retryable || ie.RetryAfter != tt.want.retryAfter {
				t.Errorf("ImageError{Code %q, Retryable %v, RetryAfter %v}, want {%q, %v, %v}; cause: %v",
					ie.Code, ie.Retryable, ie.RetryAfter, tt.want.code, tt.want.retryable, tt.want.retryAfter, ie.Err)
			}
			if ie.Message == "" || strings.Contains(strings.ToLower(ie.Message), "openai") || strings.Contains(ie.Message, "sig=") {
				t.Errorf("message %q is not a short user-safe sentence", ie.Message)
			}
			if strings.Contains(err.Error(), "sig=fake") {
				t.Errorf("the error carries the signed image URL: %v", err)
			}
		})
	}
}

// TestOpenAIRefusesInsideImageURLs: an image URL a provider (or a hostile
// relay) returns that points inside is never fetched, and the generation
// fails for good. package fetch tests every range, redirects included.
func TestOpenAIRefusesInsideImageURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply imagegentest.Reply
		why   string // in the cause
	}{
		// The fake counts the downloads of its own URL, http on 127.0.0.1.
		{"the fake's own http URL", imagegentest.OKURL(nil), "not https"},
		// Nothing listens there: fetched, it would be a retryable
		// upstream_unavailable.
		{"https to loopback", imagegentest.Reply{ImageURL: "https://127.0.0.1:1/files/1.png?se=2030-01-01&sig=fake"}, "loopback"},
		{"https to IPv4-mapped loopback", imagegentest.Reply{ImageURL: "https://[::ffff:127.0.0.1]:1/files/1.png"}, "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := imagegentest.NewFakeOpenAI(t)
			fake.Enqueue(tt.reply)
			g := newOpenAI(t, fake, imagegen.ModelDallE3, func(c *imagegen.OpenAIConfig) { c.AllowPrivateFetch = false })
			_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a fox"})
			if n := fake.Downloads(); n != 0 {
				t.Errorf("the fake's download URL saw %d requests, want none", n)
			}
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) || ie.Retryable || ie.Code != "invalid_image" {
				t.Fatalf("Generate = %v, want a permanent invalid_image", err)
			}
			if !errors.Is(err, fetch.ErrForbidden) || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("cause %v, want fetch.ErrForbidden saying %q", err, tt.why)
			}
			if strings.Contains(err.Error(), "sig=fake") {
				t.Errorf("the error carries the signed image URL: %v", err)
			}
		})
	}
}

func TestOpenAIRetryAfterDate(t *testing.T) {
	t.Parallel()
	fake := imagegentest.NewFakeOpenAI(t)
	// An HTTP date far enough ahead that the test's own slowness cannot
	// bring it to zero, and beyond the one-hour cap.
	fake.Enqueue(imagegentest.RateLimited(time.Now().Add(3 * time.Hour).UTC().Format(http.TimeFormat)))
	_, err := newOpenAI(t, fake, imagegen.ModelDallE3, nil).Generate(context.Background(), wallpaper.ImageRequest{Prompt: "p"})
	var ie *wallpaper.ImageError
	if !errors.As(err, &ie) || ie.RetryAfter != time.Hour {
		t.Fatalf("Generate = %v, want RetryAfter capped at 1h", err)
	}
}

func TestOpenAIBadKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	const key = "sk-wrong-key-abcdefghijklmnop"
	fake := imagegentest.NewFakeOpenAI(t) // echoes the whole key back, as a careless relay might
	g := newOpenAI(t, fake, imagegen.ModelDallE3, func(c *imagegen.OpenAIConfig) { c.APIKey = key })
	_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "p"})
	var ie *wallpaper.ImageError
	if !errors.As(err, &ie) || ie.Code != "upstream_auth" || ie.Retryable {
		t.Fatalf("Generate with a bad key = %v, want a permanent upstream_auth", err)
	}
	if strings.Contains(err.Error(), key) || strings.Contains(ie.Message, key) {
		t.Errorf("the API key leaked into the error: %v", err)
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("the cause %v lost the provider's explanation", err)
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	t.Parallel()
	fake := imagegentest.NewFakeOpenAI(t)
	g := newOpenAI(t, fake, imagegen.ModelDallE3, func(c *imagegen.OpenAIConfig) { c.BaseURL = "http://127.0.0.1:1/v1" })
	_, err := g.Generate(context.Background(), wallpaper.ImageRequest{Prompt: "p"})
	var ie *wallpaper.ImageError
	if !errors.As(err, &ie) || ie.Code != "upstream_unavailable" || !ie.Retryable {
		t.Fatalf("Generate against a closed port = %v, want a retryable upstream_unavailable", err)
	}
}

func TestNewOpenAI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  imagegen.OpenAIConfig
		ok   bool
	}{
		{"dall-e-3", imagegen.OpenAIConfig{APIKey: "k", Model: imagegen.ModelDallE3}, true},
		{"gpt-image-1", imagegen.OpenAIConfig{APIKey: "k", Model: imagegen.ModelGPTImage1}, true},
		{"default", imagegen.OpenAIConfig{APIKey: "k"}, true},
		{"gpt-image-2.6-sunburst", imagegen.OpenAIConfig{APIKey: "k", Model: "gpt-image-2.6-sunburst"}, true},
		{"chatgpt-image-latest", imagegen.OpenAIConfig{APIKey: "k", Model: "chatgpt-image-latest"}, true},
		{"no key", imagegen.OpenAIConfig{Model: imagegen.ModelDallE3}, false},
		{"dall-e-2 has no portrait size", imagegen.OpenAIConfig{APIKey: "k", Model: "dall-e-2"}, false},
		{"not an image model", imagegen.OpenAIConfig{APIKey: "k", Model: "gpt-5"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := imagegen.NewOpenAI(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("NewOpenAI = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestFakeScripts checks the fake other packages rely on: replies are
// used in order, then every request succeeds at the size asked for.
func TestFakeScripts(t *testing.T) {
	t.Parallel()
	fake := imagegentest.NewFakeOpenAI(t)
	fake.Enqueue(imagegentest.ServerError(), imagegentest.ContentPolicy())
	g := newOpenAI(t, fake, imagegen.ModelDallE3, nil)
	req := wallpaper.ImageRequest{Prompt: "p", Options: wallpaper.Options{Size: wallpaper.SizeLandscape}}
	var codes []string
	for range 3 {
		img, err := g.Generate(context.Background(), req)
		var ie *wallpaper.ImageError
		switch {
		case errors.As(err, &ie):
			codes = append(codes, ie.Code)
		case err != nil:
			t.Fatal(err)
		default:
			codes = append(codes, "ok "+img.Params["size"].(string))
		}
	}
	if got, want := strings.Join(codes, ","), "upstream_unavailable,content_policy,ok 1792x1024"; got != want {
		t.Errorf("answers %s, want %s", got, want)
	}
	if fake.Calls() != 3 {
		t.Errorf("Calls = %d, want 3", fake.Calls())
	}
}

// TestOpenAIShutdown: the models OpenAI's deprecations page dates, and
// the current ones it does not.
func TestOpenAIShutdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model string
		want  string // "" when none is known
	}{
		{"dall-e-3", "2026-05-12"},
		{"gpt-image-1", "2026-10-23"},
		{"gpt-image-1.5", "2026-12-01"},
		{"chatgpt-image-latest", "2026-12-01"},
		{imagegen.DefaultOpenAIModel, ""},
		{"gpt-image-2", ""},
	}
	for _, tt := range tests {
		d, ok := imagegen.OpenAIShutdown(tt.model)
		if got := map[bool]string{true: d.Format("2006-01-02")}[ok]; got != tt.want {
			t.Errorf("OpenAIShutdown(%s) = %q, want %q", tt.model, got, tt.want)
		}
	}
}
