package aigc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/picture"
)

func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), 90, 255})
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
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// files returns a small PNG and a small JPEG, as the pipeline encodes them.
func files(t *testing.T) map[string][]byte {
	t.Helper()
	img := gradient(64, 48)
	return map[string][]byte{"png": encodePNG(t, img), "jpeg": encodeJPEG(t, img)}
}

func ourLabel() Label {
	return Produced("WPD0000001", "wp_0b7c1f2e", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
}

// doubao is a label as an upstream producer writes it.
var doubao = Label{
	Label:             Generated,
	ContentProducer:   "001191110108MA01KP2T5U00000",
	ProduceID:         "20261101-7f3a9c",
	ReservedCode1:     "e862483430d978cbf828b8b24296ef9328d843a0",
	ContentPropagator: "001191110108MA01KP2T5U00000",
	PropagateID:       "20261101-7f3a9c",
}

// pngChunkTypes lists a PNG's chunk types, with the keyword of text chunks.
func pngChunkTypes(t *testing.T, data []byte) []string {
	t.Helper()
	chunks, _, err := pngChunks(data)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, c := range chunks {
		if c.typ != "IDAT" || len(types) == 0 || types[len(types)-1] != "IDAT" {
			s := c.typ
			if k := c.textKeyword(); k != "" {
				s += ":" + k
			}
			types = append(types, s)
		}
	}
	return types
}

// jpegXMPAt lists the indexes of the JPEG header segments that hold XMP.
func jpegXMPAt(t *testing.T, data []byte) []int {
	t.Helper()
	segs, _, err := jpegSegments(data)
	if err != nil {
		t.Fatal(err)
	}
	var at []int
	for i, s := range segs {
		if s.isXMP() {
			at = append(at, i)
		}
	}
	return at
}

// checkStructure asserts the one place of the one label: PNG: one iTXt
// "XML:com.adobe.xmp" right after IHDR, uncompressed, with a correct CRC;
// JPEG: one XMP APP1 right after SOI. And that Go's decoders still read the
// pixels.
func checkStructure(t *testing.T, format string, data []byte) {
	t.Helper()
	switch format {
	case "png":
		types := pngChunkTypes(t, data)
		if len(types) < 2 || types[0] != "IHDR" || types[1] != "iTXt:"+xmpKeyword {
			t.Fatalf("chunks %v, want IHDR then iTXt:%s", types, xmpKeyword)
		}
		n := 0
		for _, ty := range types {
			if strings.HasSuffix(ty, ":"+xmpKeyword) || strings.HasSuffix(ty, ":"+legacyKeyword) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("chunks %v: %d label chunks, want 1", types, n)
		}
		chunks, _, _ := pngChunks(data)
		c := chunks[1]
		if got, want := binary.BigEndian.Uint32(c.raw[len(c.raw)-4:]), crc32.ChecksumIEEE(c.raw[4:len(c.raw)-4]); got != want {
			t.Fatalf("iTXt CRC %08x, want %08x", got, want)
		}
		if flag := c.data[len(xmpKeyword)+1]; flag != 0 {
			t.Fatalf("iTXt compression flag %d, want 0", flag)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Fatalf("image/png cannot decode the labelled file: %v", err)
		}
	case "jpeg":
		if at := jpegXMPAt(t, data); len(at) != 1 || at[0] != 0 {
			t.Fatalf("XMP segments at %v, want exactly one, first after SOI", at)
		}
		if !bytes.HasPrefix(data[2:], []byte{0xFF, markerAPP1}) || !bytes.HasPrefix(data[6:], []byte(xmpHeader)) {
			t.Fatalf("the file does not start SOI, APP1 %q: % x", xmpHeader, data[:min(len(data), 40)])
		}
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			t.Fatalf("image/jpeg cannot decode the labelled file: %v", err)
		}
	}
}

