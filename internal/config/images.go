package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Image providers IMAGE_PROVIDERS may name; docs/providers.md describes
// each.
const (
	ProviderOpenAI      = "openai"
	ProviderArk         = "ark"
	ProviderZhipu       = "zhipu"
	ProviderSiliconFlow = "siliconflow"
	ProviderOffline     = "offline"
)

// defaultProviderOrder is the chain when IMAGE_PROVIDERS is unset: every
// provider whose key is set, those reachable from mainland China first.
var defaultProviderOrder = []string{ProviderArk, ProviderZhipu, ProviderSiliconFlow, ProviderOpenAI}

// Images holds the chain of image providers and the settings of each one
// but OpenAI (whose settings predate the chain and keep their names).
type Images struct {
	// Providers is IMAGE_PROVIDERS: the chain, tried in order. Empty:
	// every provider whose key is set, in defaultProviderOrder; in dev
	// with no key, the offline painter.
	Providers []string `env:"IMAGE_PROVIDERS" envSeparator:","`
	// ChainTimeout bounds one attempt of the whole chain; 0 is five
	// sixths of JOB_TIMEOUT, leaving the rest for storing the image.
	ChainTimeout time.Duration `env:"IMAGE_CHAIN_TIMEOUT"`
	// BreakerFailures failures in a row take a provider out of the chain
	// for BreakerCooldown, after which one call tries it again.
	BreakerFailures int           `env:"IMAGE_BREAKER_FAILURES" envDefault:"5"`
	BreakerCooldown time.Duration `env:"IMAGE_BREAKER_COOLDOWN" envDefault:"60s"`

	Ark         Ark
	Zhipu       Zhipu
	SiliconFlow SiliconFlow
}

// Ark holds the Volcengine Ark (Seedream) settings.
type Ark struct {
	APIKey  Secret        `env:"ARK_API_KEY"`
	BaseURL string        `env:"ARK_BASE_URL" envDefault:"https://ark.cn-beijing.volces.com/api/v3"`
	Model   string        `env:"ARK_MODEL" envDefault:"doubao-seedream-4-5-251128"`
	Timeout time.Duration `env:"ARK_TIMEOUT" envDefault:"150s"`
}

// Zhipu holds the Zhipu (BigModel, CogView) settings.
type Zhipu struct {
	APIKey  Secret `env:"ZHIPU_API_KEY"`
	BaseURL string `env:"ZHIPU_BASE_URL" envDefault:"https://open.bigmodel.cn/api/paas/v4"`
	Model   string `env:"ZHIPU_MODEL" envDefault:"cogview-4-250304"`
	// Watermark is Zhipu's own mark on every image; only an account that
	// signed Zhipu's watermark-removal declaration may turn it off.
	Watermark bool          `env:"ZHIPU_WATERMARK" envDefault:"true"`
	Timeout   time.Duration `env:"ZHIPU_TIMEOUT" envDefault:"150s"`
}

// SiliconFlow holds the SiliconFlow settings.
type SiliconFlow struct {
	APIKey  Secret        `env:"SILICONFLOW_API_KEY"`
	BaseURL string        `env:"SILICONFLOW_BASE_URL" envDefault:"https://api.siliconflow.cn/v1"`
	Model   string        `env:"SILICONFLOW_MODEL" envDefault:"Qwen/Qwen-Image"`
	Timeout time.Duration `env:"SILICONFLOW_TIMEOUT" envDefault:"150s"`
}

// ProviderKey is the key a provider needs and the variable it comes
// from; offline needs none.
func (c *Config) ProviderKey(provider string) (key Secret, variable string) {
	switch provider {
	case ProviderOpenAI:
		return c.OpenAI.APIKey, "OPENAI_API_KEY"
	case ProviderArk:
		return c.Images.Ark.APIKey, "ARK_API_KEY"
	case ProviderZhipu:
		return c.Images.Zhipu.APIKey, "ZHIPU_API_KEY"
	case ProviderSiliconFlow:
		return c.Images.SiliconFlow.APIKey, "SILICONFLOW_API_KEY"
	}
	return "", ""
}

