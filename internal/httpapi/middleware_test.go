package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// testRouter is the middleware chain of New around a few test routes.
func testRouter(t *testing.T, ready func(context.Context) error) *gin.Engine {
	t.Helper()
	r, err := newRouter(Config{MaxBodyBytes: 1 << 20}, Deps{Logger: quietLogger, Ready: ready})
	if err != nil {
		t.Fatal(err)
	}
	r.GET("/test/panic", func(*gin.Context) { panic("boom: secret internals") })
	r.POST("/test/echo", func(c *gin.Context) {
		var body map[string]any
		if err := bindJSON(c, &body); err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, body)
	})
	return r
}

func readErrorBody(t *testing.T, rec *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body is not JSON: %q", rec.Body.String())
	}
	if body.Code == "" || body.Message == "" || body.RequestID == "" {
		t.Errorf("error body lacks a field: %+v", body)
	}
	return body
}

func TestRequestID(t *testing.T) {
	r := testRouter(t, func(context.Context) error { return nil })
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"generated when absent", "", false},
		{"kept when plain", "client-req-42", true},
		{"replaced when unsafe", "bad id\nwith newline", false},
		{"replaced when too long", strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			if tt.incoming != "" {
				req.Header.Set("X-Request-ID", tt.incoming)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-ID")
			if got == "" {
				t.Fatal("no X-Request-ID in the response")
			}
			if (got == tt.incoming) != tt.keep {
				t.Errorf("X-Request-ID = %q for incoming %q, keep = %v", got, tt.incoming, tt.keep)
			}
		})
	}
}

func TestRecoveryAnswersJSON500(t *testing.T) {
	r := testRouter(t, func(context.Context) error { return nil })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/test/panic", nil)
	req.Header.Set("X-Request-ID", "panic-1")
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	body := readErrorBody(t, rec)
	if body.RequestID != "panic-1" || body.Code != "internal_error" {
		t.Errorf("body = %+v", body)
	}
	if strings.Contains(rec.Body.String(), "boom") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("the panic leaked into the body: %s", rec.Body.String())
	}
}

func TestBodyLimitAndJSONErrors(t *testing.T) {
	r := testRouter(t, func(context.Context) error { return nil })
	big := `{"a":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name        string
		body        string
		contentType string
		chunked     bool
		status      int
		code        string
	}{
		{"ok", `{"a":1}`, "application/json", false, 200, ""},
		{"declared too large", big, "application/json", false, 413, "payload_too_large"},
		{"streamed too large", big, "application/json", true, 413, "payload_too_large"},
		{"empty", ``, "application/json", false, 400, "invalid_request"},
		{"truncated", `{"a":`, "application/json", false, 400, "invalid_request"},
		{"not an object", `[1,2]`, "application/json", false, 400, "invalid_request"},
		{"two objects", `{"a":1}{"b":2}`, "application/json", false, 400, "invalid_request"},
		{"syntax", `{a:1}`, "application/json", false, 400, "invalid_request"},
		{"form", `a=1`, "application/x-www-form-urlencoded", false, 415, "unsupported_media_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/test/echo", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
			}
			if tt.code != "" {
				if got := readErrorBody(t, rec).Code; got != tt.code {
					t.Errorf("code = %q, want %q", got, tt.code)
				}
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name   string
		ready  error
		status int
	}{
		{"ready", nil, http.StatusOK},
		{"database unreachable", errors.New("database unreachable"), http.StatusServiceUnavailable},
		{"migrations pending", errors.New("migrations pending"), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRouter(t, func(context.Context) error { return tt.ready })
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if tt.ready != nil {
				body := readErrorBody(t, rec)
				if body.Code != "unavailable" || !strings.Contains(body.Message, tt.ready.Error()) {
					t.Errorf("body = %+v", body)
				}
			}
		})
	}
}

func TestMethodOverrideOnlyPatch(t *testing.T) {
	r, err := newRouter(Config{MaxBodyBytes: 1 << 20}, Deps{Logger: quietLogger, Ready: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	r.Any("/test/method", func(c *gin.Context) { seen = c.Request.Method })
	h := methodOverride(r)
	for _, tt := range []struct{ override, want string }{
		{"PATCH", http.MethodPatch},
		{"patch", http.MethodPatch},
		{"DELETE", http.MethodPost},
		{"GET", http.MethodPost},
		{"", http.MethodPost},
	} {
		req := httptest.NewRequest(http.MethodPost, "/test/method", nil)
		req.Header.Set("X-HTTP-Method-Override", tt.override)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if seen != tt.want {
			t.Errorf("override %q: handler saw %s, want %s", tt.override, seen, tt.want)
		}
	}
}

func TestClientGoneIsNotAnInternalError(t *testing.T) {
	r := testRouter(t, func(context.Context) error { return nil })
	r.GET("/test/slow", func(c *gin.Context) {
		<-c.Request.Context().Done() // the database call sees the client leave
		writeError(c, c.Request.Context().Err())
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/test/slow", nil).WithContext(ctx))
	if rec.Code != 499 || rec.Body.Len() != 0 {
		t.Errorf("client gone: %d %q, want 499 and no body", rec.Code, rec.Body.String())
	}
	// The same error while the client is still there is a real failure.
	r.GET("/test/cancelled", func(c *gin.Context) { writeError(c, context.Canceled) })
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/test/cancelled", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("cancelled work with the client present: %d, want 500", rec.Code)
	}
}
