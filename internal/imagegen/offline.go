package imagegen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// ModelOffline is the model name of the offline generator's wallpapers.
const ModelOffline = "offline"

// Offline paints an abstract wallpaper without any network: a gradient
// sky, soft glowing orbs and layered waves, in a palette chosen by the
// prompt. The same prompt and style always give the same picture, and
// different prompts visibly different ones, so that dev mode and tests
// exercise the whole pipeline with real PNGs at the requested size.
type Offline struct{}

// NewOffline returns the offline generator.
func NewOffline() *Offline { return &Offline{} }

// Generate paints req as a PNG of req.Options.Size (the product default
// when empty).
func (o *Offline) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	w, h, err := parseSize(req.Options.Size)
	if err != nil {
		return nil, &wallpaper.ImageError{Code: "upstream_rejected", Message: "This image size is not supported.", Err: err}
	}
	style := req.Options.Style
	if style == "" {
		style = wallpaper.StyleVivid
	}
	quality := req.Options.Quality
	if quality == "" {
		quality = wallpaper.QualityStandard
	}
	seed := sha256.Sum256([]byte(style + "\x00" + req.Prompt))
	img, err := paint(ctx, w, h, seed, style == wallpaper.StyleNatural, looks[req.Preset])
	if err != nil {
		return nil, &wallpaper.ImageError{Code: "upstream_timeout", Message: "The image took too long.", Retryable: true, Err: err}
	}
	var buf bytes.Buffer
	// Speed over size: the picture is smooth and compresses well anyway.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("imagegen: encoding the offline image: %w", err)
	}
	return &wallpaper.Image{
		Data:        buf.Bytes(),
		ContentType: "image/png",
		Provider:    ProviderOffline,
		Model:       ModelOffline,
		Params: map[string]any{
			"size":    fmt.Sprintf("%dx%d", w, h),
			"style":   style,
			"quality": quality,
			"seed":    hex.EncodeToString(seed[:8]),
			"preset":  req.Preset,
		},
	}, nil
}

type rgb struct{ r, g, b float64 } // linear-ish 0..1 components

func mix(a, b rgb, t float64) rgb {
	return rgb{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t}
}

// hsl converts hue (turns), saturation and lightness to a colour. Dark
// colours drift toward blue-violet, as painters cool their shadows: it
// keeps dark yellows and reds from turning into olive and mud.
func hsl(h, s, l float64) rgb {
	if l < 0.5 {
		h = lerpHue(h, 0.72, (0.5-l)*1.2)
	}
	h -= math.Floor(h)
	f := func(n float64) float64 {
		k := math.Mod(n+h*12, 12)
		a := s * min(l, 1-l)
		return l - a*max(-1, min(k-3, 9-k, 1))
	}
	return rgb{f(0), f(8), f(4)}
}

// lerpHue moves hue a toward b by t along the shorter way round.
func lerpHue(a, b, t float64) float64 {
	d := b - a
	d -= math.Round(d)
	return a + d*min(1, max(0, t))
}

type orb struct {
	x, y, r2 float64 // centre and squared radius, in pixels
	c        rgb
	a        float64
}

type wave struct {
	base           float64 // mean height from the top, as a fraction
	amp1, amp2     float64 // in pixels
	freq1, freq2   float64 // radians per pixel
	phase1, phase2 float64
	top, bottom    rgb
}

// look is the offline painter's take on a preset (wallpaper.Presets): a
// base hue, a saturation and a lightness change, how many hills, and
// pixelation. The zero look leaves the seed's choices as they are.
type look struct {
	hue    float64 // base hue, in turns, when hasHue
	hasHue bool
	sat    float64 // saturation factor; 0: unchanged
	light  float64 // added to every lightness
	waves  int     // hills; 0: the seed's 3–5
	pixel  int     // block size of a pixelated picture; 0: smooth
}

// looks are keyed by preset id.
var looks = map[string]look{
	"guofeng":    {hue: 0.02, hasHue: true, sat: 0.35, light: 0.06, waves: 4},
	"anime":      {hue: 0.58, hasHue: true, sat: 1.15, light: 0.08, waves: 3},
	"cyberpunk":  {hue: 0.86, hasHue: true, sat: 1.25, light: -0.06, waves: 5},
	"watercolor": {hue: 0.45, hasHue: true, sat: 0.55, light: 0.16, waves: 3},
	"minimal":    {sat: 0.3, light: 0.1, waves: 1},
	"oil":        {hue: 0.07, hasHue: true, sat: 1.1, waves: 5},
	"pixel":      {pixel: 16},
}

