package httpapi_test

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/jpeg" // the display image and the thumbnail
	_ "image/png"  // the master
	"net/http"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
	"github.com/wallpaperd/wallpaperd/internal/aigc/aigctest"
	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
)

// TestStoredFilesAreLabelled is the labelling issue's acceptance, on the
// files the pipeline really stores, read back from S3 the way clients get
// them: with WeChat configured against the fake, a new wallpaper is
// invisible to others until its push says pass; then its display image,
// its thumbnail and its master each carry exactly one TC260 label that
// exiftool reads, naming us as producer and the wallpaper as the content;
// the display image shows a visible label at least 5 % of its short side
// in the configured corner, and the master (the owner's download) does not.
func TestStoredFilesAreLabelled(t *testing.T) {
	t.Parallel()
	bin := aigctest.Exiftool(t)
	m := newModerated(t, false, map[string]string{"AIGC_PRODUCER_CODE": "WPDTEST0001", "AIGC_LABEL_CORNER": "bottom-right"})
	_, w, trace := m.painted(t, "a lantern festival over a river")
	if m.seenByOthers(t, w.ID) {
		t.Fatal("others see the wallpaper before its image check")
	}
	m.push(t, trace, "pass")
	apptest.WaitFor(t, 60*time.Second, "the wallpaper to be seen", func() bool { return m.seenByOthers(t, w.ID) })

	var shown httpapi.Wallpaper
	m.API.Do(http.MethodGet, "/api/v1/wallpapers/"+w.ID, nil).JSON(t, &shown)
	res := m.API.Do(http.MethodGet, "/api/v1/wallpapers/"+w.ID+"/original", nil, apitest.Bearer(m.owner))
	if res.Status != http.StatusFound || res.Header.Get("Location") == "" {
		t.Fatalf("the owner's original: %d %s", res.Status, res.Body)
	}
	files := map[string]string{"image.jpg": shown.ImageURL, "thumb.jpg": shown.ThumbnailURL, "master.png": res.Header.Get("Location")}
	decoded := map[string]image.Image{}
	for name, url := range files {
		resp, data := m.Download(t, url)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s (%s): %d", name, url, resp.StatusCode)
		}
		img, format, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s does not decode: %v", name, err)
		}
		if want := map[bool]string{true: "png", false: "jpeg"}[name == "master.png"]; format != want {
			t.Errorf("%s is %s, want %s", name, format, want)
		}
		decoded[name] = img
		tags := aigctest.TagsOf(t, bin, name, data)
		if v := tags["ExifTool:Validate"]; v != "OK" {
			t.Errorf("%s: exiftool -validate = %v, want OK", name, v)
		}
		var label aigc.Label
		if err := json.Unmarshal([]byte(aigctest.TC260Value(t, tags)), &label); err != nil {
			t.Fatalf("%s: exiftool's value is not JSON: %v", name, err)
		}
		if label.Label != "1" || label.ContentProducer != "WPDTEST0001" || label.ProduceID != w.ID || label.ReservedCode1 == "" {
			t.Errorf("%s: exiftool read %+v; want Label 1, producer WPDTEST0001, ProduceID %s and a content hash", name, label, w.ID)
		}
	}

	// The visible label is where the display image differs from the master
	// painted underneath it: measure the box of strongly changed pixels.
	display, master := decoded["image.jpg"], decoded["master.png"]
	if display.Bounds() != master.Bounds() {
		t.Fatalf("display %v and master %v differ in size", display.Bounds(), master.Bounds())
	}
	box, changed := labelBox(display, master)
	b := display.Bounds()
	short := min(b.Dx(), b.Dy())
	if changed == 0 {
		t.Fatal("the display image shows no visible label: it equals the master")
	}
	if box.Dy()*100 < 5*short {
		t.Errorf("the visible label is %d px high, under 5 %% of the short side (%d px)", box.Dy(), short)
	}
	if box.Min.X < b.Dx()/2 || box.Min.Y < b.Dy()/2 {
		t.Errorf("the visible label spans %v, not in the bottom-right corner of %v", box, b)
	}
	if box.Dx() > b.Dx()/2 || box.Dy() > b.Dy()/4 {
		t.Errorf("the changed pixels span %v: more than a label in a corner", box)
	}
}

// labelBox returns the bounding box of the pixels where a and b differ by
// more than JPEG's noise in any channel, and how many there are.
func labelBox(a, b image.Image) (image.Rectangle, int) {
	var box image.Rectangle
	n := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			if absDiff(ar, br) > 0x6000 || absDiff(ag, bg) > 0x6000 || absDiff(ab, bb) > 0x6000 {
				p := image.Rect(x, y, x+1, y+1)
				if n == 0 {
					box = p
				} else {
					box = box.Union(p)
				}
				n++
			}
		}
	}
	return box, n
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}
