package apitest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
)

// thingsSpec is a tiny Swagger 2.0 contract, shaped like the ones swag
// writes, for a tiny handler that can be told to break it.
const thingsSpec = `{
  "swagger": "2.0",
  "info": {"title": "things", "version": "1.0"},
  "basePath": %q,
  "paths": {
    "%s/things/{id}": {
      "get": {
        "produces": ["application/json"],
        "security": [{"BearerAuth": []}],
        "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}],
        "responses": {
          "200": {"description": "OK", "schema": {"$ref": "#/definitions/Thing"}},
          "404": {"description": "Not Found", "schema": {"$ref": "#/definitions/httpapi.ErrorBody"}}
        }
      }
    },
    "%s/things/{id}/name": {
      "patch": {
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "parameters": [
          {"name": "id", "in": "path", "required": true, "type": "string"},
          {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/NewThing"}}
        ],
        "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/Thing"}}}
      }
    },
    "%s/things": {
      "post": {
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/NewThing"}}],
        "responses": {
          "201": {"description": "Created", "schema": {"$ref": "#/definitions/Thing"}},
          "400": {"description": "Bad Request", "schema": {"$ref": "#/definitions/httpapi.ErrorBody"}}
        }
      }
    },
    "%s/things/{id}/picture": {
      "put": {
        "consumes": ["multipart/form-data"],
        "produces": ["application/json"],
        "parameters": [
          {"name": "id", "in": "path", "required": true, "type": "string"},
          {"name": "file", "in": "formData", "required": true, "type": "file"}
        ],
        "responses": {
          "200": {"description": "OK", "schema": {"$ref": "#/definitions/Thing"}}
        }
      }
    }
  },
  "definitions": {
    "Thing": {
      "type": "object",
      "required": ["id", "name"],
      "properties": {"id": {"type": "string"}, "name": {"type": "string"}}
    },
    "NewThing": {
      "type": "object",
      "required": ["name"],
      "properties": {
        "name": {"type": "string"},
        "size": {"type": "string", "enum": ["small", "large"]}
      }
    },
    "httpapi.ErrorBody": {
      "type": "object",
      "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "request_id": {"type": "string"}}
    }
  },
  "securityDefinitions": {
    "BearerAuth": {"type": "apiKey", "name": "Authorization", "in": "header"}
  }
}`

// newThingsSpec returns the contract with its paths either spelled out in
// full under basePath "/" (as swag writes ours) or relative to basePath.
func newThingsSpec(t *testing.T, basePath, pathPrefix string) *apitest.Spec {
	t.Helper()
	doc := fmt.Sprintf(thingsSpec, basePath, pathPrefix, pathPrefix, pathPrefix, pathPrefix)
	spec, err := apitest.ParseSpec([]byte(doc))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	return spec
}

// thingsHandler answers /api/v1/things…; the query parameter "break" makes
// it answer what the contract does not allow.
func thingsHandler() http.Handler {
	writeJSON := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("break") {
		case "status":
			writeJSON(w, http.StatusTeapot, `{"code":"teapot","message":"short and stout","request_id":"r1"}`)
		case "shape":
			writeJSON(w, http.StatusOK, `{"id":42,"name":"kettle"}`)
		case "missing":
			writeJSON(w, http.StatusOK, `{"id":"1"}`)
		default:
			if r.PathValue("id") == "nope" {
				writeJSON(w, http.StatusNotFound, `{"code":"not_found","message":"thing not found","request_id":"r1"}`)
				return
			}
			writeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":%q,"name":"kettle"}`, r.PathValue("id")))
		}
	})
	mux.HandleFunc("POST /api/v1/things", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
			writeJSON(w, http.StatusBadRequest, `{"code":"invalid_request","message":"name is required","request_id":"r1"}`)
			return
		}
		writeJSON(w, http.StatusCreated, fmt.Sprintf(`{"id":"1","name":%q}`, in.Name))
	})
	mux.HandleFunc("PATCH /api/v1/things/{id}/name", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":%q,"name":"renamed"}`, r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/v1/things/{id}/name", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"id":"1","name":"POST reached the handler as POST"}`)
	})
	mux.HandleFunc("PUT /api/v1/things/{id}/picture", func(w http.ResponseWriter, r *http.Request) {
		f, _, err := r.FormFile("file")
		if err != nil {
			writeJSON(w, http.StatusBadRequest, `{"code":"invalid_request","message":"file is required","request_id":"r1"}`)
			return
		}
		_ = f.Close()
		writeJSON(w, http.StatusOK, `{"id":"1","name":"with picture"}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("break") == "shape" {
			writeJSON(w, http.StatusNotFound, `{"error":"nope"}`)
			return
		}
		writeJSON(w, http.StatusNotFound, `{"code":"not_found","message":"no such endpoint","request_id":"r1"}`)
	})
	// Like httpapi: POST + X-HTTP-Method-Override: PATCH is a PATCH.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("X-HTTP-Method-Override") == "PATCH" {
			r.Method = http.MethodPatch
		}
		mux.ServeHTTP(w, r)
	})
}

