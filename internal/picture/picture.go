// Package picture reads and writes the images wallpaperd stores: it sniffs
// the format from the bytes (never from a file name or a client's header),
// refuses decompression bombs before decoding, scales down and re-encodes.
// Re-encoding is also how metadata (EXIF, GPS, comments) is dropped: only
// pixels survive a round trip through this package.
package picture

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Formats Sniff recognises, as image.Decode names them.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatWebP = "webp"
)

// Errors of Decode. They carry failure kinds, so an upload handler can
// return them as they are.
var (
	ErrUnsupported   = failure.New(failure.UnsupportedMedia, "unsupported_media_type", "Only JPEG, PNG and WebP images are accepted.")
	ErrTooManyPixels = failure.New(failure.TooLarge, "payload_too_large", "The image has too many pixels.")
	ErrCorrupt       = failure.New(failure.Invalid, "invalid_image", "The image could not be read.")
)

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
)

// Sniff names the format of data by its magic bytes: "jpeg", "png" or
// "webp". Anything else, including GIF and SVG, is not ok.
func Sniff(data []byte) (format string, ok bool) {
	switch {
	case bytes.HasPrefix(data, magicJPEG):
		return FormatJPEG, true
	case bytes.HasPrefix(data, magicPNG):
		return FormatPNG, true
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return FormatWebP, true
	}
	return "", false
}

// ContentType returns the MIME type of a format Sniff names, or "".
func ContentType(format string) string {
	switch format {
	case FormatJPEG:
		return "image/jpeg"
	case FormatPNG:
		return "image/png"
	case FormatWebP:
		return "image/webp"
	}
	return ""
}

type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecs are called directly rather than through image.Decode, so that
// what is accepted does not depend on which decoders some other package
// happened to register.
var codecs = map[string]codec{
	FormatJPEG: {jpeg.DecodeConfig, jpeg.Decode},
	FormatPNG:  {png.DecodeConfig, png.Decode},
	FormatWebP: {webp.DecodeConfig, webp.Decode},
}

// Decode decodes a JPEG, PNG or WebP image and returns it with its format.
// It reads the header first and refuses an image of more than maxPixels
// pixels before allocating any of them: a few KiB of PNG can claim to be
// 100,000 pixels square.
func Decode(data []byte, maxPixels int) (image.Image, string, error) {
	return DecodeWithin(data, Limits{MaxPixels: maxPixels})
}

// DecodeWithin is Decode under lim: it refuses, from the header and before
// allocating any pixel, an image of too many pixels (ErrTooManyPixels) or
// one whose decoding would cost more memory than lim allows
// (ErrTooCostly).
func DecodeWithin(data []byte, lim Limits) (image.Image, string, error) {
	format, ok := Sniff(data)
	if !ok {
		return nil, "", ErrUnsupported
	}
	c := codecs[format]
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return nil, "", ErrCorrupt.With("", fmt.Errorf("picture: reading the %s header: %w", format, err))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", ErrCorrupt.With("", fmt.Errorf("picture: %s claims %dx%d pixels", format, cfg.Width, cfg.Height))
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(lim.MaxPixels) || (lim.MaxSide > 0 && max(cfg.Width, cfg.Height) > lim.MaxSide) {
		return nil, "", ErrTooManyPixels.With("", fmt.Errorf("picture: %s of %dx%d pixels, limit %d (sides %d)", format, cfg.Width, cfg.Height, lim.MaxPixels, lim.MaxSide))
	}
	if lim.MaxDecodeBytes > 0 {
		cost, err := DecodeCost(data)
		if err != nil {
			return nil, "", err
		}
		if cost > lim.MaxDecodeBytes {
			return nil, "", ErrTooCostly.With("", fmt.Errorf("picture: decoding this %dx%d %s would take %d bytes, limit %d", cfg.Width, cfg.Height, format, cost, lim.MaxDecodeBytes))
		}
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", ErrCorrupt.With("", fmt.Errorf("picture: decoding %s: %w", format, err))
	}
	return img, format, nil
}

// Fit scales img down to fit within maxW x maxH, keeping its aspect ratio.
// It never scales up: an image that already fits is returned as it is.
func Fit(img image.Image, maxW, maxH int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= maxW && h <= maxH || w == 0 || h == 0 {
		return img
	}
	scale := min(float64(maxW)/float64(w), float64(maxH)/float64(h))
	return scaleTo(img, scaled(w, scale), scaled(h, scale))
}

// Thumbnail scales img down so that its short side is shortSide pixels,
// keeping its aspect ratio. It never scales up.
func Thumbnail(img image.Image, shortSide int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	short := min(w, h)
	if short <= shortSide || short == 0 {
		return img
	}
	scale := float64(shortSide) / float64(short)
	return scaleTo(img, scaled(w, scale), scaled(h, scale))
}

func scaled(n int, scale float64) int {
	return max(1, int(float64(n)*scale+0.5))
}

func scaleTo(img image.Image, w, h int) image.Image {
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	return dst
}

// EncodeJPEG encodes img as a baseline JPEG of the given quality (1–100,
// clamped). JPEG has no alpha channel, so a translucent image is laid on
// white first; otherwise transparent pixels would turn black.
func EncodeJPEG(img image.Image, quality int) ([]byte, error) {
	quality = min(max(quality, 1), 100)
	if o, ok := img.(interface{ Opaque() bool }); !ok || !o.Opaque() {
		img = onWhite(img)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("picture: encoding jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodePNG encodes img as a PNG with the default compression.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("picture: encoding png: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodePNGFast encodes img as a PNG with the fastest compression: larger,
// for images that are kept rather than sent.
func EncodePNGFast(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("picture: encoding png: %w", err)
	}
	return buf.Bytes(), nil
}

func onWhite(img image.Image) image.Image {
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, b, img, b.Min, draw.Over)
	return dst
}
