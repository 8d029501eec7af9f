package picture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
)

// Limits bound what decoding one image may cost. The header tells the
// cost before any pixel is allocated: a few KiB of PNG can claim 100,000
// pixels square, and a 130 KB 16-bit PNG of 4096² pixels decodes to
// 128 MiB.
type Limits struct {
	// MaxPixels refuses an image of more pixels.
	MaxPixels int
	// MaxSide refuses an image with a longer side (0: no bound): a sliver
	// of few pixels costs nothing to decode but much to scale.
	MaxSide int
	// MaxDecodeBytes refuses an image whose decoding would take more
	// memory than this at its peak, as DecodeCost estimates it (0: no
	// bound but MaxPixels).
	MaxDecodeBytes int64
}

// ErrTooCostly is an image whose decoding would take more memory than
// its Limits allow: deep colour, a large progressive JPEG.
var ErrTooCostly = ErrTooManyPixels.With("The image would take too much memory to decode: send a smaller one, or one with 8-bit colour.", nil)

// DecodeCost estimates the bytes that decoding data takes at its peak with
// the standard library's and x/image's decoders, from the header alone:
// the pixel buffer of the decoded image in the type the decoder returns
// (16-bit PNGs take 8 bytes a pixel, paletted ones 1), plus what the
// decoder holds besides (a progressive JPEG keeps every DCT coefficient as
// an int32 until the last scan; an interlaced PNG decodes each pass into
// an image of its own; a CMYK or RGB JPEG is converted into a new image; a
// lossless WebP is unpacked into a scratch buffer first). It is an upper
// bound, not a guess: the tests hold the decoders to it.
func DecodeCost(data []byte) (int64, error) {
	format, ok := Sniff(data)
	if !ok {
		return 0, ErrUnsupported
	}
	cfg, err := codecs[format].config(bytes.NewReader(data))
	if err != nil {
		return 0, ErrCorrupt.With("", fmt.Errorf("picture: reading the %s header: %w", format, err))
	}
	switch format {
	case FormatPNG:
		return pngCost(data, cfg)
	case FormatJPEG:
		return jpegCost(data, cfg)
	default:
		return webpCost(data, cfg), nil
	}
}

// overhead covers the decoders' fixed costs (Huffman tables, zlib
// window, row buffers of narrow images).
const overhead = 256 << 10

func pngCost(data []byte, cfg image.Config) (int64, error) {
	// The signature (8), the IHDR length and type (8), width and height
	// (8), then bit depth, colour type, compression, filter, interlace.
	if len(data) < 29 {
		return 0, ErrCorrupt.With("", fmt.Errorf("picture: png header of %d bytes", len(data)))
	}
	depth, colour, interlaced := int64(data[24]), data[25], data[28] == 1
	w, h := int64(cfg.Width), int64(cfg.Height)
	var perPixel, channels int64
	switch colour {
	case 0: // grey: image.Gray or Gray16
		perPixel, channels = max(1, depth/8), 1
	case 3: // paletted
		perPixel, channels = 1, 1
	case 2: // RGB: image.RGBA or RGBA64
		perPixel, channels = 4*max(1, depth/8), 3
	case 4: // grey and alpha: image.NRGBA or NRGBA64
		perPixel, channels = 4*max(1, depth/8), 2
	default: // RGBA: image.NRGBA or NRGBA64
		perPixel, channels = 4*max(1, depth/8), 4
	}
	img := w * h * perPixel
	if interlaced {
		img *= 2 // the seven passes' images, then the whole
	}
	rows := 2 * (w*channels*depth/8 + 2) // the current and the previous row
	return img + rows + overhead, nil
}

func jpegCost(data []byte, cfg image.Config) (int64, error) {
	sof, err := readSOF(data)
	if err != nil {
		return 0, ErrCorrupt.With("", fmt.Errorf("picture: %w", err))
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	hMax, vMax, units := int64(1), int64(1), int64(0)
	for _, c := range sof.comps {
		hMax, vMax = max(hMax, c.h), max(vMax, c.v)
	}
	if len(sof.comps) == 1 { // one component is always decoded in 8x8 blocks
		hMax, vMax = 1, 1
		sof.comps[0].h, sof.comps[0].v = 1, 1
	}
	mcusX, mcusY := (w+8*hMax-1)/(8*hMax), (h+8*vMax-1)/(8*vMax)
	for _, c := range sof.comps {
		units += c.h * c.v
	}
	blocks := mcusX * mcusY * units
	cost := 64 * blocks // the planes, padded to whole MCUs
	if sof.progressive {
		cost += 64 * 4 * blocks // a [64]int32 per block until the last scan
	}
	if len(sof.comps) == 4 || (len(sof.comps) == 3 && sof.rgb) {
		cost += 4 * w * h // converted into a CMYK or RGBA image
	}
	return cost + overhead, nil
}

type jpegComponent struct {
	id   byte
	h, v int64
}

type jpegFrame struct {
	progressive bool
	rgb         bool // the decoder will convert the planes into an RGBA image
	comps       []jpegComponent
}

// readSOF walks the JPEG markers up to the start of frame and returns its
// components, whether it is progressive and whether the image/jpeg
// decoder will take the three planes for RGB rather than YCbCr (Adobe's
// transform 0, or components named R, G and B without JFIF).
func readSOF(data []byte) (jpegFrame, error) {
	var f jpegFrame
	jfif, adobe, transform := false, false, byte(0)
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return f, fmt.Errorf("jpeg: no marker at byte %d", i)
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8) { // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return f, fmt.Errorf("jpeg: segment %#x of %d bytes at byte %d runs past the data", marker, n, i)
		}
		seg := data[i+4 : i+2+n]
		switch {
		case marker == 0xE0 && bytes.HasPrefix(seg, []byte("JFIF\x00")):
			jfif = true
		case marker == 0xEE && bytes.HasPrefix(seg, []byte("Adobe")) && len(seg) >= 12:
			adobe, transform = true, seg[11]
		case marker >= 0xC0 && marker <= 0xC2:
			if len(seg) < 6 || len(seg) < 6+3*int(seg[5]) || seg[5] == 0 || seg[5] > 4 {
				return f, fmt.Errorf("jpeg: start of frame of %d bytes", len(seg))
			}
			f.progressive = marker == 0xC2
			for c := range int(seg[5]) {
				hv := seg[6+3*c+1]
				f.comps = append(f.comps, jpegComponent{id: seg[6+3*c], h: max(1, int64(hv>>4)), v: max(1, int64(hv&0x0F))})
			}
			switch {
			case len(f.comps) != 3 || jfif:
			case adobe:
				f.rgb = transform == 0
			default:
				f.rgb = f.comps[0].id == 'R' && f.comps[1].id == 'G' && f.comps[2].id == 'B'
			}
			return f, nil
		}
		i += 2 + n
	}
	return f, fmt.Errorf("jpeg: no start of frame")
}

func webpCost(data []byte, cfg image.Config) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	chunk := ""
	if len(data) >= 16 {
		chunk = string(data[12:16])
	}
	switch {
	case chunk == "VP8 ": // lossy: YCbCr 4:2:0, padded to macroblocks
		return 2*(w+16)*(h+16) + overhead
	case chunk == "VP8X" && len(data) > 20 && data[20]&0x10 == 0: // no alpha
		// Lossy or lossless inside: lossless is the dearer.
		return 8*w*h + overhead
	default:
		// Lossless: the ARGB pixels, and as much again for a colour
		// indexing transform; lossy with alpha adds a lossless alpha
		// plane unpacked the same way.
		return 11*w*h + overhead
	}
}
