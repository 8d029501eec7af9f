package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"testing"
)

// Client sends requests to a handler in process and fails the test when a
// request or a response breaks the contract in docs/swagger.json.
type Client struct {
	t       testing.TB
	handler http.Handler
	spec    *Spec
}

// New loads docs/swagger.json and returns a client for handler. A spec that
// cannot be loaded ends the test at once.
func New(t testing.TB, handler http.Handler) *Client {
	t.Helper()
	spec, err := LoadSpec()
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	return &Client{t: t, handler: handler, spec: spec}
}

// NewWithSpec is New with a spec of the caller's choosing.
func NewWithSpec(t testing.TB, handler http.Handler, spec *Spec) *Client {
	return &Client{t: t, handler: handler, spec: spec}
}

// For returns a client for the same handler and spec that reports to t,
// so a violation found in a subtest fails that subtest.
func (c *Client) For(t testing.TB) *Client {
	return &Client{t: t, handler: c.handler, spec: c.spec}
}

// Spec is the contract the client checks against.
func (c *Client) Spec() *Spec { return c.spec }

// Response is what the handler answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v and ends the test when it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("apitest: decode the %d response %s: %v", r.Status, clip(r.Body), err)
	}
}

// ErrorCode is the code of an error body, or "" when the body is not one.
func (r *Response) ErrorCode() string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Code
}

// Do sends method path (with any query string) to the handler. A body other
// than nil is sent as JSON (a json.RawMessage or []byte verbatim, anything
// else marshalled) unless an option supplies the body. Contract violations
// are reported with t.Errorf; the response is returned either way so the
// test can go on checking it.
func (c *Client) Do(method, path string, body any, opts ...Option) *Response {
	c.t.Helper()
	rq := &request{header: http.Header{}}
	if body != nil {
		switch b := body.(type) {
		case json.RawMessage:
			rq.body = b
		case []byte:
			rq.body = b
		default:
			data, err := json.Marshal(body)
			if err != nil {
				c.t.Fatalf("apitest: marshal the %s %s body: %v", method, path, err)
			}
			rq.body = data
		}
		rq.header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o.apply(rq)
	}
	if rq.err != nil {
		c.t.Fatalf("apitest: build %s %s: %v", method, path, rq.err)
	}
	var rd io.Reader
	if rq.body != nil {
		rd = bytes.NewReader(rq.body)
	}
	req := httptest.NewRequest(method, path, rd)
	for k, vs := range rq.header {
		req.Header[k] = vs
	}
	return c.send(Exchange{Request: req, SkipRequestValidation: rq.skipRequest})
}

// Raw sends a hand-built request without checking it against the spec, for
// hostile input the spec rightly forbids; the response is still checked.
func (c *Client) Raw(req *http.Request) *Response {
	c.t.Helper()
	return c.send(Exchange{Request: req, SkipRequestValidation: true})
}

func (c *Client) send(ex Exchange) *Response {
	c.t.Helper()
	res, err := c.spec.Serve(c.handler, ex)
	if err != nil {
		c.t.Errorf("apitest: the API broke its contract (docs/swagger.json):\n%v", err)
	}
	if res == nil {
		c.t.FailNow()
	}
	return res
}

// request is what the options shape before it is sent.
type request struct {
	header      http.Header
	body        []byte
	skipRequest bool
	multipart   *multipart.Writer
	multiBuf    *bytes.Buffer
	err         error
}

// Option shapes a request sent by Do.
type Option interface{ apply(*request) }

type optionFunc func(*request)

func (f optionFunc) apply(r *request) { f(r) }

type skipRequestValidation struct{}

func (skipRequestValidation) apply(r *request) { r.skipRequest = true }

// SkipRequestValidation sends the request even though it breaks the spec
// (a bad enum, a missing field) so a test can check how the API refuses it;
// the response is still held to the spec.
var SkipRequestValidation Option = skipRequestValidation{}

// Bearer sends the access token in the Authorization header.
func Bearer(token string) Option {
	return optionFunc(func(r *request) { r.header.Set("Authorization", "Bearer "+token) })
}

// Header sets a request header.
func Header(key, value string) Option {
	return optionFunc(func(r *request) { r.header.Set(key, value) })
}

// RawBody sends body verbatim with the given content type, replacing any
// body passed to Do.
func RawBody(contentType string, body []byte) Option {
	return optionFunc(func(r *request) {
		r.body = body
		r.header.Set("Content-Type", contentType)
	})
}

// MultipartFile adds a file part to a multipart/form-data body, replacing any
// body passed to Do. Several multipart options build one body together.
func MultipartFile(field, filename, contentType string, content []byte) Option {
	return optionFunc(func(r *request) {
		w := r.multipartWriter()
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", multipartDisposition(field, filename))
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		part, err := w.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, bytes.NewReader(content))
		}
		r.finishMultipart(err)
	})
}

// MultipartField adds a plain form field to a multipart/form-data body.
func MultipartField(field, value string) Option {
	return optionFunc(func(r *request) {
		r.finishMultipart(r.multipartWriter().WriteField(field, value))
	})
}

func (r *request) multipartWriter() *multipart.Writer {
	if r.multipart == nil {
		r.multiBuf = &bytes.Buffer{}
		r.multipart = multipart.NewWriter(r.multiBuf)
	}
	return r.multipart
}

// finishMultipart closes a copy of the form after every part so the body
// is complete whichever multipart option comes last.
func (r *request) finishMultipart(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
	body := append([]byte(nil), r.multiBuf.Bytes()...)
	body = append(body, []byte("\r\n--"+r.multipart.Boundary()+"--\r\n")...)
	r.body = body
	r.header.Set("Content-Type", r.multipart.FormDataContentType())
}

func multipartDisposition(field, filename string) string {
	escape := func(s string) string {
		var b bytes.Buffer
		for _, c := range s {
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return `form-data; name="` + escape(field) + `"; filename="` + escape(filename) + `"`
}
