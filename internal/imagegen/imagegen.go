// Package imagegen paints wallpapers. Each image provider has its own
// generator, config, size table and error mapping: OpenAI (go-openai),
// Volcengine Ark (Seedream), Zhipu (CogView) and SiliconFlow (Qwen-Image),
// the last three through a small typed JSON client because their requests
// carry fields go-openai cannot send. Offline paints without any network
// (the dev default). Chain tries providers in order within one time
// budget, each behind a circuit breaker, and moves on only after a failure
// another provider could fix. Every generator satisfies
// wallpaper.ImageGenerator, and every failure is a *wallpaper.ImageError
// classified for the job's retry decision. docs/providers.md is the
// operator's guide.
package imagegen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// The providers, by the names IMAGE_PROVIDERS and the wallpaper's
// `provider` use.
const (
	ProviderOpenAI      = "openai"
	ProviderArk         = "ark"
	ProviderZhipu       = "zhipu"
	ProviderSiliconFlow = "siliconflow"
	ProviderOffline     = "offline"
)

// parseSize reads a "WxH" size; an empty one is the product default.
func parseSize(s string) (w, h int, err error) {
	if s == "" {
		s = wallpaper.SizePortrait
	}
	ws, hs, ok := strings.Cut(s, "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w < 1 || h < 1 || w > 4096 || h > 4096 {
		return 0, 0, fmt.Errorf("imagegen: size %q is not WxH within 4096x4096", s)
	}
	return w, h, nil
}
