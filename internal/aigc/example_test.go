package aigc_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
)

// The pipeline's order: the upstream label is read before decoding, the
// visible label drawn before encoding, the implicit label embedded last.
func Example() {
	var provider bytes.Buffer // what an image API returned
	_ = png.Encode(&provider, image.NewGray(image.Rect(0, 0, 320, 180)))

	upstream, labelled, err := aigc.Read(provider.Bytes())
	if err != nil {
		panic(err)
	}
	img, err := png.Decode(bytes.NewReader(provider.Bytes()))
	if err != nil {
		panic(err)
	}
	marked, err := aigc.DrawVisible(img, aigc.BottomRight)
	if err != nil {
		panic(err)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, marked); err != nil {
		panic(err)
	}
	hash, err := aigc.ContentHash(out.Bytes())
	if err != nil {
		panic(err)
	}
	label := aigc.Produced("WPD0000001", "wp_42", hash)
	if labelled {
		label = aigc.Propagated(upstream, "WPD0000001", "wp_42", hash)
	}
	file, err := aigc.Embed(out.Bytes(), label)
	if err != nil {
		panic(err)
	}

	got, _, _ := aigc.Read(file)
	fmt.Println(got.Label, got.ContentProducer, got.ProduceID, got.ReservedCode1 == hash)
	// Output: 1 WPD0000001 wp_42 true
}
