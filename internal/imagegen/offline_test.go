package imagegen_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/picture"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

func offline(t testing.TB, prompt string, opts wallpaper.Options) (*wallpaper.Image, image.Image) {
	t.Helper()
	img, err := imagegen.NewOffline().Generate(context.Background(), wallpaper.ImageRequest{Prompt: prompt, Options: opts})
	if err != nil {
		t.Fatalf("Generate(%q, %+v): %v", prompt, opts, err)
	}
	decoded, format, err := picture.Decode(img.Data, 4096*4096)
	if err != nil {
		t.Fatalf("the offline image does not decode: %v", err)
	}
	if format != "png" {
		t.Fatalf("format = %q, want png", format)
	}
	return img, decoded
}

func TestOfflineSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		size string
		w, h int
	}{
		// One product size at full scale: under -race a full painting is
		// slow, and every size goes through the same code.
		{"default is portrait", "", 1024, 1792},
		{"landscape", "160x90", 160, 90},
		{"any WxH", "64x48", 64, 48},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The header is enough here: full-size decoding is slow under -race.
			img, err := imagegen.NewOffline().Generate(context.Background(), wallpaper.ImageRequest{Prompt: "a lighthouse in fog", Options: wallpaper.Options{Size: tt.size}})
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(img.Data))
			if err != nil {
				t.Fatalf("the offline image is not a PNG: %v", err)
			}
			if cfg.Width != tt.w || cfg.Height != tt.h {
				t.Errorf("size = %dx%d, want %dx%d", cfg.Width, cfg.Height, tt.w, tt.h)
			}
			if img.Model != imagegen.ModelOffline || img.ContentType != "image/png" {
				t.Errorf("Model %q, ContentType %q", img.Model, img.ContentType)
			}
			// The painter checks the image against the size it was asked for.
			if got, want := img.Params["size"], fmt.Sprintf("%dx%d", tt.w, tt.h); got != want {
				t.Errorf("Params[size] = %v, want %s", got, want)
			}
		})
	}
}

func TestOfflineBadSize(t *testing.T) {
	t.Parallel()
	for _, size := range []string{"big", "0x10", "10x", "x10", "5000x5000", "-1x-1"} {
		t.Run(size, func(t *testing.T) {
			t.Parallel()
			_, err := imagegen.NewOffline().Generate(context.Background(), wallpaper.ImageRequest{Prompt: "p", Options: wallpaper.Options{Size: size}})
			var ie *wallpaper.ImageError
			if !errors.As(err, &ie) || ie.Code != "upstream_rejected" || ie.Retryable {
				t.Errorf("Generate with size %q = %v, want a permanent upstream_rejected", size, err)
			}
		})
	}
}

// meanColour is the average colour of img, a coarse fingerprint.
func meanColour(img image.Image) [3]float64 {
	var sum [3]float64
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum[0] += float64(r >> 8)
			sum[1] += float64(g >> 8)
			sum[2] += float64(bl >> 8)
			n++
		}
	}
	for i := range sum {
		sum[i] /= float64(n)
	}
	return sum
}

func TestOfflineIsSeededByThePrompt(t *testing.T) {
	t.Parallel()
	opts := wallpaper.Options{Size: "72x128"}
	first, _ := offline(t, "a cat on the moon", opts)
	again, _ := offline(t, "a cat on the moon", opts)
	if !bytes.Equal(first.Data, again.Data) {
		t.Error("the same prompt painted two different images")
	}
	// Visibly different: over many prompts, the average colours spread
	// widely rather than all being the same picture with noise.
	prompts := []string{"sunset over the sea", "neon city at night", "forest", "desert dunes", "ice cave", "cherry blossoms", "storm", "galaxy"}
	means := make([][3]float64, len(prompts))
	for i, p := range prompts {
		img, decoded := offline(t, p, opts)
		if bytes.Equal(img.Data, first.Data) {
			t.Errorf("prompt %q painted the same image as another", p)
		}
		means[i] = meanColour(decoded)
	}
	farApart := 0
	for i := range means {
		for j := i + 1; j < len(means); j++ {
			d := 0.0
			for c := range 3 {
				d += (means[i][c] - means[j][c]) * (means[i][c] - means[j][c])
			}
			if d > 20*20 {
				farApart++
			}
		}
	}
	if pairs := len(means) * (len(means) - 1) / 2; farApart < pairs/2 {
		t.Errorf("only %d of %d prompt pairs differ visibly in colour", farApart, pairs)
	}
	natural, _ := offline(t, "a cat on the moon", wallpaper.Options{Size: "72x128", Style: wallpaper.StyleNatural})
	if bytes.Equal(natural.Data, first.Data) {
		t.Error("natural style painted the same image as vivid")
	}
}

func TestOfflineIsNotNoise(t *testing.T) {
	t.Parallel()
	_, img := offline(t, "calm", wallpaper.Options{Size: "200x300"})
	// Neighbouring pixels of a smooth abstract picture are close; noise
	// would make them jump.
	var jumps, total int
	for y := range 300 {
		for x := 1; x < 200; x++ {
			r1, g1, b1, _ := img.At(x-1, y).RGBA()
			r2, g2, b2, _ := img.At(x, y).RGBA()
			d := absDiff(r1, r2) + absDiff(g1, g2) + absDiff(b1, b2)
			if d>>8 > 24 {
				jumps++
			}
			total++
		}
	}
	// Wave crests are the only edges: a few percent at most.
	if jumps*20 > total {
		t.Errorf("%d of %d neighbouring pixels jump: the picture is noisy", jumps, total)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestOfflineHonoursCancellation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := imagegen.NewOffline().Generate(ctx, wallpaper.ImageRequest{Prompt: "p"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Generate with a cancelled context = %v, want context.Canceled", err)
	}
}

func BenchmarkOffline(b *testing.B) {
	g := imagegen.NewOffline()
	req := wallpaper.ImageRequest{Prompt: "a cat on the moon", Options: wallpaper.Options{Size: wallpaper.SizePortrait}}
	for b.Loop() {
		if _, err := g.Generate(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
