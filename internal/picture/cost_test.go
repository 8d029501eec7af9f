package picture_test

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/picture"
	"github.com/wallpaperd/wallpaperd/internal/picture/picturetest"
)

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocated is what f allocated on the heap, in bytes (TotalAlloc counts
// every allocation, collected or not, so it bounds f's peak from above).
// The tests that use it are not parallel: nothing else allocates meanwhile.
func allocated(f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// TestDecodeCostBoundsTheDecoders: for every pixel format the decoders
// return, what decoding really allocates stays within DecodeCost's
// estimate, and the estimate is not wildly above it either; so a
// MaxDecodeBytes is a real bound on memory.
func TestDecodeCostBoundsTheDecoders(t *testing.T) {
	const side = 512
	tests := []struct {
		name string
		data []byte
	}{
		{"png grey 8", picturetest.CraftPNG(t, side, side, 8, 0, false)},
		{"png grey 1", picturetest.CraftPNG(t, side, side, 1, 0, false)},
		{"png grey 16", picturetest.CraftPNG(t, side, side, 16, 0, false)},
		{"png rgb 8", picturetest.CraftPNG(t, side, side, 8, 2, false)},
		{"png rgb 16", picturetest.CraftPNG(t, side, side, 16, 2, false)},
		{"png paletted 8", picturetest.CraftPNG(t, side, side, 8, 3, false)},
		{"png grey+alpha 16", picturetest.CraftPNG(t, side, side, 16, 4, false)},
		{"png rgba 8", picturetest.CraftPNG(t, side, side, 8, 6, false)},
		{"png rgba 16", picturetest.CraftPNG(t, side, side, 16, 6, false)},
		{"png rgba 16 interlaced", picturetest.CraftPNG(t, side, side, 16, 6, true)},
		{"png rgba 8 interlaced, odd size", picturetest.CraftPNG(t, side+3, side-5, 8, 6, true)},
		{"png from the encoder", encodePNG(t, gradient(side, side))},
		{"jpeg baseline 4:2:0", encodeJPEG(t, gradient(side+5, side))},
		{"jpeg grey", encodeJPEG(t, image.NewGray(image.Rect(0, 0, side, side+9)))},
		{"jpeg progressive 4:2:0", testdata(t, "progressive-1024-420.jpg")},
		{"jpeg progressive 4:4:4", testdata(t, "progressive-2048-444.jpg")},
		{"jpeg rgb", testdata(t, "rgb-256.jpg")},
		{"webp lossless", fromBase64(t, webpLossless)},
		{"webp lossy", fromBase64(t, webpLossy)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			estimate, err := picture.DecodeCost(tt.data)
			if err != nil {
				t.Fatalf("DecodeCost: %v", err)
			}
			var derr error
			used := allocated(func() { _, _, derr = picture.Decode(tt.data, 1<<30) })
			if derr != nil {
				t.Fatalf("Decode: %v", derr)
			}
			t.Logf("estimate %d KiB, allocated %d KiB", estimate>>10, used>>10)
			if used > estimate {
				t.Errorf("decoding allocated %d bytes, more than the estimate %d", used, estimate)
			}
			if estimate > 2*used+1<<20 {
				t.Errorf("the estimate %d is far above the %d bytes decoding allocated", estimate, used)
			}
		})
	}
}

// TestDecodeWithinRefusesBeforeAllocating: images that are cheap to send
// and dear to decode (deep colour, progressive JPEG, too many pixels for
// the limits) are refused from their header, allocating next to nothing,
// while what fits is decoded within its estimate.
func TestDecodeWithinRefusesBeforeAllocating(t *testing.T) {
	// The avatar's limits (internal/user).
	lim := picture.Limits{MaxPixels: 2048 * 2048, MaxSide: 8192, MaxDecodeBytes: 32 << 20}
	bomb := picturetest.CraftPNG(t, 4096, 4096, 16, 6, false)
	if len(bomb) > 200<<10 {
		t.Fatalf("test setup: the 4096² 16-bit PNG is %d bytes, want a cheap one", len(bomb))
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr error // nil: decoded
	}{
		{"4096² 16-bit RGBA png: 128 MiB from ~130 KB", bomb, picture.ErrTooManyPixels},
		{"2048² 16-bit RGBA png: 32 MiB", picturetest.CraftPNG(t, 2048, 2048, 16, 6, false), picture.ErrTooCostly},
		{"2048² interlaced 8-bit RGBA png: 32 MiB", picturetest.CraftPNG(t, 2048, 2048, 8, 6, true), picture.ErrTooCostly},
		{"2048² progressive 4:4:4 jpeg: 60 MiB", testdata(t, "progressive-2048-444.jpg"), picture.ErrTooCostly},
		{"a 1 x 1,000,000 sliver", picturetest.CraftPNG(t, 1, 1_000_000, 8, 0, false), picture.ErrTooManyPixels},
		{"1448² 16-bit RGBA png: 16 MiB", picturetest.CraftPNG(t, 1448, 1448, 16, 6, false), nil},
		{"2048² 8-bit RGBA png: 16 MiB", picturetest.CraftPNG(t, 2048, 2048, 8, 6, false), nil},
		{"1024² progressive 4:2:0 jpeg", testdata(t, "progressive-1024-420.jpg"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			used := allocated(func() { _, _, err = picture.DecodeWithin(tt.data, lim) })
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DecodeWithin = %v, want %v", err, tt.wantErr)
				}
				if used > 1<<20 {
					t.Errorf("refusing it allocated %d KiB; want under 1 MiB (refused from the header)", used>>10)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeWithin: %v", err)
			}
			if used > lim.MaxDecodeBytes {
				t.Errorf("decoding allocated %d MiB, over the limit of %d MiB", used>>20, lim.MaxDecodeBytes>>20)
			}
		})
	}
}

func TestDecodeCostRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"text", []byte("not an image at all"), picture.ErrUnsupported},
		{"png signature only", []byte("\x89PNG\r\n\x1a\n"), picture.ErrCorrupt},
		{"jpeg without a frame", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 'J', 'F', 0xFF, 0xD9}, picture.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := picture.DecodeCost(tt.data); !errors.Is(err, tt.want) {
				t.Errorf("DecodeCost = %v, want %v", err, tt.want)
			}
		})
	}
}
