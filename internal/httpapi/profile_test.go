package httpapi_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
)

// A 1x1 lossless WebP (x/image has no WebP encoder).
const webp1x1 = "RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"

func gradient(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegWithEXIF(t *testing.T, img image.Image, exif string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	jpg := b.Bytes()
	seg := append([]byte("Exif\x00\x00"), exif...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xE1, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// pngHeader is a PNG signature and IHDR claiming w x h pixels and nothing
// else: a decompression bomb's calling card.
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&buf, binary.BigEndian, uint32(len(ihdr)))
	buf.Write(chunk)
	_ = binary.Write(&buf, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return buf.Bytes()
}

func TestUpdateNickname(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{})
	s := e.login(t, "dev-alice")
	bearer := apitest.Bearer(s.AccessToken)

	tests := []struct {
		name       string
		body       any
		opts       []apitest.Option
		wantStatus int
		wantCode   string
		wantName   string
	}{
		{name: "trimmed", body: map[string]string{"nickname": "  Alice  "}, wantStatus: 200, wantName: "Alice"},
		{name: "32 CJK characters", body: map[string]string{"nickname": strings.Repeat("壁", 32)}, wantStatus: 200, wantName: strings.Repeat("壁", 32)},
		{name: "33 characters", body: map[string]string{"nickname": strings.Repeat("a", 33)}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "blank", body: map[string]string{"nickname": "   "}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "empty", body: map[string]string{"nickname": ""}, opts: []apitest.Option{apitest.SkipRequestValidation}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "missing", body: map[string]string{}, opts: []apitest.Option{apitest.SkipRequestValidation}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "a line break", body: map[string]string{"nickname": "Al\nice"}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "not a string", body: map[string]int{"nickname": 7}, opts: []apitest.Option{apitest.SkipRequestValidation}, wantStatus: 400, wantCode: "invalid_request"},
	}
	current := ""
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.api.Do(http.MethodPatch, "/api/v1/me", tt.body, append([]apitest.Option{bearer}, tt.opts...)...)
			if tt.wantStatus != http.StatusOK {
				wantError(t, res, tt.wantStatus, tt.wantCode)
			} else {
				if res.Status != http.StatusOK {
					t.Fatalf("PATCH /me: %d %s", res.Status, res.Body)
				}
				current = tt.wantName
			}
			var me httpapi.Me
			e.api.Do(http.MethodGet, "/api/v1/me", nil, bearer).JSON(t, &me)
			if me.Nickname != current {
				t.Fatalf("nickname = %q; want %q (bad input must not change it)", me.Nickname, current)
			}
		})
	}

	t.Run("POST with X-HTTP-Method-Override: PATCH", func(t *testing.T) {
		// The spec documents PATCH only; the override is the router's
		// business, so this request bypasses the spec client.
		req := httptest.NewRequest(http.MethodPost, "/api/v1/me", strings.NewReader(`{"nickname":"Bob"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.AccessToken)
		req.Header.Set("X-HTTP-Method-Override", "PATCH")
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"nickname":"Bob"`) {
			t.Fatalf("POST+override: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("without a token", func(t *testing.T) {
		wantError(t, e.api.Do(http.MethodPatch, "/api/v1/me", map[string]string{"nickname": "Eve"}), 401, "unauthorized")
	})
}

func TestNicknameModeration(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{withWeChat: true})
	s := e.login(t, "ok-alice")
	bearer := apitest.Bearer(s.AccessToken)

	tests := []struct {
		name       string
		nickname   string
		wantStatus int
		wantCode   string
	}{
		{name: "pass", nickname: "Alice", wantStatus: 200},
		{name: "risky", nickname: "risky words", wantStatus: 422, wantCode: "content_rejected"},
		{name: "review", nickname: "review me", wantStatus: 422, wantCode: "content_rejected"},
		{name: "WeChat busy", nickname: "err--1", wantStatus: 502, wantCode: "upstream_error"},
		{name: "too long never reaches WeChat", nickname: strings.Repeat("x", 40), wantStatus: 400, wantCode: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.api.Do(http.MethodPatch, "/api/v1/me", map[string]string{"nickname": tt.nickname}, bearer)
			if tt.wantStatus == http.StatusOK {
				if res.Status != http.StatusOK {
					t.Fatalf("PATCH /me: %d %s", res.Status, res.Body)
				}
				return
			}
			wantError(t, res, tt.wantStatus, tt.wantCode)
			var me httpapi.Me
			e.api.Do(http.MethodGet, "/api/v1/me", nil, bearer).JSON(t, &me)
			if me.Nickname != "Alice" {
				t.Fatalf("a refused nickname changed the profile to %q", me.Nickname)
			}
		})
	}
	if n := e.wechat.Calls("/wxa/msg_sec_check"); n != 4 {
		t.Errorf("msg_sec_check called %d times; want 4 (not for a nickname the local rules refuse)", n)
	}
}

