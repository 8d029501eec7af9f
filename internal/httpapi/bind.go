package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

var errNotJSON = failure.New(failure.UnsupportedMedia, "unsupported_media_type", "send the body as application/json")

// bindJSON decodes the request body into dst strictly: one JSON object,
// known fields only, right types. Every problem is a clear 400 (or 413 for
// a body over the limit, 415 for a body that is not JSON) and nothing else
// happens. Field rules beyond types are the domain's to check.
func bindJSON(c *gin.Context, dst any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errNotJSON
		}
	}
	dec := json.NewDecoder(c.Request.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return decodeError(err)
	}
	// A bare null decodes into any struct without a word: refuse it like
	// any other body that is not an object.
	if raw[0] != '{' {
		return failure.InvalidRequest("the body must be a JSON object")
	}
	// encoding/json turns invalid UTF-8 inside strings into U+FFFD, so a
	// prompt or nickname of broken bytes would be stored mangled instead
	// of refused; JSON is UTF-8 (RFC 8259), so refuse the body.
	if !utf8.Valid(raw) {
		return failure.InvalidRequest("the body is not valid UTF-8")
	}
	fields := json.NewDecoder(bytes.NewReader(raw))
	fields.DisallowUnknownFields()
	if err := fields.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if isTooLarge(err) {
			return errTooLarge
		}
		return failure.InvalidRequest("the body must be a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case isTooLarge(err):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return failure.InvalidRequest("the body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return failure.InvalidRequest("the body is truncated JSON")
	case errors.As(err, &syn):
		return failure.InvalidRequest(fmt.Sprintf("the body is not valid JSON (at byte %d)", syn.Offset))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return failure.InvalidRequest("the body must be a JSON object")
		}
		return failure.InvalidRequest(fmt.Sprintf("field %q must be a %s", typ.Field, jsonKind(typ.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return failure.InvalidRequest("unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return failure.InvalidRequest("the body is not valid JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int32", "int64", "float64":
		return "number"
	case "ptr":
		return "value of the documented type"
	default:
		return goKind
	}
}
