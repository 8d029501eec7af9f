package aigc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespace is the XMP namespace of the TC260 label; its prefix is TC260 and
// its one property is AIGC.
const Namespace = "http://www.tc260.org.cn/ns/AIGC/1.0/"

// maxPacket bounds an XMP packet or a legacy label this package reads (a
// JPEG segment holds at most 64 KiB; a PNG chunk, compressed or not, could
// claim gigabytes).
const maxPacket = 1 << 20

// packet returns the XMP packet holding l: one rdf:Description with the
// property in element form. The JSON needs no quote escaping inside an
// element, so readers that only un-escape &amp;, &lt; and &gt; (or nothing)
// see it as it is.
func packet(l Label) []byte {
	var b bytes.Buffer
	b.WriteString("<?xpacket begin=\"\uFEFF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n")
	b.WriteString(`<x:xmpmeta xmlns:x="adobe:ns:meta/">` + "\n")
	b.WriteString(` <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` + "\n")
	b.WriteString(`  <rdf:Description rdf:about="" xmlns:TC260="` + Namespace + `">` + "\n")
	b.WriteString(`   <TC260:AIGC>`)
	escapeText(&b, l.marshal())
	b.WriteString("</TC260:AIGC>\n")
	b.WriteString("  </rdf:Description>\n")
	b.WriteString(" </rdf:RDF>\n")
	b.WriteString("</x:xmpmeta>\n")
	b.WriteString(`<?xpacket end="w"?>`)
	return b.Bytes()
}

func escapeText(b *bytes.Buffer, s []byte) {
	for _, c := range s {
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
}

// labelsInPacket returns the values of every TC260:AIGC property in an XMP
// packet, in element form (<TC260:AIGC>value</TC260:AIGC>) or attribute form
// (<rdf:Description TC260:AIGC="value"/>), matched by namespace URI, not by
// prefix. A packet that is not well-formed XML is an error.
func labelsInPacket(p []byte) ([]string, error) {
	dec := xml.NewDecoder(bytes.NewReader(p))
	var values []string
	var text *strings.Builder // set while inside a TC260:AIGC element
	depth := 0                // nesting inside that element
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: the XMP packet is not well-formed XML: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			for _, a := range t.Attr {
				if a.Name.Space == Namespace && a.Name.Local == "AIGC" {
					values = append(values, a.Value)
				}
			}
			switch {
			case text != nil:
				depth++
			case t.Name.Space == Namespace && t.Name.Local == "AIGC":
				text = new(strings.Builder)
			}
		case xml.EndElement:
			if text == nil {
				continue
			}
			if depth > 0 {
				depth--
				continue
			}
			values = append(values, strings.TrimSpace(text.String()))
			text = nil
		case xml.CharData:
			if text != nil {
				text.Write(t)
			}
		}
	}
	return values, nil
}
