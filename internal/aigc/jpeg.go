package aigc

import (
	"bytes"
	"fmt"
)

const (
	xmpHeader      = "http://ns.adobe.com/xap/1.0/\x00"       // APP1 payload prefix of the main XMP packet
	extendedHeader = "http://ns.adobe.com/xmp/extension/\x00" // APP1 payload prefix of extended XMP parts
	maxSegment     = 0xFFFF - 2                               // payload bytes a JPEG segment can hold
)

const (
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
	markerAPP0 = 0xE0
	markerAPP1 = 0xE1
)

// jpegSegment is one marker segment before the first scan: raw is the whole
// segment (0xFF, marker, length, payload) as it is in the file.
type jpegSegment struct {
	marker  byte
	payload []byte
	raw     []byte
}

// isXMP reports whether s holds an XMP packet (main or extended): the
// segments Embed replaces and ContentHash leaves out.
func (s jpegSegment) isXMP() bool {
	return s.marker == markerAPP1 &&
		(bytes.HasPrefix(s.payload, []byte(xmpHeader)) || bytes.HasPrefix(s.payload, []byte(extendedHeader)))
}

// jpegSegments splits a JPEG file's header (everything before the first
// SOS) into segments; tail is the rest from SOS (or EOI) on, which holds no
// metadata a writer places there and is kept as it is.
func jpegSegments(data []byte) (segs []jpegSegment, tail []byte, err error) {
	if len(data) < 3 || data[0] != 0xFF || data[1] != markerSOI || data[2] != 0xFF {
		return nil, nil, ErrUnsupported
	}
	i := 2
	for {
		if i >= len(data) || data[i] != 0xFF {
			return nil, nil, fmt.Errorf("%w: JPEG marker expected at byte %d", ErrMalformed, i)
		}
		// Any number of 0xFF fill bytes may precede a marker.
		for i+1 < len(data) && data[i+1] == 0xFF {
			i++
		}
		if i+1 >= len(data) {
			return nil, nil, fmt.Errorf("%w: JPEG ends inside a marker", ErrMalformed)
		}
		m := data[i+1]
		switch {
		case m == markerSOS || m == markerEOI:
			return segs, data[i:], nil
		case m == 0x00 || m == markerSOI:
			return nil, nil, fmt.Errorf("%w: JPEG marker 0x%02X out of place at byte %d", ErrMalformed, m, i)
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			// Standalone markers: no length.
			segs = append(segs, jpegSegment{marker: m, raw: data[i : i+2]})
			i += 2
			continue
		}
		if i+4 > len(data) {
			return nil, nil, fmt.Errorf("%w: JPEG ends inside a segment length", ErrMalformed)
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if n < 2 || i+2+n > len(data) {
			return nil, nil, fmt.Errorf("%w: JPEG segment 0x%02X of length %d at byte %d runs past the end", ErrMalformed, m, n, i)
		}
		segs = append(segs, jpegSegment{marker: m, payload: data[i+4 : i+2+n], raw: data[i : i+2+n]})
		i += 2 + n
	}
}

// scanJPEG collects the main XMP packets of a JPEG file.
func scanJPEG(data []byte) (found, error) {
	segs, _, err := jpegSegments(data)
	if err != nil {
		return found{}, err
	}
	var f found
	for _, s := range segs {
		if s.marker == markerAPP1 && bytes.HasPrefix(s.payload, []byte(xmpHeader)) {
			f.packets = append(f.packets, s.payload[len(xmpHeader):])
		}
	}
	return f, nil
}

// rewriteJPEG returns data without its XMP segments and, when pkt is not
// nil, with one APP1 segment holding pkt right after SOI (after a leading
// JFIF APP0, which must stay first). Every other byte is kept as it is.
func rewriteJPEG(data, pkt []byte) ([]byte, error) {
	segs, tail, err := jpegSegments(data)
	if err != nil {
		return nil, err
	}
	if len(xmpHeader)+len(pkt) > maxSegment {
		return nil, fmt.Errorf("%w: the XMP packet of %d bytes does not fit in a JPEG segment", ErrInvalidLabel, len(pkt))
	}
	out := make([]byte, 0, len(data)+len(xmpHeader)+len(pkt)+4)
	out = append(out, 0xFF, markerSOI)
	placed := pkt == nil
	for _, s := range segs {
		if !placed && s.marker != markerAPP0 {
			out = appendAPP1(out, pkt)
			placed = true
		}
		if !s.isXMP() {
			out = append(out, s.raw...)
		}
	}
	if !placed {
		out = appendAPP1(out, pkt)
	}
	return append(out, tail...), nil
}

func appendAPP1(out, pkt []byte) []byte {
	n := 2 + len(xmpHeader) + len(pkt)
	out = append(out, 0xFF, markerAPP1, byte(n>>8), byte(n))
	out = append(out, xmpHeader...)
	return append(out, pkt...)
}
