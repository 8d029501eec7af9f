package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// ErrorBody is every error response of the API.
type ErrorBody struct {
	Code      string `json:"code" example:"not_found"`
	Message   string `json:"message" example:"wallpaper not found"`
	RequestID string `json:"request_id" example:"4f9c2a1e-2d1b-4f0e-9a53-2c8e2f1b7a10"`
}

var statusOf = map[failure.Kind]int{
	failure.Internal:         http.StatusInternalServerError,
	failure.Invalid:          http.StatusBadRequest,
	failure.Unauthorized:     http.StatusUnauthorized,
	failure.Forbidden:        http.StatusForbidden,
	failure.NotFound:         http.StatusNotFound,
	failure.Conflict:         http.StatusConflict,
	failure.TooLarge:         http.StatusRequestEntityTooLarge,
	failure.UnsupportedMedia: http.StatusUnsupportedMediaType,
	failure.Rejected:         http.StatusUnprocessableEntity,
	failure.RateLimited:      http.StatusTooManyRequests,
	failure.Upstream:         http.StatusBadGateway,
	failure.Unavailable:      http.StatusServiceUnavailable,
}

// writeError is the one place an error becomes an HTTP response. Errors
// with a failure kind show their code and message (the adapters give a
// dependency that cannot serve right now the kind Unavailable: a 503);
// anything else is a 500 whose details stay in the log.
func writeError(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client went away mid-request: nobody reads the answer, and it
		// is not our fault. 499 is the de-facto status for it in logs.
		c.AbortWithStatus(499)
		return
	}
	fe := failure.From(err)
	if fe == nil || fe.Kind == failure.Internal {
		logger(c).ErrorContext(c.Request.Context(), "internal error", "err", err, "request_id", requestID(c), "route", c.FullPath())
		c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorBody{
			Code: "internal_error", Message: "something went wrong on our side", RequestID: requestID(c),
		})
		return
	}
	status := statusOf[fe.Kind]
	if errors.Is(err, errNoMethod) {
		status = http.StatusMethodNotAllowed
	}
	if fe.Err != nil || status >= 500 {
		logger(c).WarnContext(c.Request.Context(), "request failed", "code", fe.Code, "err", err, "request_id", requestID(c))
	}
	if fe.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(fe.RetryAfter.Seconds()))))
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="wallpaperd"`)
	}
	c.AbortWithStatusJSON(status, ErrorBody{Code: fe.Code, Message: fe.Message, RequestID: requestID(c)})
}

// loggerKey holds the router's logger in each request's context.
const loggerKey = "wallpaperd.logger"

// withLogger makes the injected logger reachable where only the request
// is (writeError).
func withLogger(l *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) { c.Set(loggerKey, l) }
}

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