// ImageProviders is the resolved chain: IMAGE_PROVIDERS, else every
// provider whose key is set (ark, zhipu, siliconflow, openai), else in dev
// the offline painter. Prod never resolves to offline: validate refuses.
func (c *Config) ImageProviders() []string {
	if len(c.Images.Providers) > 0 {
		out := make([]string, 0, len(c.Images.Providers))
		for _, p := range c.Images.Providers {
			out = append(out, strings.ToLower(strings.TrimSpace(p)))
		}
		return out
	}
	var out []string
	for _, p := range defaultProviderOrder {
		if key, _ := c.ProviderKey(p); key != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 && !c.Prod() {
		out = []string{ProviderOffline}
	}
	return out
}

// OfflineImages reports whether the built-in offline generator is the
// only painter.
func (c *Config) OfflineImages() bool {
	p := c.ImageProviders()
	return len(p) == 1 && p[0] == ProviderOffline
}

// ImageChainTimeout is IMAGE_CHAIN_TIMEOUT, or five sixths of JOB_TIMEOUT
// (150 s of the default 3 min).
func (c *Config) ImageChainTimeout() time.Duration {
	if c.Images.ChainTimeout > 0 {
		return c.Images.ChainTimeout
	}
	return c.JobTimeout * 5 / 6
}

// openAIModelPrefixes are the OpenAI image model families the generator
// knows the sizes of (imagegen.OpenAIModelKnown decides the same; the
// check is here too so that the refusal names IMAGE_MODEL).
var openAIModelPrefixes = []string{"dall-e-3", "gpt-image-", "chatgpt-image-"}

// validateImages adds the image settings' refusals to bad.
func (c *Config) validateImages(bad func(setting, reason string)) {
	if !slices.ContainsFunc(openAIModelPrefixes, func(p string) bool { return strings.HasPrefix(c.OpenAI.ImageModel, p) }) {
		bad("IMAGE_MODEL", fmt.Sprintf("must be dall-e-3 or a gpt-image model (e.g. %s), got %q", "gpt-image-2.6-flare", c.OpenAI.ImageModel))
	}
	for _, d := range []struct {
		setting string
		value   time.Duration
	}{
		{"ARK_TIMEOUT", c.Images.Ark.Timeout}, {"ZHIPU_TIMEOUT", c.Images.Zhipu.Timeout},
		{"SILICONFLOW_TIMEOUT", c.Images.SiliconFlow.Timeout}, {"IMAGE_BREAKER_COOLDOWN", c.Images.BreakerCooldown},
	} {
		if d.value <= 0 {
			bad(d.setting, "must be positive")
		}
	}
	if c.Images.BreakerFailures < 1 {
		bad("IMAGE_BREAKER_FAILURES", "must be at least 1")
	}
	if t := c.Images.ChainTimeout; t != 0 && (t < time.Second || t >= c.JobTimeout) {
		bad("IMAGE_CHAIN_TIMEOUT", "must be at least 1s and shorter than JOB_TIMEOUT (the image still has to be stored)")
	}

	chain := c.ImageProviders()
	seen := map[string]bool{}
	for _, p := range chain {
		switch p {
		case ProviderOffline:
			if c.Prod() {
				bad("IMAGE_PROVIDERS", "must not name offline in prod: it paints abstract pictures, not the prompt")
			}
		case ProviderOpenAI, ProviderArk, ProviderZhipu, ProviderSiliconFlow:
			if key, variable := c.ProviderKey(p); key == "" {
				bad(variable, fmt.Sprintf("is required: IMAGE_PROVIDERS names %s", p))
			}
		default:
			bad("IMAGE_PROVIDERS", fmt.Sprintf("names %q, which is not one of %s, %s, %s, %s, %s",
				p, ProviderArk, ProviderZhipu, ProviderSiliconFlow, ProviderOpenAI, ProviderOffline))
		}
		if seen[p] {
			bad("IMAGE_PROVIDERS", fmt.Sprintf("names %q twice", p))
		}
		seen[p] = true
	}
	if len(chain) == 0 && c.Prod() {
		bad("IMAGE_PROVIDERS", "resolves to no image provider: prod needs at least one real provider with its key "+
			"(ARK_API_KEY, ZHIPU_API_KEY, SILICONFLOW_API_KEY or OPENAI_API_KEY)")
	}
}

// imagesLogValue renders the image settings for the start-up log, keys
// masked.
func (c *Config) imagesLogValue() []slog.Attr {
	i := c.Images
	return []slog.Attr{
		slog.Any("image_providers", c.ImageProviders()),
		slog.Duration("image_chain_timeout", c.ImageChainTimeout()),
		slog.Int("image_breaker_failures", i.BreakerFailures),
		slog.Duration("image_breaker_cooldown", i.BreakerCooldown),
		slog.Any("ark_api_key", i.Ark.APIKey),
		slog.String("ark_base_url", i.Ark.BaseURL),
		slog.String("ark_model", i.Ark.Model),
		slog.Duration("ark_timeout", i.Ark.Timeout),
		slog.Any("zhipu_api_key", i.Zhipu.APIKey),
		slog.String("zhipu_base_url", i.Zhipu.BaseURL),
		slog.String("zhipu_model", i.Zhipu.Model),
		slog.Bool("zhipu_watermark", i.Zhipu.Watermark),
		slog.Duration("zhipu_timeout", i.Zhipu.Timeout),
		slog.Any("siliconflow_api_key", i.SiliconFlow.APIKey),
		slog.String("siliconflow_base_url", i.SiliconFlow.BaseURL),
		slog.String("siliconflow_model", i.SiliconFlow.Model),
		slog.Duration("siliconflow_timeout", i.SiliconFlow.Timeout),
	}
}