func TestEmbedRoundTrip(t *testing.T) {
	for format, data := range files(t) {
		t.Run(format, func(t *testing.T) {
			hash, err := ContentHash(data)
			if err != nil {
				t.Fatal(err)
			}
			l := Produced("WPD0000001", "wp_0b7c1f2e", hash)
			out, err := Embed(data, l)
			if err != nil {
				t.Fatal(err)
			}
			checkStructure(t, format, out)
			got, ok, err := Read(out)
			if err != nil || !ok {
				t.Fatalf("Read = %v, %v", ok, err)
			}
			if got != l {
				t.Fatalf("Read = %+v, want %+v", got, l)
			}
			after, err := ContentHash(out)
			if err != nil {
				t.Fatal(err)
			}
			if after != hash {
				t.Fatalf("ContentHash after labelling = %s, before = %s: a reader could not verify ReservedCode1", after, hash)
			}
			if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
				t.Fatalf("ContentHash = %q, want 64 lower-case hex digits", hash)
			}
		})
	}
}

func TestEmbedValueIsThePlainJSONObject(t *testing.T) {
	l := ourLabel()
	l.ReservedCode2 = `a"b\c<d>&e`
	out, err := Embed(files(t)["png"], l)
	if err != nil {
		t.Fatal(err)
	}
	want := `<TC260:AIGC>{"Label":"1","ContentProducer":"WPD0000001","ProduceID":"wp_0b7c1f2e",` +
		`"ReservedCode1":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",` +
		`"ContentPropagator":"WPD0000001","PropagateID":"wp_0b7c1f2e","ReservedCode2":"a\"b\\c&lt;d&gt;&amp;e"}</TC260:AIGC>`
	if !bytes.Contains(out, []byte(want)) {
		t.Fatalf("the packet does not hold %s", want)
	}
	if !bytes.Contains(out, []byte(`xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"`)) {
		t.Fatal("the packet does not declare the TC260 namespace")
	}
	got, _, err := Read(out)
	if err != nil || got != l {
		t.Fatalf("Read = %+v, %v; want %+v", got, err, l)
	}
}

func TestContentHashChangesWithThePixels(t *testing.T) {
	a, err := ContentHash(encodePNG(t, gradient(64, 48)))
	if err != nil {
		t.Fatal(err)
	}
	img := gradient(64, 48)
	img.SetNRGBA(3, 3, color.NRGBA{0, 0, 0, 255})
	b, err := ContentHash(encodePNG(t, img))
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two different pictures have the same content hash")
	}
}

