package aigc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

const (
	xmpKeyword    = "XML:com.adobe.xmp" // the PNG text keyword of an XMP packet
	legacyKeyword = "AIGC"              // a raw-JSON label some producers write instead
)

// pngChunk is one chunk of a PNG file: raw is the whole chunk (length, type,
// data, CRC) as it is in the file.
type pngChunk struct {
	typ  string
	data []byte
	raw  []byte
}

// pngChunks splits a PNG file into its chunks up to and including IEND;
// tail is whatever follows IEND. CRCs are not checked: chunks are copied as
// they are, and image/png checks them when the pixels are decoded.
func pngChunks(data []byte) (chunks []pngChunk, tail []byte, err error) {
	if !bytes.HasPrefix(data, pngSignature) {
		return nil, nil, ErrUnsupported
	}
	rest := data[len(pngSignature):]
	for {
		if len(rest) < 12 {
			return nil, nil, fmt.Errorf("%w: PNG ends inside a chunk header (no IEND)", ErrMalformed)
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-12) {
			return nil, nil, fmt.Errorf("%w: PNG chunk of %d bytes runs past the end of the file", ErrMalformed, n)
		}
		size := 12 + int(n)
		c := pngChunk{typ: string(rest[4:8]), data: rest[8 : 8+n], raw: rest[:size]}
		if len(chunks) == 0 && (c.typ != "IHDR" || n != 13) {
			return nil, nil, fmt.Errorf("%w: PNG does not start with a 13-byte IHDR chunk", ErrMalformed)
		}
		chunks = append(chunks, c)
		rest = rest[size:]
		if c.typ == "IEND" {
			return chunks, rest, nil
		}
	}
}

// textKeyword returns the keyword of a tEXt, zTXt or iTXt chunk, or "".
func (c pngChunk) textKeyword() string {
	switch c.typ {
	case "tEXt", "zTXt", "iTXt":
		if i := bytes.IndexByte(c.data, 0); i > 0 {
			return string(c.data[:i])
		}
	}
	return ""
}

// isLabelChunk reports whether c holds an XMP packet or a legacy label: the
// chunks Embed replaces and ContentHash leaves out.
func (c pngChunk) isLabelChunk() bool {
	k := c.textKeyword()
	return k == xmpKeyword || k == legacyKeyword
}

// text returns the text of a tEXt, zTXt or iTXt chunk, inflated if it is
// compressed, at most maxPacket bytes.
func (c pngChunk) text() ([]byte, error) {
	kw := len(c.textKeyword())
	rest := c.data[kw+1:]
	switch c.typ {
	case "tEXt":
		return rest, nil
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return nil, fmt.Errorf("%w: zTXt chunk with an unknown compression method", ErrMalformed)
		}
		return inflate(rest[1:])
	}
	// iTXt: compression flag, compression method, language tag\0,
	// translated keyword\0, text.
	if len(rest) < 2 {
		return nil, fmt.Errorf("%w: iTXt chunk too short", ErrMalformed)
	}
	compressed, method := rest[0], rest[1]
	rest = rest[2:]
	for range 2 {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return nil, fmt.Errorf("%w: iTXt chunk without its language tag or translated keyword", ErrMalformed)
		}
		rest = rest[i+1:]
	}
	switch {
	case compressed == 0:
		return rest, nil
	case compressed == 1 && method == 0:
		return inflate(rest)
	}
	return nil, fmt.Errorf("%w: iTXt chunk with an unknown compression", ErrMalformed)
}

func inflate(b []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed PNG text: %v", ErrMalformed, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxPacket+1))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed PNG text: %v", ErrMalformed, err)
	}
	if len(out) > maxPacket {
		return nil, fmt.Errorf("%w: compressed PNG text inflates past %d bytes", ErrMalformed, maxPacket)
	}
	return out, nil
}

// scanPNG collects the XMP packets and legacy labels of a PNG file.
func scanPNG(data []byte) (found, error) {
	chunks, _, err := pngChunks(data)
	if err != nil {
		return found{}, err
	}
	var f found
	for _, c := range chunks {
		k := c.textKeyword()
		if k != xmpKeyword && k != legacyKeyword {
			continue
		}
		t, err := c.text()
		if err != nil {
			return found{}, err
		}
		if len(t) > maxPacket {
			return found{}, fmt.Errorf("%w: PNG text %q of %d bytes", ErrMalformed, k, len(t))
		}
		if k == xmpKeyword {
			f.packets = append(f.packets, t)
		} else {
			f.values = append(f.values, string(t))
		}
	}
	return f, nil
}

// rewritePNG returns data without its XMP and legacy label chunks and, when
// pkt is not nil, with one uncompressed iTXt chunk holding pkt right after
// IHDR. Every other chunk, and anything after IEND, is kept byte for byte.
func rewritePNG(data, pkt []byte) ([]byte, error) {
	chunks, tail, err := pngChunks(data)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)+len(pkt)+64)
	out = append(out, pngSignature...)
	for i, c := range chunks {
		if c.isLabelChunk() {
			continue
		}
		out = append(out, c.raw...)
		if i == 0 && pkt != nil {
			out = appendITXt(out, xmpKeyword, pkt)
		}
	}
	return append(out, tail...), nil
}

// appendITXt appends an uncompressed iTXt chunk with no language tag and no
// translated keyword.
func appendITXt(out []byte, keyword string, text []byte) []byte {
	data := make([]byte, 0, len(keyword)+5+len(text))
	data = append(data, keyword...)
	data = append(data, 0, 0, 0, 0, 0) // keyword end, not compressed, method 0, empty language, empty translation
	data = append(data, text...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, "iTXt"...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}
