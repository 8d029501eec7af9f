package aigc

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
)

// FuzzRead feeds any bytes to the readers: Read and ContentHash may refuse
// them but must never panic, and what Read accepts Embed can label again
// without growing a second label.
func FuzzRead(f *testing.F) {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	var pngFile, jpegFile bytes.Buffer
	if err := png.Encode(&pngFile, img); err != nil {
		f.Fatal(err)
	}
	if err := jpeg.Encode(&jpegFile, img, nil); err != nil {
		f.Fatal(err)
	}
	labelledPNG, err := Embed(pngFile.Bytes(), doubao)
	if err != nil {
		f.Fatal(err)
	}
	labelledJPEG, err := Embed(jpegFile.Bytes(), doubao)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		nil,
		pngSignature,
		{0xFF, 0xD8, 0xFF},
		pngFile.Bytes(),
		jpegFile.Bytes(),
		labelledPNG,
		labelledJPEG,
		elementPacket(wrappedJSON),
		attributePacket(doubaoJSON),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, ok, err := Read(data)
		_, hashErr := ContentHash(data)
		if err != nil || !ok {
			return
		}
		if hashErr != nil {
			t.Fatalf("Read accepted the file but ContentHash refused it: %v", hashErr)
		}
		out, err := Embed(data, Propagated(l, "WPD0000001", "fuzz", "h"))
		if err != nil {
			// A label Validate refuses (non-ASCII, no producer) is fine to
			// refuse; anything else Read accepted must be writable.
			if !errors.Is(err, ErrInvalidLabel) {
				t.Fatalf("Embed after a successful Read: %v", err)
			}
			return
		}
		got, ok, err := Read(out)
		if err != nil || !ok || got.ContentProducer != l.ContentProducer || got.PropagateID != "fuzz" {
			t.Fatalf("Read after Embed = %+v, %v, %v", got, ok, err)
		}
	})
}
