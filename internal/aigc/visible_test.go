package aigc_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
)

// filled returns a w x h image of one grey. RGBA, like the images the
// pipeline passes (draw copies it quickly, which keeps -race runs short).
func filled(w, h int, c color.Gray) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	copy(img.Pix, bytes.Repeat([]byte{c.Y, c.Y, c.Y, 255}, w*h))
	return img
}

// mark is what DrawVisible changed: the bounding box of the changed
// pixels, and how many of them are light and how many dark.
type mark struct {
	box         image.Rectangle
	light, dark int
}

// measure compares the pixels before and after, through *image.RGBA copies
// and a row at a time, so that megapixel images stay quick under -race.
func measure(t *testing.T, before image.Image, after *image.RGBA) mark {
	t.Helper()
	b := before.Bounds()
	if after.Bounds() != b {
		t.Fatalf("DrawVisible changed the bounds from %v to %v", b, after.Bounds())
	}
	orig, ok := before.(*image.RGBA)
	if !ok {
		orig = image.NewRGBA(b)
		draw.Draw(orig, b, before, b.Min, draw.Src)
	}
	var m mark
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := after.PixOffset(b.Min.X, y)
		if bytes.Equal(after.Pix[row:row+4*b.Dx()], orig.Pix[row:row+4*b.Dx()]) {
			continue
		}
		for x := b.Min.X; x < b.Max.X; x++ {
			i := after.PixOffset(x, y)
			p, q := after.Pix[i:i+4:i+4], orig.Pix[i:i+4:i+4]
			if p[0] == q[0] && p[1] == q[1] && p[2] == q[2] && p[3] == q[3] {
				continue
			}
			m.box = m.box.Union(image.Rect(x, y, x+1, y+1))
			// color.GrayModel's weights, on 8-bit channels.
			switch l := (299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000; {
			case l >= 200:
				m.light++
			case l <= 60:
				m.dark++
			}
		}
	}
	if m.box.Empty() {
		t.Fatal("DrawVisible changed no pixel")
	}
	return m
}

func TestDrawVisiblePlacesALabelBigEnoughInTheCorner(t *testing.T) {
	sizes := []struct {
		name string
		w, h int
	}{
		{"portrait", 1024, 1792},
		{"landscape", 1792, 1024},
		{"square", 1024, 1024},
	}
	type test struct {
		name   string
		bg     color.Gray
		corner aigc.Corner
	}
	var tests []test
	for _, bg := range []struct {
		name string
		c    color.Gray
	}{{"white", color.Gray{Y: 255}}, {"black", color.Gray{Y: 0}}} {
		for _, c := range []aigc.Corner{aigc.BottomRight, aigc.BottomLeft, aigc.TopRight, aigc.TopLeft} {
			tests = append(tests, test{bg.name + "/" + string(c), bg.c, c})
		}
	}
	// Grey shows both the text and its outline; the zero Corner is the
	// default, bottom right.
	tests = append(tests, test{"grey/bottom-right", color.Gray{Y: 128}, aigc.BottomRight}, test{"white/default", color.Gray{Y: 255}, ""})

	for _, size := range sizes {
		short := min(size.w, size.h)
		for _, tc := range tests {
			t.Run(size.name+"/"+tc.name, func(t *testing.T) {
				img := filled(size.w, size.h, tc.bg)
				out, err := aigc.DrawVisible(img, tc.corner)
				if err != nil {
					t.Fatal(err)
				}
				m := measure(t, img, out)
				box := m.box
				if min := float64(short) * 0.05; float64(box.Dy()) < min {
					t.Errorf("label %v is %d px tall, want at least 5 %% of %d = %.1f", box, box.Dy(), short, min)
				}
				// In the corner: 1–8 % of the short side from both of the
				// corner's edges, and within a quarter of the picture.
				corner := tc.corner
				if corner == "" {
					corner = aigc.BottomRight
				}
				gapX, gapY := size.w-box.Max.X, size.h-box.Max.Y
				if corner == aigc.BottomLeft || corner == aigc.TopLeft {
					gapX = box.Min.X
				}
				if corner == aigc.TopLeft || corner == aigc.TopRight {
					gapY = box.Min.Y
				}
				for _, gap := range []int{gapX, gapY} {
					if gap < short/100 || gap > short*8/100 {
						t.Errorf("label %v is %d px from an edge of its corner %q; want 1–8 %% of %d", box, gap, corner, short)
					}
				}
				if box.Dx() > size.w/2 || box.Dy() > size.h/2 {
					t.Errorf("label %v does not fit in a quarter of %dx%d", box, size.w, size.h)
				}
				// Legible: light text in a dark outline. On white only the
				// outline changes pixels, on black only the text; on grey both.
				area := box.Dx() * box.Dy()
				if tc.bg.Y > 60 && m.dark < area/20 {
					t.Errorf("%d dark pixels in a label of %d: no visible outline", m.dark, area)
				}
				if tc.bg.Y < 200 && m.light < area/20 {
					t.Errorf("%d light pixels in a label of %d: no visible text", m.light, area)
				}
			})
		}
	}
}

