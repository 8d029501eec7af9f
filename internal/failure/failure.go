// Package failure is wallpaperd's small vocabulary of error kinds. Domain
// packages declare their sentinels with it; httpapi maps a Kind to an HTTP
// status in one place. An error without a Kind is an internal error.
//
// Kind and Code are what clients see, and several sentinels share them
// (every "not found" is NotFound and not_found). Identity is what code
// tests: errors.Is matches a sentinel only against itself and the copies
// With made of it, never against another sentinel with the same kind and
// code.
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

	// origin is the error With copied this one from (nil for one made by
	// New or a literal): errors.Is follows it back to the sentinel.
	origin *Error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, sentinel) true when err was made from sentinel
// by With (directly or through further copies), so that sentinels can be
// returned with details attached. Another sentinel does not match, even
// with the same kind and code; the cause is matched by errors.Is itself,
// through Unwrap.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	for o := e; o != nil; o = o.origin {
		if o == t {
			return true
		}
	}
	return false
}

// New returns an error of the given kind and code.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// InvalidRequest returns an Invalid error with the code invalid_request.
func InvalidRequest(message string) *Error {
	return &Error{Kind: Invalid, Code: "invalid_request", Message: message}
}

// With returns a copy of e with another message (unless message is empty)
// and a cause. The copy keeps e's kind, code and RetryAfter, and matches e
// (and whatever e was copied from) with errors.Is.
func (e *Error) With(message string, cause error) *Error {
	c := *e
	if message != "" {
		c.Message = message
	}
	c.Err = cause
	c.origin = e
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