// fetch GETs an absolute URL from the router.
func fetch(h http.Handler, rawURL string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, rawURL, nil))
	return rec
}

func TestAvatarUpload(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{})
	s := e.login(t, "dev-alice")
	bearer := apitest.Bearer(s.AccessToken)

	tests := []struct {
		name       string
		method     string
		opts       []apitest.Option
		wantStatus int
		wantCode   string
		wantW      int
		wantH      int
	}{
		{name: "png is scaled to 512", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "a.png", "image/png", pngBytes(t, gradient(800, 600)))}, wantStatus: 200, wantW: 512, wantH: 384},
		{name: "small png keeps its size", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "a.png", "image/png", pngBytes(t, gradient(100, 200)))}, wantStatus: 200, wantW: 100, wantH: 200},
		{name: "jpeg via POST (wx.uploadFile)", method: http.MethodPost, opts: []apitest.Option{apitest.MultipartFile("file", "a.jpg", "image/jpeg", jpegWithEXIF(t, gradient(600, 1200), "GPS 31.2304N 121.4737E"))}, wantStatus: 200, wantW: 256, wantH: 512},
		{name: "webp", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "a.webp", "image/webp", []byte(webp1x1))}, wantStatus: 200, wantW: 1, wantH: 1},
		{name: "a png named .gif with a lying content type", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "a.gif", "image/gif", pngBytes(t, gradient(10, 10)))}, wantStatus: 200, wantW: 10, wantH: 10},
		{name: "over 2 MiB", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "big.png", "image/png", append(pngBytes(t, gradient(10, 10)), make([]byte, 2<<20)...))}, wantStatus: 413, wantCode: "payload_too_large"},
		{name: "gif", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "a.gif", "image/gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "text claiming to be jpeg", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "a.jpg", "image/jpeg", []byte("hello, not an image"))}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "too many pixels", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "bomb.png", "image/png", pngHeader(100000, 100000))}, wantStatus: 413, wantCode: "payload_too_large"},
		{name: "truncated png", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartFile("file", "bad.png", "image/png", pngHeader(64, 64))}, wantStatus: 400, wantCode: "invalid_image"},
		{name: "no file field", method: http.MethodPut, opts: []apitest.Option{apitest.MultipartField("avatar", "x"), apitest.SkipRequestValidation}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "not multipart", method: http.MethodPut, opts: []apitest.Option{apitest.RawBody("image/png", pngBytes(t, gradient(10, 10))), apitest.SkipRequestValidation}, wantStatus: 415, wantCode: "unsupported_media_type"},
	}
	var lastURL string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.api.Do(tt.method, "/api/v1/me/avatar", nil, append([]apitest.Option{bearer}, tt.opts...)...)
			if tt.wantStatus != http.StatusOK {
				wantError(t, res, tt.wantStatus, tt.wantCode)
				var me httpapi.Me
				e.api.Do(http.MethodGet, "/api/v1/me", nil, bearer).JSON(t, &me)
				if me.AvatarURL != lastURL {
					t.Fatalf("a refused upload changed the avatar to %q", me.AvatarURL)
				}
				return
			}
			if res.Status != http.StatusOK {
				t.Fatalf("upload: %d %s", res.Status, res.Body)
			}
			var u httpapi.User
			res.JSON(t, &u)
			if !strings.HasPrefix(u.AvatarURL, "http://example.com/media/avatars/") || !strings.HasSuffix(u.AvatarURL, ".jpg") {
				t.Fatalf("avatar_url = %q; want an absolute /media/avatars/….jpg URL", u.AvatarURL)
			}
			if u.AvatarURL == lastURL {
				t.Fatal("a new avatar kept the old URL")
			}
			got := fetch(e.handler, u.AvatarURL)
			if got.Code != http.StatusOK || got.Header().Get("Content-Type") != "image/jpeg" {
				t.Fatalf("GET %s: %d %s", u.AvatarURL, got.Code, got.Header().Get("Content-Type"))
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(got.Body.Bytes()))
			if err != nil || format != "jpeg" || cfg.Width != tt.wantW || cfg.Height != tt.wantH {
				t.Fatalf("stored avatar: %s %dx%d (%v); want jpeg %dx%d", format, cfg.Width, cfg.Height, err, tt.wantW, tt.wantH)
			}
			if bytes.Contains(got.Body.Bytes(), []byte("Exif")) || bytes.Contains(got.Body.Bytes(), []byte("GPS")) {
				t.Fatal("the stored avatar kept the upload's metadata")
			}
			if lastURL != "" {
				if old := fetch(e.handler, lastURL); old.Code != http.StatusNotFound {
					t.Fatalf("the previous avatar is still served: %d", old.Code)
				}
			}
			lastURL = u.AvatarURL
		})
	}

	// Exactly one avatar file is left: every replaced one was deleted.
	var files []string
	_ = filepath.WalkDir(e.mediaDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) != 1 {
		t.Errorf("files in storage: %v; want only the current avatar", files)
	}

	t.Run("without a token", func(t *testing.T) {
		wantError(t, e.api.Do(http.MethodPut, "/api/v1/me/avatar", nil,
			apitest.MultipartFile("file", "a.png", "image/png", pngBytes(t, gradient(10, 10)))), 401, "unauthorized")
	})
}

