package aigc

import (
	_ "embed"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// VisibleText is the visible label: "AI" and "生成", the words §5.2 asks for.
const VisibleText = "AI生成"

// The font holds only the glyphs of VisibleText; font/README.md says how it
// was cut from Noto Sans CJK SC Bold, and font/OFL.txt is its licence.
//
//go:embed font/NotoSansCJKsc-Bold-AIGC.otf
var fontData []byte

// labelFont is the parsed font and its cap height per unit of font size.
// It is parsed once: an sfnt.Font is safe for concurrent use, a face is
// not, so each drawing makes its own face.
var labelFont = sync.OnceValues(func() (labelFace, error) {
	f, err := opentype.Parse(fontData)
	if err != nil {
		return labelFace{}, fmt.Errorf("aigc: parsing the embedded font: %w", err)
	}
	var buf sfnt.Buffer
	for _, r := range VisibleText {
		if i, err := f.GlyphIndex(&buf, r); err != nil || i == 0 {
			return labelFace{}, fmt.Errorf("aigc: the embedded font has no glyph for %q", r)
		}
	}
	const probeSize = 1000
	probe, err := opentype.NewFace(f, &opentype.FaceOptions{Size: probeSize, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return labelFace{}, fmt.Errorf("aigc: making a font face: %w", err)
	}
	ch := float64(probe.Metrics().CapHeight) / 64 / probeSize
	if ch <= 0 {
		return labelFace{}, fmt.Errorf("aigc: the embedded font has no cap height")
	}
	return labelFace{font: f, capHeight: ch}, nil
})

type labelFace struct {
	font      *sfnt.Font
	capHeight float64 // per unit of font size
}

// Corner is where DrawVisible puts the label. The values are the words a
// configuration file uses.
type Corner string

// The corners. The zero Corner means BottomRight.
const (
	BottomRight Corner = "bottom-right"
	BottomLeft  Corner = "bottom-left"
	TopRight    Corner = "top-right"
	TopLeft     Corner = "top-left"
)

// ParseCorner returns the Corner a configuration value names; "" is
// BottomRight, the default.
func ParseCorner(s string) (Corner, error) {
	switch c := Corner(s); c {
	case "":
		return BottomRight, nil
	case BottomRight, BottomLeft, TopRight, TopLeft:
		return c, nil
	}
	return "", fmt.Errorf("aigc: unknown corner %q (want %s, %s, %s or %s)", s, BottomRight, BottomLeft, TopRight, TopLeft)
}

// Proportions of the label.
const (
	// capShare is the height of the Latin capitals "AI", the shortest
	// glyphs of the label: §5.2 asks for text at least 5 % of the shortest
	// side, and 5.5 % keeps every glyph above that after anti-aliasing and
	// rounding. The Chinese glyphs come out about 1.25 times as tall.
	capShare = 0.055
	// margin keeps the label off the edges, where a phone's rounded corners
	// or a crop would cut it.
	margin = 0.03
	// outlineWidth is the width of the dark outline, as a fraction of the
	// font size: wide enough to separate white text from a white background.
	outlineWidth = 0.06
	// minFontSize keeps a tiny thumbnail's label a few pixels tall.
	minFontSize = 8
)

var (
	textColor    = color.NRGBA{R: 255, G: 255, B: 255, A: 255}
	outlineColor = color.NRGBA{R: 0, G: 0, B: 0, A: 217} // 85 % black
)

// DrawVisible returns a copy of img with the visible label: VisibleText in
// white with a dark outline, legible on any background, in the given corner
// and a margin away from the edges. Its capitals are at least 5 % of the
// image's shortest side tall (GB 45438-2025 §5.2). img is not changed.
func DrawVisible(img image.Image, corner Corner) (*image.RGBA, error) {
	corner, err := ParseCorner(string(corner))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("aigc: drawing the visible label on an empty image")
	}
	f, err := labelFont()
	if err != nil {
		return nil, err
	}
	short := min(b.Dx(), b.Dy())
	text, outline, err := renderLabel(f, short)
	if err != nil {
		return nil, err
	}

	m := max(2, int(math.Round(float64(short)*margin)))
	size := text.Bounds().Size()
	at := image.Point{X: b.Max.X - m - size.X, Y: b.Max.Y - m - size.Y}
	if corner == TopLeft || corner == BottomLeft {
		at.X = b.Min.X + m
	}
	if corner == TopLeft || corner == TopRight {
		at.Y = b.Min.Y + m
	}
	r := image.Rectangle{Min: at, Max: at.Add(size)}

	dst := image.NewRGBA(b)
	draw.Draw(dst, b, img, b.Min, draw.Src)
	draw.DrawMask(dst, r, image.NewUniform(outlineColor), image.Point{}, outline, image.Point{}, draw.Over)
	draw.DrawMask(dst, r, image.NewUniform(textColor), image.Point{}, text, image.Point{}, draw.Over)
	return dst, nil
}

// renderLabel rasterizes VisibleText for an image whose shortest side is
// short: the glyphs' coverage and the outline's (the glyphs grown by the
// outline width), both in the same rectangle at the origin, the ink
// exactly inset by the outline width.
func renderLabel(f labelFace, short int) (text, outline *image.Alpha, err error) {
	size := max(minFontSize, math.Ceil(float64(short)*capShare/f.capHeight))
	face, err := opentype.NewFace(f.font, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, nil, fmt.Errorf("aigc: making a font face: %w", err)
	}
	ink, _ := font.BoundString(face, VisibleText)
	pad := max(1, int(math.Round(size*outlineWidth)))
	w := (ink.Max.X - ink.Min.X).Ceil() + 2*pad
	h := (ink.Max.Y - ink.Min.Y).Ceil() + 2*pad

	text = image.NewAlpha(image.Rect(0, 0, w, h))
	d := font.Drawer{
		Dst:  text,
		Src:  image.Opaque,
		Face: face,
		Dot:  fixed.Point26_6{X: fixed.I(pad) - ink.Min.X, Y: fixed.I(pad) - ink.Min.Y},
	}
	d.DrawString(VisibleText)
	return text, dilate(text, pad), nil
}

// dilate returns the coverage of a grown by a disc of radius r: each pixel
// takes the greatest coverage within r of it. Anti-aliased edges stay soft.
// a's bounds start at the origin (renderLabel's do).
func dilate(a *image.Alpha, r int) *image.Alpha {
	// half[dy+r] is the half-width of the disc's row dy; the +r rounds the
	// disc's flat sides.
	half := make([]int, 2*r+1)
	for dy := -r; dy <= r; dy++ {
		half[dy+r] = int(math.Sqrt(float64(r*r + r - dy*dy)))
	}
	w, h := a.Rect.Dx(), a.Rect.Dy()
	out := image.NewAlpha(a.Rect)
	for y := range h {
		for x, v := range a.Pix[y*a.Stride : y*a.Stride+w] {
			if v == 0 {
				continue
			}
			for dy := max(-r, -y); dy <= r && y+dy < h; dy++ {
				lo, hi := max(0, x-half[dy+r]), min(w, x+half[dy+r]+1)
				row := out.Pix[(y+dy)*out.Stride+lo : (y+dy)*out.Stride+hi]
				for i, o := range row {
					if o < v {
						row[i] = v
					}
				}
			}
		}
	}
	return out
}
