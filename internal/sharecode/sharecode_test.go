package sharecode_test

import (
	"bytes"
	"context"
	"image/png"
	"testing"

	"github.com/google/uuid"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/wallpaperd/wallpaperd/internal/sharecode"
)

// TestQRCodesReadBack: the local code of any wallpaper is a PNG that a QR
// reader reads back as the detail page's path, drawn in whole-pixel
// modules (41 modules of 10 px with the quiet zone).
func TestQRCodesReadBack(t *testing.T) {
	for range 50 {
		id := uuid.New()
		data, contentType, err := sharecode.QR{}.Make(context.Background(), id)
		if err != nil || contentType != "image/png" {
			t.Fatalf("Make: %q, %v", contentType, err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 410 || b.Dy() != 410 {
			t.Fatalf("the code is %v, want 410×410", b)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		got, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
		if err != nil {
			t.Fatalf("the code of %s does not read: %v", id, err)
		}
		if want := sharecode.Path(id); got.GetText() != want {
			t.Fatalf("the code says %q, want %q", got.GetText(), want)
		}
	}
}