func TestAvatarURLBehindATLSProxy(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{trustedProxies: []string{"192.0.2.0/24"}})
	s := e.login(t, "dev-alice")
	tests := []struct {
		name       string
		remoteAddr string
		wantPrefix string
	}{
		{name: "trusted proxy says https", remoteAddr: "192.0.2.10:5555", wantPrefix: "https://wall.example.com/media/"},
		{name: "untrusted peer cannot claim https", remoteAddr: "198.51.100.7:5555", wantPrefix: "http://wall.example.com/media/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body bytes.Buffer
			body.WriteString("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n")
			body.Write(pngBytes(t, gradient(8, 8)))
			body.WriteString("\r\n--B--\r\n")
			req := httptest.NewRequest(http.MethodPut, "http://wall.example.com/api/v1/me/avatar", &body)
			req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
			req.Header.Set("Authorization", "Bearer "+s.AccessToken)
			req.Header.Set("X-Forwarded-Proto", "https")
			req.RemoteAddr = tt.remoteAddr
			// Sent straight to the router: the spec client knows no such host.
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			var u httpapi.User
			if err := json.Unmarshal(rec.Body.Bytes(), &u); err != nil || rec.Code != http.StatusOK || !strings.HasPrefix(u.AvatarURL, tt.wantPrefix) {
				t.Fatalf("%d %s; want avatar_url with prefix %q", rec.Code, rec.Body, tt.wantPrefix)
			}
		})
	}
}
