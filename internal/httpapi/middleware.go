package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

const (
	headerRequestID = "X-Request-ID"
	ctxRequestID    = "request_id"
)

// A client's request id is kept only when it is short and plain, so it is
// safe to echo and to log.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func requestIDMiddleware(c *gin.Context) {
	id := c.GetHeader(headerRequestID)
	if !validRequestID.MatchString(id) {
		id = uuid.NewString()
	}
	c.Set(ctxRequestID, id)
	c.Header(headerRequestID, id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		logger.LogAttrs(c.Request.Context(), level, "http request",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Duration("latency", time.Since(start)),
			slog.Int("bytes", c.Writer.Size()),
			slog.String("client_ip", c.ClientIP()),
		)
	}
}

// recovery turns a panic into the API's JSON 500 with the request id; the
// stack goes to the log, never to the client.
func recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // panics carry the value itself
				panic(rec)
			}
			logger.ErrorContext(c.Request.Context(), "panic serving request",
				"request_id", requestID(c), "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorBody{
				Code: "internal_error", Message: "something went wrong on our side", RequestID: requestID(c),
			})
		}()
		c.Next()
	}
}

var errTooLarge = failure.New(failure.TooLarge, "payload_too_large", "request body is too large")

// bodyLimit caps every request body; a declared length over the cap is
// refused before anything is read.
func bodyLimit(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			writeError(c, errTooLarge.With(fmt.Sprintf("request body is larger than %d bytes", limit), nil))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// isTooLarge reports whether reading the body hit bodyLimit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

var errBadQuery = failure.InvalidRequest("the query string is malformed (a bad %-escape or a ';' separator)")

// strictQuery refuses a query string that does not parse: Gin drops the
// pairs it cannot read without a word, so `?cursor=%%%x` would quietly
// serve the first page instead of saying the cursor is broken.
func strictQuery(c *gin.Context) {
	if _, err := url.ParseQuery(c.Request.URL.RawQuery); err != nil {
		writeError(c, errBadQuery)
		return
	}
	c.Next()
}

// securityHeaders are safe for JSON and for Swagger UI alike.
func securityHeaders(isHTTPS func(*gin.Context) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if isHTTPS(c) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		c.Next()
	}
}
