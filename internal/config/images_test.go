package config

import (
	"bytes"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/imagegen"
)

func TestImageProviders(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"dev without keys: offline", nil, []string{"offline"}},
		{"every key set: mainland China first", map[string]string{
			"OPENAI_API_KEY": "sk", "SILICONFLOW_API_KEY": "sf", "ZHIPU_API_KEY": "zp", "ARK_API_KEY": "ak"},
			[]string{"ark", "zhipu", "siliconflow", "openai"}},
		{"only openai", map[string]string{"OPENAI_API_KEY": "sk"}, []string{"openai"}},
		{"zhipu and openai", map[string]string{"OPENAI_API_KEY": "sk", "ZHIPU_API_KEY": "zp"}, []string{"zhipu", "openai"}},
		{"an explicit order wins", map[string]string{"IMAGE_PROVIDERS": " OpenAI , ark", "OPENAI_API_KEY": "sk", "ARK_API_KEY": "ak"},
			[]string{"openai", "ark"}},
		{"an explicit chain leaves out a key that is set", map[string]string{"IMAGE_PROVIDERS": "ark", "OPENAI_API_KEY": "sk", "ARK_API_KEY": "ak"},
			[]string{"ark"}},
		{"dev may fall back to offline", map[string]string{"IMAGE_PROVIDERS": "ark,offline", "ARK_API_KEY": "ak"},
			[]string{"ark", "offline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"APP_ENV": "dev"}
			maps.Copy(vars, tt.vars)
			c, err := Parse(vars)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ImageProviders(); !slices.Equal(got, tt.want) {
				t.Errorf("ImageProviders = %v, want %v", got, tt.want)
			}
			if c.OfflineImages() != slices.Equal(tt.want, []string{"offline"}) {
				t.Errorf("OfflineImages = %v for %v", c.OfflineImages(), tt.want)
			}
		})
	}
}

func TestImageSettingRefusals(t *testing.T) {
	tests := []struct {
		name    string
		prod    bool
		change  map[string]string
		setting string
		reason  string // a part of the refusal
	}{
		{"prod with no provider", true, map[string]string{"OPENAI_API_KEY": ""}, "IMAGE_PROVIDERS", "ARK_API_KEY"},
		{"prod naming offline", true, map[string]string{"IMAGE_PROVIDERS": "offline"}, "IMAGE_PROVIDERS", "offline"},
		{"prod naming ark without its key", true, map[string]string{"IMAGE_PROVIDERS": "ark,openai"}, "ARK_API_KEY", "names ark"},
		{"prod naming siliconflow without its key", true, map[string]string{"IMAGE_PROVIDERS": "siliconflow"}, "SILICONFLOW_API_KEY", "names siliconflow"},
		{"dev naming zhipu without its key", false, map[string]string{"IMAGE_PROVIDERS": "zhipu"}, "ZHIPU_API_KEY", "names zhipu"},
		{"dev naming openai without its key", false, map[string]string{"IMAGE_PROVIDERS": "openai"}, "OPENAI_API_KEY", "names openai"},
		{"an unknown provider", false, map[string]string{"IMAGE_PROVIDERS": "midjourney"}, "IMAGE_PROVIDERS", "midjourney"},
		{"a provider twice", false, map[string]string{"IMAGE_PROVIDERS": "ark,ark", "ARK_API_KEY": "ak"}, "IMAGE_PROVIDERS", "twice"},
		{"dall-e-2", false, map[string]string{"IMAGE_MODEL": "dall-e-2"}, "IMAGE_MODEL", "dall-e-2"},
		{"not an image model", false, map[string]string{"IMAGE_MODEL": "gpt-5"}, "IMAGE_MODEL", "gpt-5"},
		{"chain timeout as long as the job's", false, map[string]string{"IMAGE_CHAIN_TIMEOUT": "3m"}, "IMAGE_CHAIN_TIMEOUT", "JOB_TIMEOUT"},
		{"zero breaker failures", false, map[string]string{"IMAGE_BREAKER_FAILURES": "0"}, "IMAGE_BREAKER_FAILURES", "at least 1"},
		{"zero ark timeout", false, map[string]string{"ARK_TIMEOUT": "0s"}, "ARK_TIMEOUT", "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"APP_ENV": "dev"}
			if tt.prod {
				vars = prodVars()
			}
			maps.Copy(vars, tt.change)
			_, err := Parse(vars)
			var se *SettingError
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, want a SettingError", err)
			}
			if !strings.Contains(err.Error(), tt.setting+" ") || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not name %s saying %q", err, tt.setting, tt.reason)
			}
		})
	}
}

