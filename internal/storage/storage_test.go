package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/storage/storagetest"
)

// store is the method set both implementations share.
type store interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Copy(ctx context.Context, from, to string) error
	Delete(ctx context.Context, key string) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	URL(key string) string
	SignedURL(key string, ttl time.Duration) string
}

var (
	_ store = (*storage.Local)(nil)
	_ store = (*storage.S3)(nil)
)

// fetch GETs an object's URL as a phone would; rel resolves root-relative
// URLs (Local without a base URL) against the server that serves them.
type fetch func(t *testing.T, rawURL string) *http.Response

func newLocal(t *testing.T) (*storage.Local, fetch) {
	t.Helper()
	l, err := storage.NewLocal(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	return l, func(t *testing.T, rawURL string) *http.Response {
		t.Helper()
		return get(t, srv.URL+rawURL)
	}
}

func newS3(t *testing.T) (*storage.S3, fetch) {
	t.Helper()
	s, err := storage.NewS3(context.Background(), storagetest.StartS3(t))
	if err != nil {
		t.Fatal(err)
	}
	return s, func(t *testing.T, rawURL string) *http.Response {
		t.Helper()
		return get(t, rawURL)
	}
}

func get(t *testing.T, rawURL string) *http.Response {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, s store, key string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	impls := []struct {
		name string
		open func(t *testing.T) (store, fetch)
	}{
		{"local", func(t *testing.T) (store, fetch) { s, f := newLocal(t); return s, f }},
		{"s3", func(t *testing.T) (store, fetch) { s, f := newS3(t); return s, f }},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			s, fetch := impl.open(t)
			runConformance(t, s, fetch)
		})
	}
}

