package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/config"
)

// TestDeployDocListsEverySetting: the production checklist in
// docs/deploy.md names every environment variable config reads, so a new
// setting cannot ship without a word on its production value.
func TestDeployDocListsEverySetting(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := envVars(reflect.TypeFor[config.Config]())
	if len(vars) < 20 {
		t.Fatalf("found only %d settings in config.Config: %v", len(vars), vars)
	}
	for _, v := range vars {
		if !strings.Contains(string(doc), "`"+v+"`") {
			t.Errorf("docs/deploy.md does not mention `%s`", v)
		}
	}
}

// envVars collects the env tags of a config struct, nested ones included.
func envVars(typ reflect.Type) []string {
	var vars []string
	for f := range typ.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" && name != "-" {
			vars = append(vars, name)
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == typ.PkgPath() {
			vars = append(vars, envVars(f.Type)...)
		}
	}
	return vars
}

// TestSystemdUnitVerifies runs systemd-analyze verify on
// deploy/wallpaperd.service when systemd is installed. The binary is not
// installed here, so ExecStart points at /bin/true for the check.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile("../../deploy/wallpaperd.service")
	if err != nil {
		t.Fatal(err)
	}
	const execStart = "ExecStart=/usr/local/bin/wallpaperd serve"
	if !strings.Contains(string(unit), execStart) {
		t.Fatalf("the unit no longer has %q; update the test", execStart)
	}
	path := filepath.Join(t.TempDir(), "wallpaperd.service")
	writeTestFile(t, path, strings.Replace(string(unit), execStart, "ExecStart=/bin/true", 1))
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdUnitBoundsMemory: the unit caps the service's memory
// (MemoryMax=) and tells Go's collector a lower soft limit (GOMEMLIMIT),
// so that a burst of image decoding is collected, not killed.
func TestSystemdUnitBoundsMemory(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/wallpaperd.service")
	if err != nil {
		t.Fatal(err)
	}
	var memoryMax, goMemLimit string
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, "MemoryMax="); ok {
			memoryMax = v
		}
		if v, ok := strings.CutPrefix(line, "Environment=GOMEMLIMIT="); ok {
			goMemLimit = v
		}
	}
	maxBytes, ok := unitBytes(memoryMax, map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30})
	if !ok {
		t.Fatalf("MemoryMax=%q: want a size such as 1G", memoryMax)
	}
	limit, ok := unitBytes(goMemLimit, map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30})
	if !ok {
		t.Fatalf("GOMEMLIMIT=%q: want a size such as 768MiB", goMemLimit)
	}
	if limit >= maxBytes*9/10 {
		t.Errorf("GOMEMLIMIT %s is not well below MemoryMax %s", goMemLimit, memoryMax)
	}
	// Two avatars (72 MiB each) and four generations must fit under it.
	if limit < 512<<20 {
		t.Errorf("GOMEMLIMIT %s leaves too little for the images the service is allowed at once", goMemLimit)
	}
}

// unitBytes parses "1G" or "768MiB" with the given suffixes.
func unitBytes(s string, suffixes map[string]int64) (int64, bool) {
	for suffix, mult := range suffixes {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * mult, err == nil && v > 0
		}
	}
	return 0, false
}
