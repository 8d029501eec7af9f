// Package imagegen paints wallpapers: with OpenAI's image models in
// production, or with a built-in offline generator that needs no network
// and no key (the dev default). Both satisfy wallpaper.ImageGenerator.
package imagegen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
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