// runConformance is the behaviour every store must have. Its cases share
// one store and run in order.
func runConformance(t *testing.T, s store, fetch fetch) {
	ctx := context.Background()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1, 2, 3}, 1000)...)
	jpg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte("jpeg"), 500)...)

	t.Run("put then open returns the bytes", func(t *testing.T) {
		if err := s.Put(ctx, "wallpapers/a/original.png", png, "image/png"); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, "wallpapers/a/original.png"); !bytes.Equal(got, png) {
			t.Errorf("Open returned %d bytes, want the %d put", len(got), len(png))
		}
	})
	t.Run("put overwrites", func(t *testing.T) {
		if err := s.Put(ctx, "wallpapers/b/original.png", []byte("first"), "image/png"); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "wallpapers/b/original.png", png, "image/png"); err != nil {
			t.Fatalf("second Put of the same key: %v", err)
		}
		if got := readAll(t, s, "wallpapers/b/original.png"); !bytes.Equal(got, png) {
			t.Errorf("after overwrite Open returned %q…, want the second content", got[:min(len(got), 8)])
		}
	})
	t.Run("open missing is ErrNotFound", func(t *testing.T) {
		_, err := s.Open(ctx, "wallpapers/none/original.png")
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Open of a missing key = %v, want ErrNotFound", err)
		}
	})
	t.Run("delete removes", func(t *testing.T) {
		if err := s.Put(ctx, "wallpapers/c/thumb.jpg", jpg, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "wallpapers/c/thumb.jpg"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Open(ctx, "wallpapers/c/thumb.jpg"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Open after Delete = %v, want ErrNotFound", err)
		}
	})
	t.Run("delete missing is no error", func(t *testing.T) {
		if err := s.Delete(ctx, "wallpapers/never/was.png"); err != nil {
			t.Errorf("Delete of a missing key = %v, want nil", err)
		}
	})
	t.Run("invalid keys are refused", func(t *testing.T) {
		for _, key := range []string{"../escape.png", "/abs.png", `a\b.png`, "Upper.png", "a//b.png", "a/./b.png", ""} {
			if err := s.Put(ctx, key, png, "image/png"); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
			}
		}
	})
	t.Run("concurrent puts of one key leave one whole object", func(t *testing.T) {
		// A retried job can race its predecessor on the same key.
		var wg sync.WaitGroup
		contents := make([][]byte, 4)
		for i := range contents {
			contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
			wg.Go(func() {
				if err := s.Put(ctx, "wallpapers/race/original.png", contents[i], "image/png"); err != nil {
					t.Errorf("Put %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		got := readAll(t, s, "wallpapers/race/original.png")
		whole := false
		for _, c := range contents {
			whole = whole || bytes.Equal(got, c)
		}
		if !whole {
			t.Errorf("object is a mix of %d bytes, not one of the contents put", len(got))
		}
	})
	for _, tc := range []struct {
		key, contentType string
		data             []byte
	}{
		{"wallpapers/d/original.png", "image/png", png},
		{"wallpapers/d/thumb.jpg", "image/jpeg", jpg},
	} {
		t.Run("URL GET returns "+tc.contentType, func(t *testing.T) {
			if err := s.Put(ctx, tc.key, tc.data, tc.contentType); err != nil {
				t.Fatal(err)
			}
			u := s.URL(tc.key)
			if u == "" {
				t.Fatal("URL is empty")
			}
			resp := fetch(t, u)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
			}
			if !bytes.Equal(body, tc.data) {
				t.Errorf("GET returned %d bytes, want the %d put", len(body), len(tc.data))
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tc.contentType)
			}
			if cc, want := resp.Header.Get("Cache-Control"), storage.CacheControlFor(tc.key); cc != want {
				t.Errorf("Cache-Control = %q, want %q", cc, want)
			}
		})
	}
	get := func(t *testing.T, u string) (int, []byte) {
		t.Helper()
		resp := fetch(t, u)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	t.Run("copy then delete moves an object between prefixes", func(t *testing.T) {
		from, to := "private/w/e/image.jpg", "public/w/e/image.jpg"
		if err := s.Put(ctx, from, jpg, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		if err := s.Copy(ctx, from, to); err != nil {
			t.Fatalf("Copy: %v", err)
		}
		if got := readAll(t, s, to); !bytes.Equal(got, jpg) {
			t.Errorf("the copy has %d bytes, want the %d put", len(got), len(jpg))
		}
		resp := fetch(t, s.URL(to))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != storage.CachePublic ||
			resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("GET the public copy: %d, Cache-Control %q, Content-Type %q", resp.StatusCode,
				resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
		}
		publicURL := s.URL(to)
		if err := s.Delete(ctx, to); err != nil {
			t.Fatal(err)
		}
		if status, _ := get(t, publicURL); status != http.StatusNotFound && status != http.StatusForbidden {
			t.Errorf("the withdrawn public URL answers %d, want 403 or 404", status)
		}
		if err := s.Copy(ctx, "private/w/none/image.jpg", to); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Copy of a missing object = %v, want ErrNotFound", err)
		}
	})
	t.Run("a private object is reachable only by a signed URL", func(t *testing.T) {
		key := "private/w/f/image.jpg"
		if err := s.Put(ctx, key, jpg, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		signed := s.SignedURL(key, time.Minute)
		if status, body := get(t, signed); status != http.StatusOK || !bytes.Equal(body, jpg) {
			t.Fatalf("GET the signed URL: %d, %d bytes", status, len(body))
		}
		resp := fetch(t, signed)
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); cc != storage.CachePrivate {
			t.Errorf("Cache-Control of a private object = %q, want %q", cc, storage.CachePrivate)
		}
		bare, _, _ := strings.Cut(signed, "?")
		if status, _ := get(t, bare); status == http.StatusOK {
			t.Errorf("GET %s without its signature answered 200", bare)
		}
		tampered := strings.Replace(signed, "private/w/f/", "private/w/g/", 1)
		if err := s.Put(ctx, "private/w/g/image.jpg", jpg, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		if status, _ := get(t, tampered); status == http.StatusOK {
			t.Errorf("a signature for one key opened another")
		}
		if u := s.URL(key); !strings.Contains(u, "?") {
			t.Errorf("URL of a private key %q is not signed", u)
		}
	})
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key string
		ok  bool
	}{
		{"wallpapers/0b8e/original.png", true},
		{"avatars/u-1_2.v3.webp", true},
		{"a", true},
		{"", false},
		{"..", false},
		{"a/../b", false},
		{"a/..", false},
		{"./a", false},
		{"a/.hidden", false},
		{".tmp-123", false},
		{"/abs", false},
		{"trailing/", false},
		{"a//b", false},
		{`a\b`, false},
		{"UPPER", false},
		{"sp ace", false},
		{"pct%2e", false},
		{"ünï", false},
		{"nul\x00", false},
		{strings.Repeat("a", 513), false},
		{strings.Repeat("a", 512), true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.40q", tt.key), func(t *testing.T) {
			t.Parallel()
			err := storage.ValidateKey(tt.key)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if err != nil && !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("error %v is not ErrInvalidKey", err)
			}
		})
	}
}

func TestS3PresignedURL(t *testing.T) {
	t.Parallel()
	s, _ := newS3(t)
	ctx := context.Background()
	data := []byte("\x89PNG\r\n\x1a\nsecret pixels")
	if err := s.Put(ctx, "wallpapers/p/original.png", data, "image/png"); err != nil {
		t.Fatal(err)
	}
	signedAt := time.Now().UTC()
	good := s.URL("wallpapers/p/original.png")

	tamper := func(t *testing.T, change func(q url.Values)) string {
		t.Helper()
		u, err := url.Parse(good)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		change(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	otherKey := strings.Replace(good, "wallpapers/p/original.png", "wallpapers/q/original.png", 1)
	if err := s.Put(ctx, "wallpapers/q/original.png", data, "image/png"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		url    string
		status int
	}{
		{"as signed", good, http.StatusOK},
		{"signed again", s.URL("wallpapers/p/original.png"), http.StatusOK},
		{"signature changed", tamper(t, func(q url.Values) {
			sig := []byte(q.Get("X-Amz-Signature"))
			sig[0] ^= 1
			q.Set("X-Amz-Signature", string(sig))
		}), http.StatusForbidden},
		{"expiry extended", tamper(t, func(q url.Values) { q.Set("X-Amz-Expires", "604800") }), http.StatusForbidden},
		{"another key with the same signature", otherKey, http.StatusForbidden},
		// S3 answers an incomplete signature with 400, as versitygw does.
		{"signature removed", tamper(t, func(q url.Values) { q.Del("X-Amz-Signature") }), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, tt.url)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("GET = %s, want %d: %s", resp.Status, tt.status, body)
			}
			if tt.status == http.StatusOK && !bytes.Equal(body, data) {
				t.Errorf("GET returned %q, want the object", body)
			}
		})
	}
	// Signing times are truncated to the hour, so the URL only changes when
	// an hour boundary passed in between.
	again := s.URL("wallpapers/p/original.png")
	sameHour := time.Now().UTC().Truncate(time.Hour).Equal(signedAt.Truncate(time.Hour))
	if sameHour && again != good {
		t.Errorf("URL changed within the hour (it can only across an hour boundary):\n%s\n%s", good, again)
	}
}

