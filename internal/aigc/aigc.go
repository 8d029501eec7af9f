// Package aigc owns the labels that mark a picture as AI-generated under
// China's labelling measures (人工智能生成合成内容标识办法) and the
// mandatory standard GB 45438-2025: the implicit label, a TC260 XMP property
// in the file's metadata (Annex E), and the visible label, the text "AI生成"
// drawn on the picture (§5.2).
//
// The implicit label is written by hand: no Go library writes it. What was
// checked, and where (November 2026):
//
//   - TC260's practice guide for file metadata labels (TC260-PG-20258A,
//     tc260.org.cn postDetail id=20250828165129), as quoted by OPN48/cntc260
//     (tc260.py, demo.py) and by a walk-through of the guide's Python sample
//     (neusoftware.top, 2025-09-05): XMP namespace
//     http://www.tc260.org.cn/ns/AIGC/1.0/, prefix TC260, one simple property
//     AIGC whose value is a JSON object of seven strings (Label "1" generated,
//     "2" possibly, "3" suspected; ContentProducer, ProduceID, ReservedCode1,
//     ContentPropagator, PropagateID, ReservedCode2). ReservedCode1 belongs to
//     the producer and ReservedCode2 to the propagator, each "for its own
//     protection of the content and the label's integrity"; the standard's
//     example there is a hex digest.
//   - uYoaiXiL/aigc_image_metadata (Dart), lib/src/xmp_codec.dart,
//     png_codec.dart, jpeg_codec.dart: one uncompressed iTXt chunk with the
//     keyword XML:com.adobe.xmp right after IHDR; one APP1 segment with the
//     header "http://ns.adobe.com/xap/1.0/\x00" right after SOI; every other
//     XMP container removed on writing. It reads the property both as an
//     element (<TC260:AIGC>…</TC260:AIGC>) and as an rdf:Description
//     attribute (TC260:AIGC="…"), and legacy PNG text chunks keyed "AIGC";
//     it writes the value wrapped as {"AIGC":{…}}, the form Annex E shows.
//   - The guide's sample (exempi) and Doubao's files carry the unwrapped
//     object, which is what Embed writes. Files in the wild use both property
//     forms (attribute: exempi, PicWish, Qwen; element: Doubao), and Doubao
//     PNGs have been seen with a raw-JSON "AIGC" tEXt chunk; Read accepts
//     all of them.
//
// The standard's own PDF was not reachable from here: Annex E and §5.2 are
// known through the sources above and the tc260.org.cn guide they quote.
// The visible label follows §5.2 as they state it: "AI" (or 人工智能) with
// 生成 (or 合成), at an edge or corner, text at least 5 % of the shortest
// side tall.
//
// Where this package differs, and why: the Dart library also refuses '"' and
// '\' in values; the brief for wallpaperd allows all printable ASCII except
// the space and escapes them in JSON. A JFIF APP0 segment that opens a JPEG
// stays first (JFIF requires it right after SOI); the label goes right after
// it. Go's encoder writes no APP0, so in wallpaperd's own files the label is
// right after SOI.
//
// A generation pipeline uses it in this order: Read the provider's file
// (before decoding, since re-encoding drops all metadata) for an upstream
// label; decode, DrawVisible, scale and encode; ContentHash the encoded
// file; build the label with Produced, or with Propagated when there was an
// upstream label; Embed it.
package aigc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Values of Label.Label, as Annex E defines them.
const (
	Generated = "1" // the content is AI-generated
	Possibly  = "2" // the content is possibly AI-generated
	Suspected = "3" // the content is suspected to be AI-generated
)

// Errors of this package. Match them with errors.Is; the returned errors
// carry the details.
var (
	// ErrInvalidLabel: a field of the label breaks the format rules.
	ErrInvalidLabel = errors.New("aigc: invalid label")
	// ErrUnsupported: the file is neither PNG nor JPEG.
	ErrUnsupported = errors.New("aigc: not a PNG or JPEG file")
	// ErrMalformed: the file's structure, its XMP packet or its label could
	// not be read. A label that cannot be read cannot be carried over, so
	// Embed refuses such a file rather than drop what it cannot see.
	ErrMalformed = errors.New("aigc: malformed file or label")
	// ErrWouldAlter: Embed was asked to replace a label whose producer fields
	// differ from the new label's. Art. 10 forbids altering another
	// producer's label: build the new one with Propagated.
	ErrWouldAlter = errors.New("aigc: the new label would alter the producer fields of the existing one")
)

// Label is the implicit label, the value of the XMP property TC260:AIGC.
// The field names are those of Annex E, in its order; the JSON keys are the
// same names.
type Label struct {
	Label             string `json:"Label"`             // Generated, Possibly or Suspected
	ContentProducer   string `json:"ContentProducer"`   // name or code of the service that generated the content
	ProduceID         string `json:"ProduceID"`         // the producer's unique id for the content
	ReservedCode1     string `json:"ReservedCode1"`     // the producer's integrity data
	ContentPropagator string `json:"ContentPropagator"` // name or code of the service that spreads it
	PropagateID       string `json:"PropagateID"`       // the propagator's unique id for the content
	ReservedCode2     string `json:"ReservedCode2"`     // the propagator's integrity data
}