// withPNGText inserts a text chunk right after IHDR.
func withPNGText(t *testing.T, data []byte, typ, keyword string, body []byte) []byte {
	t.Helper()
	chunks, tail, err := pngChunks(data)
	if err != nil {
		t.Fatal(err)
	}
	var payload []byte
	payload = append(payload, keyword...)
	payload = append(payload, 0)
	switch typ {
	case "tEXt":
		payload = append(payload, body...)
	case "zTXt":
		payload = append(payload, 0)
		payload = append(payload, deflate(t, body)...)
	case "iTXt":
		payload = append(payload, 0, 0, 0, 0)
		payload = append(payload, body...)
	case "iTXt-z":
		typ = "iTXt"
		payload = append(payload, 1, 0)
		payload = append(payload, "zh"...)
		payload = append(payload, 0, 0)
		payload = append(payload, deflate(t, body)...)
	}
	out := append([]byte{}, pngSignature...)
	out = append(out, chunks[0].raw...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(payload)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, payload...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	for _, c := range chunks[1:] {
		out = append(out, c.raw...)
	}
	return append(out, tail...)
}

func deflate(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withJPEGXMP inserts an APP1 XMP segment after the first header segment,
// as writers that put JFIF or Exif first do.
func withJPEGXMP(t *testing.T, data []byte, header string, pkt []byte) []byte {
	t.Helper()
	segs, tail, err := jpegSegments(data)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{0xFF, markerSOI}
	for i, s := range segs {
		out = append(out, s.raw...)
		if i == 0 {
			n := 2 + len(header) + len(pkt)
			out = append(out, 0xFF, markerAPP1, byte(n>>8), byte(n))
			out = append(out, header...)
			out = append(out, pkt...)
		}
	}
	return append(out, tail...)
}

// withJFIF puts a JFIF APP0 segment right after SOI.
func withJFIF(data []byte) []byte {
	app0 := []byte{0xFF, markerAPP0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	out := []byte{0xFF, markerSOI}
	out = append(out, app0...)
	return append(out, data[2:]...)
}

func elementPacket(value string) []byte {
	return []byte(`<?xpacket begin="` + "\uFEFF" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/">
<TC260:AIGC>` + value + `</TC260:AIGC>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>`)
}

// attributePacket is the form exempi (the practice guide's sample) writes,
// under another prefix to show that the namespace, not the prefix, counts.
func attributePacket(value string) []byte {
	return []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Exempi + XMP Core 5.1.2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:aigc="http://www.tc260.org.cn/ns/AIGC/1.0/"
    aigc:AIGC="` + strings.ReplaceAll(value, `"`, "&quot;") + `"/>
 </rdf:RDF>
</x:xmpmeta>`)
}

const (
	doubaoJSON  = `{"Label":"1","ContentProducer":"001191110108MA01KP2T5U00000","ProduceID":"20261101-7f3a9c","ReservedCode1":"e862483430d978cbf828b8b24296ef9328d843a0","ContentPropagator":"001191110108MA01KP2T5U00000","PropagateID":"20261101-7f3a9c","ReservedCode2":""}`
	wrappedJSON = `{"AIGC":` + doubaoJSON + `}`
	spacedJSON  = `{"Label": "1", "ContentProducer": "001191110108MA01KP2T5U00000", "ProduceID": "20261101-7f3a9c", "ReservedCode1": "e862483430d978cbf828b8b24296ef9328d843a0", "ContentPropagator": "001191110108MA01KP2T5U00000", "PropagateID": "20261101-7f3a9c", "ReservedCode2": ""}`
)

func TestReadAcceptsTheFormsInUse(t *testing.T) {
	f := files(t)
	otherXMP := []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Photoshop"/></rdf:RDF></x:xmpmeta>`)
	tests := []struct {
		name string
		data []byte
		want Label
		ok   bool
	}{
		{"png without metadata", f["png"], Label{}, false},
		{"jpeg without metadata", f["jpeg"], Label{}, false},
		{"png with unrelated XMP", withPNGText(t, f["png"], "iTXt", xmpKeyword, otherXMP), Label{}, false},
		{"png element, plain JSON", withPNGText(t, f["png"], "iTXt", xmpKeyword, elementPacket(doubaoJSON)), doubao, true},
		{"png element, wrapped JSON", withPNGText(t, f["png"], "iTXt", xmpKeyword, elementPacket(wrappedJSON)), doubao, true},
		{"png element, JSON with spaces", withPNGText(t, f["png"], "iTXt", xmpKeyword, elementPacket(spacedJSON)), doubao, true},
		{"png element, quotes as entities", withPNGText(t, f["png"], "iTXt", xmpKeyword, elementPacket(strings.ReplaceAll(doubaoJSON, `"`, "&quot;"))), doubao, true},
		{"png attribute, plain JSON", withPNGText(t, f["png"], "iTXt", xmpKeyword, attributePacket(doubaoJSON)), doubao, true},
		{"png attribute, wrapped JSON", withPNGText(t, f["png"], "iTXt", xmpKeyword, attributePacket(wrappedJSON)), doubao, true},
		{"png compressed iTXt", withPNGText(t, f["png"], "iTXt-z", xmpKeyword, elementPacket(doubaoJSON)), doubao, true},
		{"png XMP in tEXt", withPNGText(t, f["png"], "tEXt", xmpKeyword, attributePacket(doubaoJSON)), doubao, true},
		{"png legacy AIGC tEXt", withPNGText(t, f["png"], "tEXt", legacyKeyword, []byte(doubaoJSON)), doubao, true},
		{"png legacy AIGC zTXt", withPNGText(t, f["png"], "zTXt", legacyKeyword, []byte(wrappedJSON)), doubao, true},
		{"png legacy and XMP agreeing", withPNGText(t, withPNGText(t, f["png"], "tEXt", legacyKeyword, []byte(doubaoJSON)), "iTXt", xmpKeyword, elementPacket(wrappedJSON)), doubao, true},
		{"jpeg element", withJPEGXMP(t, f["jpeg"], xmpHeader, elementPacket(doubaoJSON)), doubao, true},
		{"jpeg attribute, wrapped", withJPEGXMP(t, f["jpeg"], xmpHeader, attributePacket(wrappedJSON)), doubao, true},
		{"jpeg with JFIF first", withJFIF(withJPEGXMP(t, f["jpeg"], xmpHeader, elementPacket(doubaoJSON))), doubao, true},
		{"jpeg extended XMP only", withJPEGXMP(t, f["jpeg"], extendedHeader, elementPacket(doubaoJSON)), Label{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := Read(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || got != tc.want {
				t.Fatalf("Read = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestReadRefusesWhatItCannotRead(t *testing.T) {
	f := files(t)
	other := strings.Replace(doubaoJSON, "20261101-7f3a9c", "another", 1)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrUnsupported},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), ErrUnsupported},
		{"png cut short", f["png"][:40], ErrMalformed},
		{"jpeg cut short", f["jpeg"][:30], ErrMalformed},
		{"png without IHDR first", append(append([]byte{}, pngSignature...), f["png"][33:]...), ErrMalformed},
		{"broken XML", withPNGText(t, f["png"], "iTXt", xmpKeyword, []byte(`<x:xmpmeta><rdf:RDF>`)), ErrMalformed},
		{"value not JSON", withPNGText(t, f["png"], "iTXt", xmpKeyword, elementPacket("AI generated")), ErrMalformed},
		{"JSON without Label", withPNGText(t, f["png"], "iTXt", xmpKeyword, elementPacket(`{"ContentProducer":"x"}`)), ErrMalformed},
		{"Label a number", withPNGText(t, f["png"], "iTXt", xmpKeyword, elementPacket(`{"Label":1}`)), ErrMalformed},
		{"two labels that differ", withPNGText(t, withPNGText(t, f["png"], "tEXt", legacyKeyword, []byte(other)), "iTXt", xmpKeyword, elementPacket(doubaoJSON)), ErrMalformed},
		{"zip bomb", withPNGText(t, f["png"], "zTXt", legacyKeyword, bytes.Repeat([]byte{' '}, maxPacket+10)), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Read(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEmbedReplacesEveryExistingLabel(t *testing.T) {
	f := files(t)
	ours := ourLabel()
	labelled := func(t *testing.T, format string) []byte {
		t.Helper()
		first := ours
		first.PropagateID = "an-earlier-id"
		out, err := Embed(f[format], first)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// An earlier label of ours, as another writer would have put it.
	earlierJSON := `{"Label":"1","ContentProducer":"WPD0000001","ProduceID":"wp_0b7c1f2e","ReservedCode1":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`
	otherXMP := attributePacket(earlierJSON)
	tests := []struct {
		name   string
		format string
		data   []byte
	}{
		{"png labelled by us before", "png", labelled(t, "png")},
		{"jpeg labelled by us before", "jpeg", labelled(t, "jpeg")},
		{"png with another XMP writer's packet", "png", withPNGText(t, f["png"], "iTXt", xmpKeyword, otherXMP)},
		{"png with XMP in tEXt and a legacy chunk", "png", withPNGText(t, withPNGText(t, f["png"], "tEXt", legacyKeyword, []byte(earlierJSON)), "tEXt", xmpKeyword, otherXMP)},
		{"png with two XMP chunks", "png", withPNGText(t, withPNGText(t, f["png"], "iTXt", xmpKeyword, otherXMP), "zTXt", xmpKeyword, otherXMP)},
		{"jpeg with an XMP segment after another", "jpeg", withJPEGXMP(t, f["jpeg"], xmpHeader, otherXMP)},
		{"jpeg with main and extended XMP", "jpeg", withJPEGXMP(t, withJPEGXMP(t, f["jpeg"], extendedHeader, []byte("GUIDxxxx")), xmpHeader, otherXMP)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := ContentHash(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Embed(tc.data, ours)
			if err != nil {
				t.Fatal(err)
			}
			checkStructure(t, tc.format, out)
			if n := bytes.Count(out, []byte("TC260:AIGC")); n != 2 { // the opening and the closing tag
				t.Fatalf("TC260:AIGC occurs %d times, want one property (2 tags)", n)
			}
			got, ok, err := Read(out)
			if err != nil || !ok || got != ours {
				t.Fatalf("Read = %+v, %v, %v; want %+v", got, ok, err, ours)
			}
			after, err := ContentHash(out)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatal("Embed changed more than the XMP: the content hash moved")
			}
		})
	}
}

func TestEmbedAfterJFIFKeepsAPP0First(t *testing.T) {
	data := withJFIF(files(t)["jpeg"])
	out, err := Embed(data, ourLabel())
	if err != nil {
		t.Fatal(err)
	}
	segs, _, err := jpegSegments(out)
	if err != nil {
		t.Fatal(err)
	}
	if segs[0].marker != markerAPP0 || !segs[1].isXMP() {
		t.Fatalf("segments start 0x%02X, 0x%02X; want APP0 then the XMP APP1", segs[0].marker, segs[1].marker)
	}
	if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
		t.Fatal(err)
	}
}

func TestPropagationKeepsTheUpstreamProducer(t *testing.T) {
	f := files(t)
	for _, format := range []string{"png", "jpeg"} {
		t.Run(format, func(t *testing.T) {
			upstreamFile, err := Embed(f[format], doubao)
			if err != nil {
				t.Fatal(err)
			}
			upstream, ok, err := Read(upstreamFile)
			if err != nil || !ok {
				t.Fatalf("Read = %v, %v", ok, err)
			}
			if _, err := Embed(upstreamFile, ourLabel()); !errors.Is(err, ErrWouldAlter) {
				t.Fatalf("Embed over another producer's label: error %v, want ErrWouldAlter", err)
			}
			hash, err := ContentHash(upstreamFile)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Embed(upstreamFile, Propagated(upstream, "WPD0000001", "wp_0b7c1f2e", hash))
			if err != nil {
				t.Fatal(err)
			}
			checkStructure(t, format, out)
			got, _, err := Read(out)
			if err != nil {
				t.Fatal(err)
			}
			want := Label{
				Label:             doubao.Label,
				ContentProducer:   doubao.ContentProducer,
				ProduceID:         doubao.ProduceID,
				ReservedCode1:     doubao.ReservedCode1,
				ContentPropagator: "WPD0000001",
				PropagateID:       "wp_0b7c1f2e",
				ReservedCode2:     hash,
			}
			if got != want {
				t.Fatalf("Read = %+v, want %+v", got, want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	withProducer := func(code string) Label {
		l := ourLabel()
		l.ContentProducer = code
		return l
	}
	tests := []struct {
		name  string
		label Label
		ok    bool
	}{
		{"ours", ourLabel(), true},
		{"possibly", Label{Label: Possibly, ContentProducer: "X"}, true},
		{"suspected", Label{Label: Suspected, ContentProducer: "X"}, true},
		{"quote, backslash and angle brackets", withProducer(`a"b\c<d>`), true},
		{"every printable byte", withProducer("!#$%&'()*+,-./0123456789:;=?@AZ[]^_`az{|}~"), true},
		{"producer with a space", withProducer("WPD 0000001"), false},
		{"producer in Chinese", withProducer("壁纸科技"), false},
		{"producer with a tab", withProducer("WPD\t1"), false},
		{"producer with a newline", withProducer("WPD\n1"), false},
		{"producer with DEL", withProducer("WPD\x7f"), false},
		{"producer with a full-width letter", withProducer("ＷPD"), false},
		{"no producer", withProducer(""), false},
		{"label 0", Label{Label: "0", ContentProducer: "X"}, false},
		{"label empty", Label{ContentProducer: "X"}, false},
		{"label as a word", Label{Label: "yes", ContentProducer: "X"}, false},
		{"id with a space", Label{Label: Generated, ContentProducer: "X", ProduceID: "a b"}, false},
		{"reserved code in Chinese", Label{Label: Generated, ContentProducer: "X", ReservedCode2: "人"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.label.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidLabel) {
				t.Fatalf("Validate error %v is not ErrInvalidLabel", err)
			}
			if _, err := Embed(files(t)["png"], tc.label); tc.ok != (err == nil) {
				t.Fatalf("Embed error = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestValidateCode(t *testing.T) {
	tests := []struct {
		code string
		want string // a part of the error, or "" for none
	}{
		{"WPD0000001", ""},
		{"91110108MA01KP2T5U", ""},
		{"", "empty"},
		{"WPD 1", "space"},
		{"壁纸", "outside printable ASCII"},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			err := ValidateCode(tc.code)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("ValidateCode(%q) = %v", tc.code, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("ValidateCode(%q) = %v, want an error saying %q", tc.code, err, tc.want)
			}
		})
	}
}

func TestEmbedRefusesOtherFiles(t *testing.T) {
	tests := map[string][]byte{
		"empty":      nil,
		"gif":        []byte("GIF89a"),
		"webp":       []byte("RIFF\x1a\x00\x00\x00WEBPVP8L"),
		"truncated":  files(t)["png"][:20],
		"broken xmp": withPNGText(t, files(t)["png"], "iTXt", xmpKeyword, []byte("<not xml")),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if out, err := Embed(data, ourLabel()); err == nil {
				t.Fatalf("Embed = %d bytes, want an error", len(out))
			}
		})
	}
}

// TestLabelSurvivesThePipeline follows wallpaperd's path: an upstream file
// (labelled by its producer) is read for its label, decoded, scaled down,
// re-encoded as JPEG (which drops every metadata byte) and labelled again.
func TestLabelSurvivesThePipeline(t *testing.T) {
	upstreamFile, err := Embed(encodePNG(t, gradient(400, 300)), doubao)
	if err != nil {
		t.Fatal(err)
	}
	upstream, ok, err := Read(upstreamFile)
	if err != nil || !ok {
		t.Fatalf("Read = %v, %v", ok, err)
	}
	img, _, err := picture.Decode(upstreamFile, 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := picture.EncodeJPEG(picture.Thumbnail(img, 120), 80)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := Read(thumb); found {
		t.Fatal("the re-encoded file still carries a label: the test proves nothing")
	}
	hash, err := ContentHash(thumb)
	if err != nil {
		t.Fatal(err)
	}
	want := Propagated(upstream, "WPD0000001", "wp_0b7c1f2e", hash)
	out, err := Embed(thumb, want)
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, "jpeg", out)
	got, ok, err := Read(out)
	if err != nil || !ok || got != want {
		t.Fatalf("Read = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	decoded, format, err := picture.Decode(out, 1<<24)
	if err != nil || format != picture.FormatJPEG {
		t.Fatalf("picture.Decode = %s, %v", format, err)
	}
	if b := decoded.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
		t.Fatalf("decoded %v, want 160x120", b)
	}
}
