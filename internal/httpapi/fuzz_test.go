package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// FuzzBindJSON sends arbitrary bodies to a handler that binds the largest
// request type (GenerationRequest) behind the body limit: the answer is
// always a success or one of the documented 4xx JSON errors, never a 500
// or a panic, and a success really decoded a single JSON object.
func FuzzBindJSON(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"prompt":"a lighthouse at dusk","size":"1024x1792","style":"vivid","quality":"hd"}`},
		{"application/json", `{"prompt":"x"} {"prompt":"y"}`},
		{"application/json", `{"prompt":1}`},
		{"application/json", `{"prompt":"a","nope":true}`},
		{"application/json", `[{"prompt":"a"}]`},
		{"application/json", `{"prompt":"\xff\xfe"}`},
		{"application/json", `{"prompt":"a\u0000b"}`},
		{"application/json", `{"prompt":"a"`},
		{"application/json", `null`},
		{"application/json", ``},
		{"application/json; charset=utf-8", `{"prompt":"ok"}`},
		{"application/merge-patch+json", `{"prompt":"ok"}`},
		{"text/plain", `{"prompt":"ok"}`},
		{"application/json;;", `{}`},
		{"", `{"prompt":"` + string(bytes.Repeat([]byte("a"), 300)) + `"}`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(bodyLimit(256))
	r.POST("/bind", func(c *gin.Context) {
		var req GenerationRequest
		if err := bindJSON(c, &req); err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, req)
	})
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/bind", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
				t.Fatalf("accepted %q, which is not one JSON object", body)
			}
			if !utf8.Valid(body) {
				t.Fatalf("accepted %q, which is not UTF-8", body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			var e ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("error body %q is not {code,message,request_id}", rec.Body.Bytes())
			}
		default:
			t.Fatalf("status %d for %q (%q): %s", rec.Code, body, contentType, rec.Body.Bytes())
		}
	})
}
