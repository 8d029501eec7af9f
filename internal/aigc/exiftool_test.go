package aigc

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exiftool returns the path of Debian's exiftool (libimage-exiftool-perl).
// Without it the test is skipped, unless REQUIRE_EXIFTOOL=1 asks for the
// outside check, as make test does; then it fails.
func exiftool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("exiftool")
	if err != nil {
		if os.Getenv("REQUIRE_EXIFTOOL") == "1" {
			t.Fatal("exiftool not found and REQUIRE_EXIFTOOL=1: apt-get install -y libimage-exiftool-perl")
		}
		t.Skip("exiftool not found (apt-get install -y libimage-exiftool-perl); REQUIRE_EXIFTOOL=1 makes this a failure")
	}
	return path
}

// runExiftool runs exiftool and returns its standard output.
func runExiftool(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exiftool %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// exiftoolTags reads a file's TC260 tags and its structure check with
// exiftool: the JSON object of the file, keys grouped as "XMP-TC260:…".
func exiftoolTags(t *testing.T, bin, path string) map[string]any {
	t.Helper()
	out := runExiftool(t, bin, "-j", "-G1", "-validate", "-XMP-TC260:all", path)
	var files []map[string]any
	if err := json.Unmarshal(out, &files); err != nil || len(files) != 1 {
		t.Fatalf("exiftool -j: %v\n%s", err, out)
	}
	return files[0]
}

// tc260Value returns the value exiftool read for the TC260 AIGC property
// (exiftool spells the tag "Aigc"; the case is its business).
func tc260Value(t *testing.T, tags map[string]any) string {
	t.Helper()
	var values []string
	for k, v := range tags {
		if strings.EqualFold(k, "XMP-TC260:AIGC") {
			s, ok := v.(string)
			if !ok {
				t.Fatalf("exiftool read %s = %#v, want a string", k, v)
			}
			values = append(values, s)
		}
	}
	if len(values) != 1 {
		t.Fatalf("exiftool found %d XMP-TC260:AIGC tags, want 1: %v", len(values), tags)
	}
	return values[0]
}

func TestExiftoolReadsOurLabel(t *testing.T) {
	bin := exiftool(t)
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
			tags := exiftoolTags(t, bin, path)
			if v := tags["ExifTool:Validate"]; v != "OK" {
				t.Errorf("exiftool -validate = %v, want OK", v)
			}
			value := tc260Value(t, tags)
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
	bin := exiftool(t)
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
			runExiftool(t, bin, "-config", config, "-XMP-TC260:AIGC="+wrappedJSON, "-o", dst, src)
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
			if err := json.Unmarshal([]byte(tc260Value(t, exiftoolTags(t, bin, path))), &got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("exiftool read %+v, want %+v", got, want)
			}
		})
	}
}
