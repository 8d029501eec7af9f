package aigc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/aigc/aigctest"
)

func TestExiftoolReadsOurLabel(t *testing.T) {
	bin := aigctest.Exiftool(t)
	for format, data := range files(t) {
		t.Run(format, func(t *testing.T) {
			want := ourLabel()
			want.ReservedCode2 = `q"b\s<&>`
			out, err := Embed(data, want)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "labelled."+format)
			if err := os.WriteFile(path, out, 0o600); err != nil {
				t.Fatal(err)
			}
			tags := aigctest.Tags(t, bin, path)
			if v := tags["ExifTool:Validate"]; v != "OK" {
				t.Errorf("exiftool -validate = %v, want OK", v)
			}
			value := aigctest.TC260Value(t, tags)
			var got Label
			if err := json.Unmarshal([]byte(value), &got); err != nil {
				t.Fatalf("exiftool's value is not JSON: %v\n%s", err, value)
			}
			if got != want {
				t.Fatalf("exiftool read %+v, want %+v", got, want)
			}
		})
	}
}

// TestLabelWrittenByExiftool has an outside writer (exiftool, taught the
// TC260 namespace by testdata/tc260.config) label a file, in its own layout;
// Read must see that label and Embed must leave exactly one.
func TestLabelWrittenByExiftool(t *testing.T) {
	bin := aigctest.Exiftool(t)
	config, err := filepath.Abs("testdata/tc260.config")
	if err != nil {
		t.Fatal(err)
	}
	for format, data := range files(t) {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "plain."+format)
			dst := filepath.Join(dir, "upstream."+format)
			if err := os.WriteFile(src, data, 0o600); err != nil {
				t.Fatal(err)
			}
			aigctest.Run(t, bin, "-config", config, "-XMP-TC260:AIGC="+wrappedJSON, "-o", dst, src)
			upstreamFile, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			upstream, ok, err := Read(upstreamFile)
			if err != nil || !ok || upstream != doubao {
				t.Fatalf("Read = %+v, %v, %v; want %+v", upstream, ok, err, doubao)
			}
			hash, err := ContentHash(upstreamFile)
			if err != nil {
				t.Fatal(err)
			}
			want := Propagated(upstream, "WPD0000001", "wp_0b7c1f2e", hash)
			out, err := Embed(upstreamFile, want)
			if err != nil {
				t.Fatal(err)
			}
			checkStructure(t, format, out)
			path := filepath.Join(dir, "ours."+format)
			if err := os.WriteFile(path, out, 0o600); err != nil {
				t.Fatal(err)
			}
			var got Label
			if err := json.Unmarshal([]byte(aigctest.TC260Value(t, aigctest.Tags(t, bin, path))), &got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("exiftool read %+v, want %+v", got, want)
			}
		})
	}
}
