package aigc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// found is what a container holds: XMP packets, and label values stored
// outside XMP (PNG "AIGC" text chunks).
type found struct {
	packets [][]byte
	values  []string
}

type container struct {
	scan    func(data []byte) (found, error)
	rewrite func(data, pkt []byte) ([]byte, error)
}

func containerOf(data []byte) (container, error) {
	switch {
	case bytes.HasPrefix(data, pngSignature):
		return container{scanPNG, rewritePNG}, nil
	case len(data) >= 2 && data[0] == 0xFF && data[1] == markerSOI:
		return container{scanJPEG, rewriteJPEG}, nil
	}
	return container{}, ErrUnsupported
}

// Read returns the implicit label of a PNG or JPEG file, and whether it has
// one. It accepts the property as an element or as an attribute, the value
// as the plain object or wrapped as {"AIGC":{…}}, and a PNG's raw-JSON
// "AIGC" text chunk. Read does not validate the label: it returns what the
// file says. A file that carries several labels that differ is malformed:
// there is no telling which one holds.
func Read(data []byte) (Label, bool, error) {
	c, err := containerOf(data)
	if err != nil {
		return Label{}, false, err
	}
	f, err := c.scan(data)
	if err != nil {
		return Label{}, false, err
	}
	values := f.values
	for _, p := range f.packets {
		v, err := labelsInPacket(p)
		if err != nil {
			return Label{}, false, err
		}
		values = append(values, v...)
	}
	var (
		label Label
		ok    bool
	)
	for _, v := range values {
		l, err := parseLabel([]byte(v))
		if err != nil {
			return Label{}, false, err
		}
		if ok && l != label {
			return Label{}, false, fmt.Errorf("%w: the file carries %d labels that differ", ErrMalformed, len(values))
		}
		label, ok = l, true
	}
	return label, ok, nil
}

// Embed returns data, a PNG or JPEG file, carrying l as its one implicit
// label: PNG gets one uncompressed iTXt chunk "XML:com.adobe.xmp" right
// after IHDR, JPEG one APP1 XMP segment right after SOI. Any XMP packet the
// file had (and a PNG's legacy "AIGC" chunk) is replaced, never kept beside
// the new one; the other chunks and segments are kept byte for byte, so
// ContentHash is the same before and after.
//
// l must pass Validate. If the file already carries a label, l must keep its
// producer fields (see Propagated), or Embed returns ErrWouldAlter; a label
// Embed cannot read makes it fail rather than drop it.
func Embed(data []byte, l Label) ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	c, err := containerOf(data)
	if err != nil {
		return nil, err
	}
	old, ok, err := Read(data)
	if err != nil {
		return nil, fmt.Errorf("aigc: reading the existing label: %w", err)
	}
	if ok && !sameProducer(old, l) {
		return nil, fmt.Errorf("%w: existing Label %q, ContentProducer %q, ProduceID %q, ReservedCode1 %q",
			ErrWouldAlter, old.Label, old.ContentProducer, old.ProduceID, old.ReservedCode1)
	}
	return c.rewrite(data, packet(l))
}

// ContentHash returns the hex-encoded SHA-256 (64 lower-case hex digits) of
// a PNG or JPEG file without its XMP, the value Produced and Propagated
// record. Exactly what is hashed: the file's bytes in order, less
//
//   - PNG: every tEXt, zTXt and iTXt chunk (length, type, data and CRC)
//     whose keyword is "XML:com.adobe.xmp" or "AIGC";
//   - JPEG: every APP1 segment before the first SOS (marker, length and
//     payload) whose payload starts with "http://ns.adobe.com/xap/1.0/\x00"
//     or "http://ns.adobe.com/xmp/extension/\x00", and any 0xFF fill bytes
//     before the header's markers.
//
// Embed only removes and adds such chunks and segments, so the hash of a
// file is the same before and after labelling: compute it on the encoded
// file, put it in the label, embed; a reader strips the same parts and
// compares.
func ContentHash(data []byte) (string, error) {
	c, err := containerOf(data)
	if err != nil {
		return "", err
	}
	stripped, err := c.rewrite(data, nil)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(stripped)
	return hex.EncodeToString(sum[:]), nil
}