// palette picks colours around a base hue with a harmony (analogous,
// complementary, triadic or split) drawn from the seed: a deep sky that
// brightens toward the horizon, glows of the accent hues, and waves that
// darken toward the bottom. Natural style is muted.
func palette(rng *rand.Rand, natural bool, lk look) (sky [2]rgb, glow []rgb, waves []rgb) {
	base := rng.Float64()
	if lk.hasHue {
		base = lk.hue + (base-0.5)*0.06
	}
	accents := [][]float64{
		{0.06, 0.12, -0.06}, // analogous
		{0.5, 0.06, 0.44},   // complementary
		{0.333, 0.667, 0.1}, // triadic
		{0.42, 0.58, 0.08},  // split complementary
	}[rng.IntN(4)]
	sat := 0.7 + rng.Float64()*0.25
	if natural {
		sat = 0.28 + rng.Float64()*0.14
	}
	if lk.sat > 0 {
		sat = min(1, sat*lk.sat)
	}
	l := func(v float64) float64 { return min(0.95, max(0.03, v+lk.light)) }
	sky = [2]rgb{
		hsl(base-0.06, sat*0.9, l(0.10+rng.Float64()*0.08)),
		hsl(base+0.04, sat, l(0.62+rng.Float64()*0.12)),
	}
	for _, a := range accents {
		glow = append(glow, hsl(base+a, sat, l(0.55+rng.Float64()*0.1)))
	}
	n := 3 + rng.IntN(3)
	if lk.waves > 0 {
		n = lk.waves
	}
	for i := range n {
		t := float64(i) / float64(n-1)
		// Layers stay near the base hue, the front ones drifting a little
		// toward the first accent, so the land reads as one family.
		hue := base + accents[0]*0.35*t + (rng.Float64()-0.5)*0.05
		if n == 1 {
			t = 0
		}
		waves = append(waves, hsl(hue, sat*(0.85+0.15*t), l(0.5-0.38*t)))
	}
	return sky, glow, waves
}

