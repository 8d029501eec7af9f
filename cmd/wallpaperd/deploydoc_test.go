package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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