// Produced returns the label of content this operator generated itself:
// it is both the producer and the propagator, under the same id. hash, from
// ContentHash, goes into ReservedCode1, the producer's field.
func Produced(operator, id, hash string) Label {
	return Label{
		Label:             Generated,
		ContentProducer:   operator,
		ProduceID:         id,
		ReservedCode1:     hash,
		ContentPropagator: operator,
		PropagateID:       id,
	}
}

// Propagated returns the label of content that arrived already labelled by
// its producer (an image API that labels its output, such as Doubao
// Seedream) and that this operator now spreads. The producer's fields
// (Label, ContentProducer, ProduceID, ReservedCode1) are kept exactly as they
// are, since Art. 10 forbids altering them; the propagator's fields become
// this operator's, and hash, from ContentHash, goes into ReservedCode2, the
// propagator's field.
func Propagated(upstream Label, operator, id, hash string) Label {
	l := upstream
	l.ContentPropagator = operator
	l.PropagateID = id
	l.ReservedCode2 = hash
	return l
}

// ValidateCode reports whether code can name a producer or propagator (the
// operator's code from configuration): non-empty, printable ASCII, no spaces.
func ValidateCode(code string) error {
	if code == "" {
		return fmt.Errorf("%w: the code is empty", ErrInvalidLabel)
	}
	return checkValue("code", code)
}

// Validate reports whether l can be written: Label is one of Generated,
// Possibly and Suspected, ContentProducer is set, and every field is
// printable ASCII without spaces (possibly empty). Quotes and backslashes
// are allowed; the JSON escapes them.
func (l Label) Validate() error {
	switch l.Label {
	case Generated, Possibly, Suspected:
	default:
		return fmt.Errorf("%w: Label is %q, want %q, %q or %q", ErrInvalidLabel, l.Label, Generated, Possibly, Suspected)
	}
	if l.ContentProducer == "" {
		return fmt.Errorf("%w: ContentProducer is empty", ErrInvalidLabel)
	}
	for _, f := range l.fields() {
		if err := checkValue(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

type field struct{ name, value string }

func (l Label) fields() []field {
	return []field{
		{"Label", l.Label},
		{"ContentProducer", l.ContentProducer},
		{"ProduceID", l.ProduceID},
		{"ReservedCode1", l.ReservedCode1},
		{"ContentPropagator", l.ContentPropagator},
		{"PropagateID", l.PropagateID},
		{"ReservedCode2", l.ReservedCode2},
	}
}

func checkValue(name, v string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ' ':
			return fmt.Errorf("%w: %s %q contains a space", ErrInvalidLabel, name, v)
		case c < 0x21 || c > 0x7e:
			return fmt.Errorf("%w: %s %q contains a byte outside printable ASCII (0x%02x at %d)", ErrInvalidLabel, name, v, c, i)
		}
	}
	return nil
}

// sameProducer reports whether b keeps a's producer fields.
func sameProducer(a, b Label) bool {
	return a.Label == b.Label && a.ContentProducer == b.ContentProducer &&
		a.ProduceID == b.ProduceID && a.ReservedCode1 == b.ReservedCode1
}

// marshal encodes l as the compact JSON object of Annex E, fields in its
// order. '<', '>' and '&' are left as they are: the XMP writer escapes them
// for XML, and a reader that only un-escapes XML then sees plain JSON.
func (l Label) marshal() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// A struct of strings always encodes.
	_ = enc.Encode(l)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// parseLabel decodes a TC260:AIGC value: the plain object, or the object
// wrapped as {"AIGC":{…}} (Annex E's example). Every field present must be
// a string and Label must be present; unknown keys are ignored.
func parseLabel(value []byte) (Label, error) {
	value = bytes.TrimSpace(bytes.TrimPrefix(value, []byte("\uFEFF")))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(value, &top); err != nil {
		return Label{}, fmt.Errorf("%w: the label is not a JSON object: %v", ErrMalformed, err)
	}
	if inner, ok := top["AIGC"]; ok {
		if _, plain := top["Label"]; !plain {
			value = inner
			top = nil
			if err := json.Unmarshal(value, &top); err != nil {
				return Label{}, fmt.Errorf("%w: the wrapped label is not a JSON object: %v", ErrMalformed, err)
			}
		}
	}
	if _, ok := top["Label"]; !ok {
		return Label{}, fmt.Errorf("%w: the label has no Label field", ErrMalformed)
	}
	var l Label
	if err := json.Unmarshal(value, &l); err != nil {
		return Label{}, fmt.Errorf("%w: a label field is not a string: %v", ErrMalformed, err)
	}
	return l, nil
}
