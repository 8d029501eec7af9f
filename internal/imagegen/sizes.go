package imagegen

import (
	"fmt"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// sizeTable is the size sent to one model family for each product size:
// the nearest size the family supports with the same orientation (a
// portrait request stays portrait). docs/providers.md shows every table
// with the provider's documented rule it satisfies; a test holds the two
// equal and checks each entry against the rule.
type sizeTable map[string]string

// The size tables of every model family, by the key docs/providers.md
// names them with.
var sizeTables = map[string]sizeTable{
	// dall-e-3 has the product sizes themselves.
	"openai/dall-e-3": {
		wallpaper.SizePortrait:  "1024x1792",
		wallpaper.SizeLandscape: "1792x1024",
		wallpaper.SizeSquare:    "1024x1024",
	},
	// gpt-image-1, -1-mini, -1.5 and chatgpt-image-latest have three sizes.
	"openai/gpt-image-1": {
		wallpaper.SizePortrait:  "1024x1536",
		wallpaper.SizeLandscape: "1536x1024",
		wallpaper.SizeSquare:    "1024x1024",
	},
	// gpt-image-2 and later take any size with both sides multiples of
	// 16, at most 3840, at most 3:1, 655,360–8,294,400 pixels: the product
	// sizes are such sizes.
	"openai/gpt-image-2": {
		wallpaper.SizePortrait:  "1024x1792",
		wallpaper.SizeLandscape: "1792x1024",
		wallpaper.SizeSquare:    "1024x1024",
	},
	// Seedream 4.x takes any size of 1280x720 (4.5 and 5.0: 2560x1440) to
	// 4096x4096 pixels in all, at most 16:1; these are its 2K sizes for
	// 9:16, 16:9 and 1:1, above both minimums.
	"ark/seedream": {
		wallpaper.SizePortrait:  "1440x2560",
		wallpaper.SizeLandscape: "2560x1440",
		wallpaper.SizeSquare:    "2048x2048",
	},
	// CogView-4 takes custom sizes with sides 512–2048, multiples of 16,
	// at most 2^21 pixels (glm-image: 1024–2048, multiples of 32, 2^22):
	// the product sizes are such sizes.
	"zhipu/cogview": {
		wallpaper.SizePortrait:  "1024x1792",
		wallpaper.SizeLandscape: "1792x1024",
		wallpaper.SizeSquare:    "1024x1024",
	},
	// Qwen-Image's recommended sizes: 9:16, 16:9 and 1:1.
	"siliconflow/qwen-image": {
		wallpaper.SizePortrait:  "928x1664",
		wallpaper.SizeLandscape: "1664x928",
		wallpaper.SizeSquare:    "1328x1328",
	},
}

// options are the product options of a request, defaults filled in and
// checked.
type options struct {
	size, quality, style string
}

// productOptions fills in the product defaults and refuses what the
// product does not offer: such a request is a bug upstream of us.
func productOptions(o wallpaper.Options) (options, error) {
	out := options{
		size:    cmpOr(o.Size, wallpaper.SizePortrait),
		quality: cmpOr(o.Quality, wallpaper.QualityStandard),
		style:   cmpOr(o.Style, wallpaper.StyleVivid),
	}
	switch out.size {
	case wallpaper.SizePortrait, wallpaper.SizeLandscape, wallpaper.SizeSquare:
	default:
		return options{}, fmt.Errorf("imagegen: unknown size %q", out.size)
	}
	if out.quality != wallpaper.QualityStandard && out.quality != wallpaper.QualityHD {
		return options{}, fmt.Errorf("imagegen: unknown quality %q", out.quality)
	}
	if out.style != wallpaper.StyleVivid && out.style != wallpaper.StyleNatural {
		return options{}, fmt.Errorf("imagegen: unknown style %q", out.style)
	}
	return out, nil
}

// sizeFor is the size sent to family for the product size.
func sizeFor(family, productSize string) string {
	return sizeTables[family][productSize]
}
