// Package failure is wallpaperd's small vocabulary of error kinds. Domain
// packages declare their sentinels with it; httpapi maps a Kind to an HTTP
// status in one place. An error without a Kind is an internal error.
package failure

import (
	"errors"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds, each with one HTTP status in httpapi.
const (
	Internal         Kind = iota // a bug or an unclassified fault: 500
	Invalid                      // bad input: 400
	Unauthorized                 // missing or bad credentials: 401
	Forbidden                    // known caller, not allowed: 403
	NotFound                     // no such thing, or not the caller's to see: 404
	Conflict                     // clashes with the current state: 409
	TooLarge                     // body over the limit: 413
	UnsupportedMedia             // content type not accepted: 415
	Rejected                     // well-formed but refused by moderation: 422
	RateLimited                  // too many requests, or out of quota: 429
	Upstream                     // a dependency failed: 502
	Unavailable                  // temporarily unable to serve: 503
)

// Error is an error with a kind, a stable snake_case code for clients and a
// message safe to show them. Err, when set, is the cause, for logs only.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	RetryAfter time.Duration // for RateLimited and Unavailable
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, sentinel) match any *Error with the sentinel's
// kind and code, so that sentinels can be returned with details attached.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Code == e.Code
}

// New returns an error of the given kind and code.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// InvalidRequest returns an Invalid error with the code invalid_request.
func InvalidRequest(message string) *Error {
	return &Error{Kind: Invalid, Code: "invalid_request", Message: message}
}

// With returns a copy of e with another message and a cause.
func (e *Error) With(message string, cause error) *Error {
	c := *e
	if message != "" {
		c.Message = message
	}
	c.Err = cause
	return &c
}

// From returns the *Error in err's chain, or nil.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
