// Package apitest is the HTTP test client that keeps the code and the
// published API contract honest: every request a test sends and every
// response it gets back is checked against docs/swagger.json, so a handler
// that answers with an undocumented status or shape fails its test.
//
// Swag marks no field nullable, so a JSON null where the spec has an object
// or an array (a nil pointer or slice without omitempty) breaks the
// contract: send an empty list as [] and leave absent fields out.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// SpecFile is where the generated Swagger 2.0 document lives, relative to
// the module root.
const SpecFile = "docs/swagger.json"

// methodOverrideHeader turns a POST into a PATCH (see httpapi).
const methodOverrideHeader = "X-HTTP-Method-Override"

// errorSchemaName is the swag name of the API's one error body; responses to
// requests that match no documented operation are checked against it.
const errorSchemaName = "httpapi.ErrorBody"

// Spec is the API contract: the Swagger 2.0 document converted to OpenAPI 3
// and a router that finds the operation a request is meant for.
type Spec struct {
	doc    *openapi3.T
	router routers.Router
}

// LoadSpec reads docs/swagger.json from the module root, found by walking up
// from the working directory (a test's package directory) to go.mod. The
// document is read and checked once per test binary; every caller shares
// the result, which validation only reads.
func LoadSpec() (*Spec, error) { return loadSpecOnce() }

// loadSpecOnce spares each test the parse and the document check (tens of
// milliseconds, more under -race).
var loadSpecOnce = sync.OnceValues(loadSpec)

func loadSpec() (*Spec, error) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, SpecFile))
	if err != nil {
		return nil, fmt.Errorf("apitest: read the spec: %w", err)
	}
	return ParseSpec(data)
}

// ParseSpec builds a Spec from a Swagger 2.0 JSON document.
func ParseSpec(swagger2 []byte) (*Spec, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(swagger2, &doc2); err != nil {
		return nil, fmt.Errorf("apitest: parse the Swagger 2.0 document: %w", err)
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("apitest: convert Swagger 2.0 to OpenAPI 3: %w", err)
	}
	// Requests in tests are path-only ("/api/v1/me"), while a Swagger 2.0
	// host turns into an absolute server URL; a relative server made of the
	// base path alone matches what the tests send, whatever the host says.
	base := strings.TrimSuffix(doc2.BasePath, "/")
	doc.Servers = openapi3.Servers{{URL: base + "/"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("apitest: the spec is not a valid OpenAPI document: %w", err)
	}
	return &Spec{doc: doc, router: router}, nil
}

// Exchange is one request sent through a handler under the contract's eye.
type Exchange struct {
	// Request is sent as is; its body, if any, is read once.
	Request *http.Request
	// SkipRequestValidation sends a deliberately malformed request; the
	// response is still checked.
	SkipRequestValidation bool
}

// Serve validates the request against the spec, runs it through h, and
// validates the response: its status must be documented for the operation
// and its body must match the documented schema. It always returns the
// response it got; the error joins every contract violation found.
func (s *Spec) Serve(h http.Handler, ex Exchange) (*Response, error) {
	req := ex.Request
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("apitest: read the request body: %w", err)
		}
		_ = req.Body.Close()
	}
	ctx := req.Context()

	// wx.request cannot send PATCH, so the server lets a POST with
	// X-HTTP-Method-Override: PATCH reach the PATCH route; the spec
	// documents the PATCH, and that is what such a request is held to.
	asSent := req
	if req.Method == http.MethodPost && strings.EqualFold(req.Header.Get(methodOverrideHeader), http.MethodPatch) {
		asSent = req.Clone(ctx)
		asSent.Method = http.MethodPatch
	}

	var errs []error
	route, pathParams, routeErr := s.router.FindRoute(asSent)
	var input *openapi3filter.RequestValidationInput
	if routeErr == nil {
		input = &openapi3filter.RequestValidationInput{
			Request:    cloneWithBody(asSent, body),
			PathParams: pathParams,
			Route:      route,
			Options: &openapi3filter.Options{
				// Authentication is tested for real against the handler;
				// here only the shape of the request counts.
				AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
				IncludeResponseStatus: true,
				MultiError:            true,
			},
		}
		if !ex.SkipRequestValidation {
			if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
				errs = append(errs, fmt.Errorf("request %s %s does not match the spec: %w", req.Method, req.URL.RequestURI(), err))
			}
		}
	} else if !ex.SkipRequestValidation {
		errs = append(errs, fmt.Errorf("request %s %s: no documented operation: %w", req.Method, req.URL.Path, routeErr))
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, cloneWithBody(req, body))
	res := &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}

	if input != nil {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: input,
			Status:                 res.Status,
			Header:                 res.Header,
			Options:                input.Options,
		}
		out.SetBodyBytes(res.Body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			errs = append(errs, fmt.Errorf("response %d to %s %s does not match the spec: %w\nbody: %s",
				res.Status, req.Method, req.URL.RequestURI(), err, clip(res.Body)))
		}
	} else if err := s.checkErrorBody(ctx, res); err != nil {
		errs = append(errs, fmt.Errorf("response %d to undocumented %s %s: %w\nbody: %s",
			res.Status, req.Method, req.URL.Path, err, clip(res.Body)))
	}
	return res, errors.Join(errs...)
}

// checkErrorBody holds a response to a request that matches no operation
// (an unknown path, a wrong method) to the one error shape every endpoint
// shares.
func (s *Spec) checkErrorBody(_ context.Context, res *Response) error {
	if res.Status < 400 {
		return fmt.Errorf("a request that matches no documented operation got a non-error status")
	}
	ref := s.doc.Components.Schemas[errorSchemaName]
	if ref == nil || ref.Value == nil {
		return nil // a spec without the shared error body has nothing to hold it to
	}
	var v any
	if err := json.Unmarshal(res.Body, &v); err != nil {
		return fmt.Errorf("the error body is not JSON: %w", err)
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		return fmt.Errorf("the error body does not match %s: %w", errorSchemaName, err)
	}
	obj, _ := v.(map[string]any)
	for _, k := range []string{"code", "message", "request_id"} {
		if s, _ := obj[k].(string); s == "" {
			return fmt.Errorf("the error body lacks %q", k)
		}
	}
	return nil
}

// cloneWithBody gives the validator and the handler each their own copy of
// the request, since both read the body.
func cloneWithBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(r.Context())
	if body == nil {
		c.Body = http.NoBody
		c.ContentLength = 0
		return c
	}
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return c
}

// clip keeps failure messages readable when a body is large or binary.
func clip(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
