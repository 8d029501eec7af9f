//go:build browser

package browser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// server is a running wallpaperd.
type server struct {
	base string // http://127.0.0.1:PORT
}

// startWallpaperd runs the real binary with the dev defaults on a fresh
// database and a free port, with Swagger UI on, and waits until /readyz
// answers 200. It is stopped when the test ends.
func startWallpaperd(t *testing.T) *server {
	t.Helper()
	p := apptest.Start(t, map[string]string{"SWAGGER_ENABLED": "true", "WORKERS": "2"})
	deadline := time.Now().Add(90 * time.Second)
	for {
		if res, err := http.Get(p.URL() + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return &server{base: p.URL()}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("wallpaperd not ready after 90s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// productEndpoints is the endpoint table of the product, the contract the
// API is built to, plus the probes outside /api/v1.
var productEndpoints = []operation{
	{"get", "/healthz"},
	{"get", "/readyz"},
	{"post", "/api/v1/auth/login"},
	{"post", "/api/v1/auth/refresh"},
	{"post", "/api/v1/auth/logout"},
	{"get", "/api/v1/me"},
	{"patch", "/api/v1/me"},
	{"put", "/api/v1/me/avatar"},
	{"post", "/api/v1/generations"},
	{"get", "/api/v1/generations/{id}"},
	{"get", "/api/v1/me/generations"},
	{"get", "/api/v1/wallpapers"},
	{"get", "/api/v1/wallpapers/{id}"},
	{"patch", "/api/v1/wallpapers/{id}"},
	{"delete", "/api/v1/wallpapers/{id}"},
	{"put", "/api/v1/wallpapers/{id}/like"},
	{"delete", "/api/v1/wallpapers/{id}/like"},
	{"get", "/api/v1/me/wallpapers"},
	{"delete", "/api/v1/me"},
	{"post", "/api/v1/wallpapers/{id}/reports"},
	{"get", "/api/v1/admin/queue"},
	{"post", "/api/v1/admin/wallpapers/{id}/decision"},
	{"get", "/api/v1/admin/users"},
	{"get", "/api/v1/admin/users/{id}"},
	{"post", "/api/v1/admin/users/{id}/ban"},
	{"post", "/api/v1/admin/users/{id}/unban"},
	{"get", "/api/v1/admin/audit"},
}

// serves reports whether the server has a route for op: anything but the
// router's own "no such endpoint" 404 or "method not allowed" answer. The
// probe carries no token and no body, so it changes nothing.
func (s *server) serves(t *testing.T, op operation) bool {
	t.Helper()
	path := strings.ReplaceAll(op.Path, "{id}", "00000000-0000-4000-8000-000000000000")
	req, err := http.NewRequest(strings.ToUpper(op.Method), s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("probe %s: %v", op, err)
	}
	defer res.Body.Close()
	var body struct{ Code, Message string }
	_ = json.NewDecoder(res.Body).Decode(&body)
	switch {
	case res.StatusCode == http.StatusNotFound && body.Message == "no such endpoint":
		return false
	case body.Code == "method_not_allowed":
		return false
	}
	return true
}

// devLogin logs in with a dev code and returns the access token.
func devLogin(base, code string) (string, error) {
	body, _ := json.Marshal(map[string]string{"code": code})
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("decode the login answer: %w", err)
	}
	if res.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", errors.New("login answered " + res.Status)
	}
	return out.AccessToken, nil
}

// operation is one documented method and path.
type operation struct{ Method, Path string }

func (o operation) String() string { return strings.ToUpper(o.Method) + " " + o.Path }

// documentedOperations reads docs/swagger.json, the document the binary
// serves, for the operations Swagger UI must show.
func documentedOperations(t *testing.T) map[operation]bool {
	t.Helper()
	data, err := os.ReadFile(testenv.Path(t, "docs", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[operation]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch":
				ops[operation{method, path}] = true
			}
		}
	}
	return ops
}