func TestS3PublicBaseURL(t *testing.T) {
	t.Parallel()
	s, err := storage.NewS3(context.Background(), storage.S3Config{
		Bucket: "b", Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s",
		PublicBaseURL: "https://cdn.example.com/img/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.URL("wallpapers/x/original.png"), "https://cdn.example.com/img/wallpapers/x/original.png"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func TestS3Check(t *testing.T) {
	t.Parallel()
	cfg := storagetest.StartS3(t)
	tests := []struct {
		name    string
		change  func(c *storage.S3Config)
		wantErr bool
	}{
		{"the bucket", func(*storage.S3Config) {}, false},
		{"a missing bucket", func(c *storage.S3Config) { c.Bucket = "no-such-bucket" }, true},
		{"wrong secret", func(c *storage.S3Config) { c.SecretAccessKey = "wrong" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cfg
			tt.change(&c)
			s, err := storage.NewS3(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Check(context.Background()); (err != nil) != tt.wantErr {
				t.Errorf("Check = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestS3Unavailable: a server that does not answer makes every call an
// Unavailable failure (worth retrying, a 503 to an API client), and one
// that answers "no" on purpose does not; after a restart calls succeed.
func TestS3Unavailable(t *testing.T) {
	t.Parallel()
	srv := storagetest.Start(t)
	s, err := storage.NewS3(context.Background(), srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.Stop()
	if err := s.Put(ctx, "a/down.png", []byte("x"), "image/png"); !errors.Is(err, failure.ErrUnavailable) {
		t.Errorf("Put with the server down = %v, want ErrUnavailable", err)
	}
	if err := s.Delete(ctx, "a/down.png"); !errors.Is(err, failure.ErrUnavailable) {
		t.Errorf("Delete with the server down = %v, want ErrUnavailable", err)
	}
	if _, err := s.Open(ctx, "a/down.png"); !errors.Is(err, failure.ErrUnavailable) {
		t.Errorf("Open with the server down = %v, want ErrUnavailable", err)
	}
	srv.Restart(t)
	if err := s.Put(ctx, "a/up.png", []byte("x"), "image/png"); err != nil {
		t.Fatalf("Put after the restart: %v", err)
	}
	if !srv.Exists(t, "a/up.png") {
		t.Error("the object put after the restart is not in the bucket")
	}
	wrong := srv.Config
	wrong.SecretAccessKey = "not-the-secret"
	denied, err := storage.NewS3(ctx, wrong)
	if err != nil {
		t.Fatal(err)
	}
	if err := denied.Put(ctx, "a/denied.png", []byte("x"), "image/png"); err == nil || errors.Is(err, failure.ErrUnavailable) {
		t.Errorf("Put with a wrong secret = %v, want an error that is not ErrUnavailable", err)
	}
}
