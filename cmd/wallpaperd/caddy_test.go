package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
	"github.com/wallpaperd/wallpaperd/internal/tlscert/tlscerttest"
)

const caddySite = "../../deploy/Caddyfile"

// TestCaddy runs deploy/Caddyfile in front of a running wallpaperd, like
// TestNginx. Caddy is optional: the test is skipped without it unless
// REQUIRE_CADDY=1 (Debian: apt-get install caddy).
func TestCaddy(t *testing.T) {
	caddy := testenv.Program(t, "caddy", "REQUIRE_CADDY")
	wpd := apptest.Start(t, proxiedEnv())
	pair := tlscerttest.Write(t, t.TempDir(), 1)
	https, plain := startCaddy(t, caddy, wpd.Addr, pair)
	checkThroughProxy(t, proxied{
		wpd: wpd, pair: pair, https: https, plain: plain,
		// Caddy's automatic redirect keeps the method (308) and leaves out
		// the port when it is the https_port.
		redirectStatus: http.StatusPermanentRedirect, redirectBase: "https://127.0.0.1",
	})
}

// startCaddy runs caddy with deploy/Caddyfile, changed only where a test
// must differ from a server:
//
//   - global options: no admin endpoint, loopback ports, no trust-store
//     changes;
//   - the site address api.example.com becomes https://127.0.0.1:PORT with
//     the test's certificate instead of one from ACME;
//   - the upstream 127.0.0.1:8080 becomes wallpaperd's address;
//   - the log file goes to a temp dir.
func startCaddy(t *testing.T, caddy, upstream string, pair tlscerttest.Pair) (httpsURL, plainURL string) {
	t.Helper()
	dir := t.TempDir()
	site, err := os.ReadFile(caddySite)
	if err != nil {
		t.Fatal(err)
	}
	httpsPort, plainPort := testenv.FreePort(t), testenv.FreePort(t)
	conf := string(site)
	for _, r := range []struct{ old, new string }{
		{"{\n\tservers {", fmt.Sprintf("{\n\tadmin off\n\tskip_install_trust\n\thttp_port %d\n\thttps_port %d\n\tservers {", plainPort, httpsPort)},
		{"api.example.com {", fmt.Sprintf("https://127.0.0.1:%d {\n\ttls %s %s", httpsPort, pair.CertFile, pair.KeyFile)},
		{"reverse_proxy 127.0.0.1:8080 {", "reverse_proxy " + upstream + " {"},
		{"/var/log/caddy/wallpaperd.log", filepath.Join(dir, "access.log")},
	} {
		if strings.Count(conf, r.old) != 1 {
			t.Fatalf("%s: expected %q exactly once; update the test with the Caddyfile", caddySite, r.old)
		}
		conf = strings.Replace(conf, r.old, r.new, 1)
	}
	confPath := filepath.Join(dir, "Caddyfile")
	writeTestFile(t, confPath, conf)

	cmd := exec.Command(caddy, "run", "--config", confPath, "--adapter", "caddyfile")
	// Caddy keeps its state under HOME/XDG dirs: a temp dir, not the user's.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	startListening(t, "caddy", cmd, nil, httpsPort, plainPort)
	return fmt.Sprintf("https://127.0.0.1:%d", httpsPort), fmt.Sprintf("http://127.0.0.1:%d", plainPort)
}
