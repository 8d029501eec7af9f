package storage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/storage"
)

func TestLocalURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, want string
	}{
		{"", "/media/wallpapers/a/original.png"},
		{"https://api.example.com", "https://api.example.com/media/wallpapers/a/original.png"},
		{"https://api.example.com/", "https://api.example.com/media/wallpapers/a/original.png"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			t.Parallel()
			l, err := storage.NewLocal(t.TempDir(), tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.URL("wallpapers/a/original.png"); got != tt.want {
				t.Errorf("URL = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLocalHandler requests paths that try to reach a secret file beside
// the media directory, list directories or see temporary files.
func TestLocalHandler(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	const secret = "DATABASE_URL=postgres://secret"
	if err := os.WriteFile(filepath.Join(root, "secret.env"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := storage.NewLocal(filepath.Join(root, "media"), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img := []byte("\x89PNG\r\n\x1a\nimage")
	for key, ct := range map[string]string{"w/a/original.png": "image/png", "w/a/thumb.jpg": "image/jpeg", "w/a/x.webp": "image/webp", "w/a/noext": ""} {
		if err := l.Put(ctx, key, img, ct); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "media", "w", "a", ".tmp-123"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	h := l.Handler()

	tests := []struct {
		name   string
		method string
		target string
		status int
		ctype  string
	}{
		{"png", "GET", "/media/w/a/original.png", 200, "image/png"},
		{"jpeg", "GET", "/media/w/a/thumb.jpg", 200, "image/jpeg"},
		{"webp", "GET", "/media/w/a/x.webp", 200, "image/webp"},
		{"no extension is not sniffed", "GET", "/media/w/a/noext", 200, "application/octet-stream"},
		{"head", "HEAD", "/media/w/a/original.png", 200, "image/png"},
		{"missing", "GET", "/media/w/a/none.png", 404, ""},
		{"post", "POST", "/media/w/a/original.png", 405, ""},
		{"delete", "DELETE", "/media/w/a/original.png", 405, ""},
		{"directory", "GET", "/media/w/a", 404, ""},
		{"directory with slash", "GET", "/media/w/a/", 404, ""},
		{"media root", "GET", "/media/", 404, ""},
		{"temporary file", "GET", "/media/w/a/.tmp-123", 404, ""},
		{"dot dot", "GET", "/media/../secret.env", 404, ""},
		{"encoded dot dot", "GET", "/media/%2e%2e/secret.env", 404, ""},
		{"upper-case encoded dot dot", "GET", "/media/%2E%2E/secret.env", 404, ""},
		{"encoded slash", "GET", "/media/..%2fsecret.env", 404, ""},
		{"deep encoded dot dot", "GET", "/media/w/a/%2e%2e/%2e%2e/%2e%2e/secret.env", 404, ""},
		{"backslash", "GET", "/media/..%5csecret.env", 404, ""},
		{"absolute", "GET", "/media//etc/passwd", 404, ""},
		{"outside the prefix", "GET", "/secret.env", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.target, rec.Code, tt.status)
			}
			if strings.Contains(rec.Body.String(), "DATABASE_URL") {
				t.Fatal("the secret beside the media directory was served")
			}
			if tt.status != http.StatusOK {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", ct, tt.ctype)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != storage.CacheControlFor(strings.TrimPrefix(tt.target, "/media/")) {
				t.Errorf("Cache-Control = %q", cc)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if tt.method == "GET" && rec.Body.String() != string(img) {
				t.Errorf("body = %q", rec.Body.String())
			}
		})
	}
}

func TestLocalPutLeavesNoTemporaryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := storage.NewLocal(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := l.Put(context.Background(), "w/b/original.png", []byte("x"), "image/png"); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "w", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "original.png" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only original.png", names)
	}
}

// TestLocalSignedURLExpires: a signed URL of a private object stops
// working when its time is up.
func TestLocalSignedURLExpires(t *testing.T) {
	t.Parallel()
	l, err := storage.NewLocal(t.TempDir(), "", storage.WithSigningKey([]byte("test-signing-key")))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Put(context.Background(), "private/w/x/image.jpg", []byte("jpeg"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		ttl    time.Duration
		status int
	}{{"valid", time.Minute, http.StatusOK}, {"expired", -time.Second, http.StatusNotFound}} {
		rec := httptest.NewRecorder()
		l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, l.SignedURL("private/w/x/image.jpg", tt.ttl), nil))
		if rec.Code != tt.status {
			t.Errorf("%s signed URL: %d, want %d", tt.name, rec.Code, tt.status)
		}
	}
}
