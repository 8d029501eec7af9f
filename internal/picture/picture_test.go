package picture_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/picture"
)

// Tiny WebP files (1x1; lossless and lossy), the ones browsers' feature
// tests use; x/image has no WebP encoder to make them in the test.
const (
	webpLossless = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="
	webpLossy    = "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"
)

func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), 128, 255})
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fromBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hugePNGHeader is a valid PNG signature and IHDR chunk claiming w x h
// pixels, followed by nothing: a decompression bomb's calling card.
func hugePNGHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&buf, binary.BigEndian, uint32(len(ihdr)))
	buf.Write(chunk)
	_ = binary.Write(&buf, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return buf.Bytes()
}

// withEXIF inserts an APP1 Exif segment right after the JPEG SOI marker.
func withEXIF(jpg []byte, payload string) []byte {
	seg := append([]byte("Exif\x00\x00"), payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xE1, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestSniff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   []byte
		format string
		ok     bool
	}{
		{"png", encodePNG(t, gradient(4, 4)), "png", true},
		{"jpeg", encodeJPEG(t, gradient(4, 4)), "jpeg", true},
		{"webp", fromBase64(t, webpLossless), "webp", true},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), "", false},
		{"text", []byte("hello, this is not an image"), "", false},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "", false},
		{"riff but not webp", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), "", false},
		{"empty", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			format, ok := picture.Sniff(tt.data)
			if format != tt.format || ok != tt.ok {
				t.Errorf("Sniff = %q, %v; want %q, %v", format, ok, tt.format, tt.ok)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	pngData := encodePNG(t, gradient(40, 30))
	tests := []struct {
		name      string
		data      []byte
		maxPixels int
		wantErr   error
		format    string
		w, h      int
	}{
		{name: "png", data: pngData, maxPixels: 1200, format: "png", w: 40, h: 30},
		{name: "jpeg", data: encodeJPEG(t, gradient(17, 9)), maxPixels: 1 << 20, format: "jpeg", w: 17, h: 9},
		{name: "webp lossless", data: fromBase64(t, webpLossless), maxPixels: 1, format: "webp", w: 1, h: 1},
		{name: "webp lossy", data: fromBase64(t, webpLossy), maxPixels: 1, format: "webp", w: 1, h: 1},
		{name: "one pixel over the limit", data: pngData, maxPixels: 1199, wantErr: picture.ErrTooManyPixels},
		{name: "huge dimensions in the header", data: hugePNGHeader(100000, 100000), maxPixels: 50_000_000, wantErr: picture.ErrTooManyPixels},
		{name: "dimensions png itself refuses", data: hugePNGHeader(1<<31-1, 1<<31-1), maxPixels: 50_000_000, wantErr: picture.ErrCorrupt},
		{name: "truncated png", data: pngData[:len(pngData)/2], maxPixels: 1 << 20, wantErr: picture.ErrCorrupt},
		{name: "header only", data: hugePNGHeader(10, 10), maxPixels: 1 << 20, wantErr: picture.ErrCorrupt},
		{name: "magic bytes only", data: []byte("\x89PNG\r\n\x1a\n"), maxPixels: 1 << 20, wantErr: picture.ErrCorrupt},
		{name: "text", data: []byte("just some text\n"), maxPixels: 1 << 20, wantErr: picture.ErrUnsupported},
		{name: "empty", data: nil, maxPixels: 1 << 20, wantErr: picture.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img, format, err := picture.Decode(tt.data, tt.maxPixels)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Decode error = %v, want %v", err, tt.wantErr)
				}
				if failure.From(err) == nil {
					t.Errorf("Decode error %v carries no failure kind", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if format != tt.format {
				t.Errorf("format = %q, want %q", format, tt.format)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("size = %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
		})
	}
}

func TestFitAndThumbnail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		w, h   int
		resize func(image.Image) image.Image
		wantW  int
		wantH  int
	}{
		{"fit portrait into a square", 256, 448, func(i image.Image) image.Image { return picture.Fit(i, 128, 128) }, 73, 128},
		{"fit landscape into a box", 448, 256, func(i image.Image) image.Image { return picture.Fit(i, 224, 2000) }, 224, 128},
		{"fit never scales up", 100, 50, func(i image.Image) image.Image { return picture.Fit(i, 1000, 1000) }, 100, 50},
		{"fit exact size untouched", 64, 64, func(i image.Image) image.Image { return picture.Fit(i, 64, 64) }, 64, 64},
		{"fit a sliver keeps one pixel", 1000, 2, func(i image.Image) image.Image { return picture.Fit(i, 100, 100) }, 100, 1},
		{"thumbnail portrait", 256, 448, func(i image.Image) image.Image { return picture.Thumbnail(i, 128) }, 128, 224},
		{"thumbnail landscape", 384, 256, func(i image.Image) image.Image { return picture.Thumbnail(i, 64) }, 96, 64},
		{"thumbnail never scales up", 200, 300, func(i image.Image) image.Image { return picture.Thumbnail(i, 512) }, 200, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := gradient(tt.w, tt.h)
			got := tt.resize(src)
			if b := got.Bounds(); b.Dx() != tt.wantW || b.Dy() != tt.wantH {
				t.Fatalf("size = %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.wantW, tt.wantH)
			}
			if tt.wantW == tt.w && tt.wantH == tt.h && got != image.Image(src) {
				t.Error("an image that fits was copied; want it returned as is")
			}
			// The gradient runs red left to right: a faithful resample keeps
			// the right edge redder than the left.
			b := got.Bounds()
			left, _, _, _ := got.At(b.Min.X, b.Min.Y).RGBA()
			right, _, _, _ := got.At(b.Max.X-1, b.Min.Y).RGBA()
			if b.Dx() > 1 && right <= left {
				t.Errorf("red at left %d, right %d: the picture was not resampled faithfully", left, right)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	translucent := image.NewNRGBA(image.Rect(0, 0, 8, 8)) // fully transparent
	tests := []struct {
		name   string
		encode func() ([]byte, error)
		format string
		check  func(t *testing.T, img image.Image)
	}{
		{
			name:   "png round trip",
			encode: func() ([]byte, error) { return picture.EncodePNG(gradient(30, 20)) },
			format: "png",
			check: func(t *testing.T, img image.Image) {
				if got, want := color.NRGBAModel.Convert(img.At(29, 19)), (color.NRGBA{255, 255, 128, 255}); got != want {
					t.Errorf("corner pixel = %v, want %v", got, want)
				}
			},
		},
		{
			name:   "jpeg round trip",
			encode: func() ([]byte, error) { return picture.EncodeJPEG(gradient(30, 20), 90) },
			format: "jpeg",
			check: func(t *testing.T, img image.Image) {
				if b := img.Bounds(); b.Dx() != 30 || b.Dy() != 20 {
					t.Errorf("size = %v", b)
				}
			},
		},
		{
			name:   "jpeg lays transparency on white",
			encode: func() ([]byte, error) { return picture.EncodeJPEG(translucent, 0) },
			format: "jpeg",
			check: func(t *testing.T, img image.Image) {
				r, g, b, _ := img.At(4, 4).RGBA()
				if r < 0xf000 || g < 0xf000 || b < 0xf000 {
					t.Errorf("transparent pixel became %d,%d,%d; want white", r>>8, g>>8, b>>8)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := tt.encode()
			if err != nil {
				t.Fatal(err)
			}
			img, format, err := picture.Decode(data, 1<<20)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if format != tt.format {
				t.Errorf("format = %q, want %q", format, tt.format)
			}
			tt.check(t, img)
		})
	}
}

func TestReencodingDropsEXIF(t *testing.T) {
	t.Parallel()
	const secret = "GPS 31.2304N 121.4737E"
	src := withEXIF(encodeJPEG(t, gradient(16, 16)), secret)
	img, _, err := picture.Decode(src, 1<<20)
	if err != nil {
		t.Fatalf("Decode of a JPEG with EXIF: %v", err)
	}
	out, err := picture.EncodeJPEG(img, 85)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(secret)) {
		t.Fatal("test setup: the source carries no EXIF")
	}
	if bytes.Contains(out, []byte(secret)) || bytes.Contains(out, []byte("Exif")) {
		t.Error("re-encoded JPEG still carries the EXIF segment")
	}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	tests := map[string]string{"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": ""}
	for format, want := range tests {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			if got := picture.ContentType(format); got != want {
				t.Errorf("ContentType(%q) = %q, want %q", format, got, want)
			}
		})
	}
}
