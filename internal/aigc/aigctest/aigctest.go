// Package aigctest reads AI-generated labels the way an outsider does:
// with Debian's exiftool (libimage-exiftool-perl), for tests that check
// our files against a reader we did not write.
package aigctest

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

// Exiftool returns the path of exiftool. Without it the test is skipped,
// unless REQUIRE_EXIFTOOL=1 asks for the outside check, as make test
// does; then it fails.
func Exiftool(t testing.TB) string {
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

// Run runs exiftool and returns its standard output.
func Run(t testing.TB, bin string, args ...string) []byte {
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

// Tags reads a file's TC260 tags and its structure check with exiftool:
// the JSON object of the file, keys grouped as "XMP-TC260:…", and
// "ExifTool:Validate".
func Tags(t testing.TB, bin, path string) map[string]any {
	t.Helper()
	out := Run(t, bin, "-j", "-G1", "-validate", "-XMP-TC260:all", path)
	var files []map[string]any
	if err := json.Unmarshal(out, &files); err != nil || len(files) != 1 {
		t.Fatalf("exiftool -j: %v\n%s", err, out)
	}
	return files[0]
}

// TagsOf writes data to a temporary file named name and reads its tags.
func TagsOf(t testing.TB, bin, name string, data []byte) map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return Tags(t, bin, path)
}

// TC260Value returns the one value exiftool read for the TC260 AIGC
// property (exiftool spells the tag "Aigc"; the case is its business);
// the test fails unless there is exactly one.
func TC260Value(t testing.TB, tags map[string]any) string {
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