func TestSpecServe(t *testing.T) {
	t.Parallel()
	spec := newThingsSpec(t, "/", "/api/v1")
	h := thingsHandler()

	jsonRequest := func(method, target, body string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	withHeader := func(r *http.Request, k, v string) *http.Request {
		r.Header.Set(k, v)
		return r
	}
	tests := []struct {
		name        string
		req         *http.Request
		skipRequest bool
		wantStatus  int
		wantErr     string // "" when the exchange keeps the contract
	}{
		{name: "documented 200", req: httptest.NewRequest("GET", "/api/v1/things/7", nil), wantStatus: 200},
		{name: "documented 404", req: httptest.NewRequest("GET", "/api/v1/things/nope", nil), wantStatus: 404},
		{name: "undocumented status", req: httptest.NewRequest("GET", "/api/v1/things/7?break=status", nil), wantStatus: 418, wantErr: "status is not supported"},
		{name: "wrong type in body", req: httptest.NewRequest("GET", "/api/v1/things/7?break=shape", nil), wantStatus: 200, wantErr: `response 200 to GET /api/v1/things/7?break=shape does not match`},
		{name: "required field missing", req: httptest.NewRequest("GET", "/api/v1/things/7?break=missing", nil), wantStatus: 200, wantErr: `"name"`},
		{name: "valid body", req: jsonRequest("POST", "/api/v1/things", `{"name":"kettle","size":"small"}`), wantStatus: 201},
		{name: "request breaks an enum", req: jsonRequest("POST", "/api/v1/things", `{"name":"kettle","size":"huge"}`), wantStatus: 201, wantErr: "request POST /api/v1/things does not match"},
		{name: "request lacks a required field", req: jsonRequest("POST", "/api/v1/things", `{}`), wantStatus: 400, wantErr: `"name"`},
		{name: "hostile request, response still checked", req: jsonRequest("POST", "/api/v1/things", `{}`), skipRequest: true, wantStatus: 400},
		{name: "POST with X-HTTP-Method-Override: PATCH is held to the PATCH", req: withHeader(jsonRequest("POST", "/api/v1/things/7/name", `{"name":"x"}`), "X-HTTP-Method-Override", "PATCH"), wantStatus: 200},
		{name: "the override does not excuse a bad body", req: withHeader(jsonRequest("POST", "/api/v1/things/7/name", `{}`), "X-HTTP-Method-Override", "PATCH"), wantStatus: 200, wantErr: `"name"`},
		{name: "POST without the override is not the PATCH", req: jsonRequest("POST", "/api/v1/things/7/name", `{"name":"x"}`), wantStatus: 200, wantErr: "no documented operation"},
		{name: "undocumented path", req: httptest.NewRequest("GET", "/api/v1/nothing", nil), wantStatus: 404, wantErr: "no documented operation"},
		{name: "undocumented path on purpose", req: httptest.NewRequest("GET", "/api/v1/nothing", nil), skipRequest: true, wantStatus: 404},
		{name: "undocumented path, error body of the wrong shape", req: httptest.NewRequest("GET", "/api/v1/nothing?break=shape", nil), skipRequest: true, wantStatus: 404, wantErr: `lacks "code"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := spec.Serve(h, apitest.Exchange{Request: tt.req, SkipRequestValidation: tt.skipRequest})
			if res == nil {
				t.Fatalf("Serve returned no response (err %v)", err)
			}
			if err != nil {
				t.Logf("contract check: %v", err)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", res.Status, tt.wantStatus, res.Body)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Serve reported a contract violation for a valid exchange:\n%v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Serve reported nothing, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Serve error = %v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestSpecServeBasePath shows a spec whose paths sit under a basePath
// matching requests sent with the full path.
func TestSpecServeBasePath(t *testing.T) {
	t.Parallel()
	spec := newThingsSpec(t, "/api/v1", "")
	tests := []struct {
		name    string
		target  string
		wantErr bool
	}{
		{name: "under the base path", target: "/api/v1/things/7"},
		{name: "outside the base path", target: "/things/7", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := spec.Serve(thingsHandler(), apitest.Exchange{Request: httptest.NewRequest("GET", tt.target, nil)})
			if (err != nil) != tt.wantErr {
				t.Errorf("Serve(%s) error = %v, want an error: %v", tt.target, err, tt.wantErr)
			}
		})
	}
}

func TestClientDo(t *testing.T) {
	t.Parallel()
	c := apitest.NewWithSpec(t, thingsHandler(), newThingsSpec(t, "/", "/api/v1"))

	t.Run("json body", func(t *testing.T) {
		res := c.Do("POST", "/api/v1/things", map[string]string{"name": "kettle"}, apitest.Bearer("tok"))
		if res.Status != http.StatusCreated {
			t.Fatalf("status = %d, want 201: %s", res.Status, res.Body)
		}
		var got struct{ ID, Name string }
		res.JSON(t, &got)
		if got.Name != "kettle" || got.ID == "" {
			t.Errorf("body = %+v, want name kettle and an id", got)
		}
	})
	t.Run("raw body on purpose", func(t *testing.T) {
		res := c.Do("POST", "/api/v1/things", nil, apitest.RawBody("application/json", []byte(`{"size":"huge"`)), apitest.SkipRequestValidation)
		if res.Status != http.StatusBadRequest || res.ErrorCode() != "invalid_request" {
			t.Errorf("got %d %s, want 400 invalid_request", res.Status, res.Body)
		}
	})
	t.Run("multipart", func(t *testing.T) {
		res := c.Do("PUT", "/api/v1/things/1/picture", nil,
			apitest.MultipartFile("file", "a.png", "image/png", []byte("\x89PNG\r\n\x1a\n")),
			apitest.Header("X-Request-ID", "r1"))
		if res.Status != http.StatusOK {
			t.Errorf("status = %d, want 200: %s", res.Status, res.Body)
		}
	})
	t.Run("bound to a subtest", func(t *testing.T) {
		t.Parallel()
		res := c.For(t).Do("GET", "/api/v1/things/9", nil)
		var got struct{ ID string }
		res.JSON(t, &got)
		if got.ID != "9" {
			t.Errorf("id = %q, want 9", got.ID)
		}
	})
	t.Run("raw request", func(t *testing.T) {
		req := httptest.NewRequest("DELETE", "/api/v1/things/1", nil)
		res := c.Raw(req)
		if res.Status != http.StatusNotFound || res.ErrorCode() != "not_found" {
			t.Errorf("got %d %s, want 404 not_found", res.Status, res.Body)
		}
	})
}

// TestRealSpec loads docs/swagger.json, found from the package directory,
// and holds a stand-in for the health endpoint to it: the real handlers are
// held to it by their own tests.
func TestRealSpec(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /healthz/broken", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	spec, err := apitest.LoadSpec()
	if err != nil {
		t.Fatalf("LoadSpec: %v", err)
	}
	tests := []struct {
		name    string
		target  string
		wantErr bool
	}{
		{name: "documented", target: "/healthz"},
		{name: "undocumented", target: "/healthz/broken", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := spec.Serve(mux, apitest.Exchange{Request: httptest.NewRequest("GET", tt.target, nil)})
			if (err != nil) != tt.wantErr {
				t.Errorf("Serve(GET %s) error = %v, want an error: %v", tt.target, err, tt.wantErr)
			}
		})
	}
	c := apitest.New(t, mux)
	var got struct{ Status string }
	c.Do("GET", "/healthz", nil).JSON(t, &got)
	if got.Status != "ok" {
		t.Errorf("status = %q, want ok", got.Status)
	}
}