// paint draws the wallpaper. Everything is computed per row and column in
// closed form, so a 1024x1792 picture takes a few tens of milliseconds.
func paint(ctx context.Context, w, h int, seed [32]byte, natural bool, lk look) (*image.RGBA, error) {
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[0:]), binary.LittleEndian.Uint64(seed[8:])))
	sky, glowColours, waveColours := palette(rng, natural, lk)
	fw, fh := float64(w), float64(h)
	scale := math.Min(fw, fh)

	// The sky brightens from the top toward the horizon, along a slightly
	// tilted axis.
	horizon := fh * 0.6
	tilt := (rng.Float64() - 0.5) * 0.4 * horizon / fw

	// Broad, faint glows of the accent colours, and one small bright sun.
	orbs := make([]orb, 2+rng.IntN(3), 5)
	for i := range orbs {
		r := scale * (0.3 + rng.Float64()*0.4)
		orbs[i] = orb{
			x: rng.Float64() * fw, y: rng.Float64() * fh * 0.6, r2: r * r,
			c: glowColours[i%len(glowColours)], a: 0.15 + rng.Float64()*0.2,
		}
	}
	sun := scale * (0.05 + rng.Float64()*0.05)
	orbs = append(orbs, orb{
		x: fw * (0.2 + rng.Float64()*0.6), y: fh * (0.15 + rng.Float64()*0.3), r2: sun * sun,
		c: mix(glowColours[0], rgb{1, 1, 1}, 0.6), a: 0.9,
	})

	waves := make([]wave, len(waveColours))
	for i := range waves {
		t := float64(i+1) / float64(len(waves)+1)
		c := waveColours[i]
		waves[i] = wave{
			base:  0.45 + 0.5*t + (rng.Float64()-0.5)*0.05,
			amp1:  scale * (0.03 + rng.Float64()*0.06),
			amp2:  scale * (0.01 + rng.Float64()*0.03),
			freq1: (1 + rng.Float64()*2) * 2 * math.Pi / fw, freq2: (3 + rng.Float64()*4) * 2 * math.Pi / fw,
			phase1: rng.Float64() * 2 * math.Pi, phase2: rng.Float64() * 2 * math.Pi,
			top: c, bottom: mix(c, rgb{}, 0.45),
		}
	}
	// Wave heights depend only on x: compute them once per column.
	heights := make([][]float64, len(waves))
	for i, wv := range waves {
		heights[i] = make([]float64, w)
		for x := range w {
			fx := float64(x)
			heights[i][x] = wv.base*fh + wv.amp1*math.Sin(fx*wv.freq1+wv.phase1) + wv.amp2*math.Sin(fx*wv.freq2+wv.phase2)
		}
	}

	img := image.NewRGBA(image.Rect(0, 0, w, h))
	paintRow := func(y int) {
		fy := float64(y)
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			fx := float64(x)
			c := mix(sky[0], sky[1], smooth((fy+(fx-fw/2)*tilt)/horizon))
			for _, o := range orbs {
				dx, dy := fx-o.x, fy-o.y
				f := 1 / (1 + (dx*dx+dy*dy)/o.r2)
				f *= f * o.a
				// Screen blending: light adds up without clipping harshly.
				c = rgb{1 - (1-c.r)*(1-o.c.r*f), 1 - (1-c.g)*(1-o.c.g*f), 1 - (1-c.b)*(1-o.c.b*f)}
			}
			for i, wv := range waves {
				top := heights[i][x]
				if fy < top-1 {
					continue
				}
				// A one-pixel ramp anti-aliases the crest; a faint lighter
				// rim along it gives the layers depth.
				cover := min(1, fy-top+1)
				depth := math.Min(1, (fy-top)/(fh-top+1))
				fill := mix(wv.top, wv.bottom, depth)
				if d := fy - top; d < scale*0.006 {
					fill = mix(fill, rgb{1, 1, 1}, 0.12)
				}
				c = mix(c, fill, cover)
			}
			// Ordered dither of a fraction of a level hides banding in the
			// long, smooth gradients.
			d := (bayer[y&3][x&3] - 7.5) / 16 / 255
			row[4*x+0] = to8(c.r + d)
			row[4*x+1] = to8(c.g + d)
			row[4*x+2] = to8(c.b + d)
			row[4*x+3] = 255
		}
	}
	// Rows are independent: interleave them over the available cores.
	workers := min(runtime.GOMAXPROCS(0), 8)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Go(func() {
			for y := k; y < h; y += workers {
				if (y-k)/workers%32 == 0 && ctx.Err() != nil {
					return
				}
				paintRow(y)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if lk.pixel > 1 {
		pixelate(img, lk.pixel)
	}
	return img, nil
}

// pixelate fills every n×n block with its top-left pixel: crisp, blocky,
// like a retro game.
func pixelate(img *image.RGBA, n int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		sy := y - (y-b.Min.Y)%n
		for x := b.Min.X; x < b.Max.X; x++ {
			sx := x - (x-b.Min.X)%n
			copy(img.Pix[img.PixOffset(x, y):img.PixOffset(x, y)+4], img.Pix[img.PixOffset(sx, sy):img.PixOffset(sx, sy)+4])
		}
	}
}

// Covers paints each preset's cover: a small picture in its look, made
// once per process.
type Covers struct {
	mu    sync.Mutex
	cache map[string][]byte
}

// NewCovers returns the preset covers.
func NewCovers() *Covers { return &Covers{cache: map[string][]byte{}} }

// Cover returns preset id's cover as a 360×640 PNG, or ok false for an
// unknown preset.
func (c *Covers) Cover(ctx context.Context, id string) (data []byte, ok bool, err error) {
	p, known := wallpaper.PresetByID(id)
	if !known {
		return nil, false, nil
	}
	c.mu.Lock()
	data, cached := c.cache[id]
	c.mu.Unlock()
	if cached {
		return data, true, nil
	}
	seed := sha256.Sum256([]byte("cover\x00" + p.ID))
	img, err := paint(ctx, 360, 640, seed, false, looks[id])
	if err != nil {
		return nil, true, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, true, fmt.Errorf("imagegen: encoding a cover: %w", err)
	}
	c.mu.Lock()
	c.cache[id] = buf.Bytes()
	c.mu.Unlock()
	return buf.Bytes(), true, nil
}

var bayer = [4][4]float64{{0, 8, 2, 10}, {12, 4, 14, 6}, {3, 11, 1, 9}, {15, 7, 13, 5}}

func smooth(t float64) float64 {
	t = min(1, max(0, t))
	return t * t * (3 - 2*t)
}

func to8(v float64) uint8 {
	return uint8(min(255, max(0, v*255+0.5)))
}
