// Package picturetest makes images for tests that are cheap to send and
// dear to decode, the way an attacker would craft them.
package picturetest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// CraftPNG writes a valid PNG of w x h pixels of the given bit depth and
// colour type (0 grey, 2 RGB, 3 paletted, 4 grey+alpha, 6 RGBA), every
// pixel zero, Adam7-interlaced or not. It streams the rows through zlib,
// so a 4096² 16-bit image (128 MiB decoded, ~130 KB encoded) is made
// without holding its pixels: the cheap file that costs a fortune to
// decode.
func CraftPNG(tb testing.TB, w, h, depth int, colour byte, interlaced bool) []byte {
	tb.Helper()
	channels := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		out.Write(c)
		_ = binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), colour
	if interlaced {
		ihdr[12] = 1
	}
	chunk("IHDR", ihdr)
	if colour == 3 {
		chunk("PLTE", []byte{0, 0, 0, 255, 255, 255})
	}
	var idat bytes.Buffer
	z, err := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	if err != nil {
		tb.Fatal(err)
	}
	row := func(pw int) []byte { return make([]byte, 1+(pw*channels*depth+7)/8) } // filter 0, zero pixels
	passes := [][4]int{{0, 0, 1, 1}}                                              // x0, y0, dx, dy of each pass
	if interlaced {                                                               // Adam7
		passes = [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	for _, p := range passes {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		r := row(pw)
		for range ph {
			if _, err := z.Write(r); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := z.Close(); err != nil {
		tb.Fatal(err)
	}
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