func TestImageSettingsAccepted(t *testing.T) {
	tests := []struct {
		name   string
		prod   bool
		change map[string]string
	}{
		{"prod with ark alone", true, map[string]string{"OPENAI_API_KEY": "", "ARK_API_KEY": "ak"}},
		{"prod with a chain", true, map[string]string{"IMAGE_PROVIDERS": "ark,zhipu,siliconflow,openai",
			"ARK_API_KEY": "ak", "ZHIPU_API_KEY": "zp", "SILICONFLOW_API_KEY": "sf"}},
		{"dall-e-3 for a relay", false, map[string]string{"IMAGE_MODEL": "dall-e-3"}},
		{"a dated gpt-image snapshot", false, map[string]string{"IMAGE_MODEL": "gpt-image-2.5-sunburst-2026-09-08"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"APP_ENV": "dev"}
			if tt.prod {
				vars = prodVars()
			}
			maps.Copy(vars, tt.change)
			if _, err := Parse(vars); err != nil {
				t.Errorf("Parse = %v", err)
			}
		})
	}
}

func TestImageDefaults(t *testing.T) {
	c, err := Parse(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ARK_BASE_URL", c.Images.Ark.BaseURL, "https://ark.cn-beijing.volces.com/api/v3"},
		{"ARK_MODEL", c.Images.Ark.Model, "doubao-seedream-4-5-251128"},
		{"ZHIPU_BASE_URL", c.Images.Zhipu.BaseURL, "https://open.bigmodel.cn/api/paas/v4"},
		{"ZHIPU_MODEL", c.Images.Zhipu.Model, "cogview-4-250304"},
		{"ZHIPU_WATERMARK", c.Images.Zhipu.Watermark, true},
		{"SILICONFLOW_BASE_URL", c.Images.SiliconFlow.BaseURL, "https://api.siliconflow.cn/v1"},
		{"SILICONFLOW_MODEL", c.Images.SiliconFlow.Model, "Qwen/Qwen-Image"},
		{"IMAGE_BREAKER_FAILURES", c.Images.BreakerFailures, 5},
		{"IMAGE_BREAKER_COOLDOWN", c.Images.BreakerCooldown, time.Minute},
		{"chain timeout: five sixths of JOB_TIMEOUT", c.ImageChainTimeout(), 150 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestImageKeysMaskedInLog(t *testing.T) {
	vars := prodVars()
	maps.Copy(vars, map[string]string{"ARK_API_KEY": "ark-key-value", "ZHIPU_API_KEY": "zhipu-key-value", "SILICONFLOW_API_KEY": "sf-key-value"})
	c, err := Parse(vars)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	for _, secret := range []string{"ark-key-value", "zhipu-key-value", "sf-key-value", "sk-test"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line contains secret %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, `"image_providers":["ark","zhipu","siliconflow","openai"]`) {
		t.Errorf("log line lacks the resolved chain: %s", out)
	}
}

// TestImageModelAgreesWithTheGenerator: config refuses exactly the OpenAI
// models the generator does not know, so that a refusal names IMAGE_MODEL
// instead of failing later at start.
func TestImageModelAgreesWithTheGenerator(t *testing.T) {
	for _, model := range []string{"dall-e-3", "dall-e-2", "gpt-image-1", "gpt-image-1.5", "gpt-image-2", "gpt-image-2.6-flare",
		"gpt-image-3-2027-01-01", "chatgpt-image-latest", "gpt-5", "Qwen/Qwen-Image"} {
		_, err := Parse(map[string]string{"IMAGE_MODEL": model})
		if accepted, known := err == nil, imagegen.OpenAIModelKnown(model); accepted != known {
			t.Errorf("IMAGE_MODEL=%q: config accepts %v, the generator knows it %v (%v)", model, accepted, known, err)
		}
	}
}

// TestBadSettingNamedAmongNamesakes: a provider's setting that does not
// parse is named by its own variable, though every provider's Go field
// has the same name.
func TestBadSettingNamedAmongNamesakes(t *testing.T) {
	for _, key := range []string{"ARK_TIMEOUT", "ZHIPU_TIMEOUT", "SILICONFLOW_TIMEOUT"} {
		_, err := Parse(map[string]string{key: "soon"})
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != key {
			t.Errorf("%s=soon: Parse = %v, want a SettingError naming %s alone", key, err, key)
		}
	}
}