// TestDrawVisibleCapitalsAreBigEnough measures the smallest glyphs, the
// capitals "AI" at the left of the label: on black only the white text
// changes pixels, and the left fifth of the label is the "A".
func TestDrawVisibleCapitalsAreBigEnough(t *testing.T) {
	for _, short := range []int{200, 512, 1024, 2160} {
		t.Run(fmt.Sprint(short), func(t *testing.T) {
			img := filled(short*16/9, short, color.Gray{})
			out, err := aigc.DrawVisible(img, aigc.BottomRight)
			if err != nil {
				t.Fatal(err)
			}
			box := measure(t, img, out).box
			left := image.Rect(box.Min.X, box.Min.Y, box.Min.X+box.Dx()/5, box.Max.Y)
			capital := image.Rectangle{}
			for y := left.Min.Y; y < left.Max.Y; y++ {
				for x := left.Min.X; x < left.Max.X; x++ {
					if out.Pix[out.PixOffset(x, y)] >= 128 { // white on black: any channel
						capital = capital.Union(image.Rect(x, y, x+1, y+1))
					}
				}
			}
			if float64(capital.Dy()) < float64(short)*0.05 {
				t.Fatalf("the capital A is %d px tall, want at least 5 %% of %d", capital.Dy(), short)
			}
		})
	}
}

func TestDrawVisibleKeepsTheRestOfThePicture(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			src.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 77, 255})
		}
	}
	orig := bytes.Clone(src.Pix)
	out, err := aigc.DrawVisible(src, aigc.TopLeft)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src.Pix, orig) {
		t.Fatal("DrawVisible changed its input")
	}
	box := measure(t, src, out).box
	for _, p := range []image.Point{{299, 199}, {150, 100}, {0, 199}, {299, 0}} {
		if p.In(box) {
			t.Fatalf("test point %v inside the label %v", p, box)
		}
		if got, want := color.NRGBAModel.Convert(out.At(p.X, p.Y)), src.At(p.X, p.Y); got != want {
			t.Fatalf("pixel %v = %v, want %v", p, got, want)
		}
	}
}

func TestDrawVisibleOnADecodedJPEGWithAnOffset(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, filled(640, 400, color.Gray{Y: 128}), nil); err != nil {
		t.Fatal(err)
	}
	decoded, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// A sub-image whose bounds do not start at 0,0.
	sub := decoded.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(100, 50, 500, 350))
	out, err := aigc.DrawVisible(sub, aigc.BottomRight)
	if err != nil {
		t.Fatal(err)
	}
	if out.Bounds() != sub.Bounds() {
		t.Fatalf("bounds %v, want %v", out.Bounds(), sub.Bounds())
	}
	box := measure(t, sub, out).box
	if box.Max.X > 500 || box.Max.Y > 350 || box.Min.X < 300 || box.Min.Y < 200 {
		t.Fatalf("label %v not in the bottom-right of %v", box, sub.Bounds())
	}
}

func TestDrawVisibleIsSafeConcurrently(t *testing.T) {
	img := filled(400, 300, color.Gray{Y: 200})
	var wg sync.WaitGroup
	results := make([]*image.RGBA, 8)
	for i := range results {
		wg.Go(func() {
			out, err := aigc.DrawVisible(img, aigc.BottomRight)
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = out
		})
	}
	wg.Wait()
	for _, r := range results[1:] {
		if r == nil || results[0] == nil || !bytes.Equal(r.Pix, results[0].Pix) {
			t.Fatal("concurrent drawings differ")
		}
	}
}

func TestDrawVisibleRefuses(t *testing.T) {
	if _, err := aigc.DrawVisible(filled(100, 100, color.Gray{}), "middle"); err == nil {
		t.Error("an unknown corner was accepted")
	}
	if _, err := aigc.DrawVisible(image.NewGray(image.Rect(0, 0, 0, 10)), aigc.BottomRight); err == nil {
		t.Error("an empty image was accepted")
	}
}

func TestParseCorner(t *testing.T) {
	tests := []struct {
		in   string
		want aigc.Corner
		ok   bool
	}{
		{"", aigc.BottomRight, true},
		{"bottom-right", aigc.BottomRight, true},
		{"bottom-left", aigc.BottomLeft, true},
		{"top-right", aigc.TopRight, true},
		{"top-left", aigc.TopLeft, true},
		{"Bottom-Right", "", false},
		{"center", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := aigc.ParseCorner(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("ParseCorner(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestFontLicenceSitsNextToTheFont(t *testing.T) {
	licence, err := os.ReadFile("font/OFL.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SIL OPEN FONT LICENSE Version 1.1", "NotoSansCJKsc-Bold-AIGC.otf", "Adobe"} {
		if !strings.Contains(string(licence), want) {
			t.Errorf("font/OFL.txt does not mention %q", want)
		}
	}
}
