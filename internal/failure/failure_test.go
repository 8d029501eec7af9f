package failure_test

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Sentinels as domain packages declare them. errA and errTwin share kind
// and code (like the several not_found sentinels) but are distinct errors.
var (
	errA     = failure.New(failure.NotFound, "not_found", "a not found")
	errTwin  = failure.New(failure.NotFound, "not_found", "twin not found")
	errOther = failure.New(failure.Conflict, "conflict", "clash")
	errRate  = &failure.Error{Kind: failure.RateLimited, Code: "rate_limited", Message: "slow down", RetryAfter: time.Minute}
)

// causeError is a cause of a type of its own, for errors.As.
type causeError struct{ detail string }

func (c *causeError) Error() string { return "cause: " + c.detail }

func TestIs(t *testing.T) {
	t.Parallel()
	copyA := errA.With("with details", nil)
	copyOfCopy := copyA.With("more details", io.EOF)
	cause := &causeError{detail: "disk"}

	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{name: "a sentinel is itself", err: errA, target: errA, want: true},
		{name: "a copy is its sentinel", err: copyA, target: errA, want: true},
		{name: "a copy with an empty message is its sentinel", err: errA.With("", nil), target: errA, want: true},
		{name: "a copy of a copy is the original sentinel", err: copyOfCopy, target: errA, want: true},
		{name: "a copy of a copy is the copy it came from", err: copyOfCopy, target: copyA, want: true},
		{name: "a sentinel is not a copy of itself", err: errA, target: copyA, want: false},
		{name: "two copies of one sentinel are not each other", err: errA.With("one", nil), target: errA.With("two", nil), want: false},
		{name: "a twin with the same kind and code is not the sentinel", err: errTwin, target: errA, want: false},
		{name: "the sentinel is not its twin", err: errA, target: errTwin, want: false},
		{name: "a copy of the twin is not the sentinel", err: errTwin.With("details", nil), target: errA, want: false},
		{name: "a copy is not its sentinel's twin", err: copyA, target: errTwin, want: false},
		{name: "another kind and code do not match", err: errOther.With("", nil), target: errA, want: false},
		{name: "two InvalidRequest errors are distinct", err: failure.InvalidRequest("x"), target: failure.InvalidRequest("x"), want: false},
		{name: "a literal sentinel's copy is the literal", err: errRate.With("", nil), target: errRate, want: true},
		{name: "wrapped with %w", err: fmt.Errorf("loading: %w", copyA), target: errA, want: true},
		{name: "wrapped twice with %w", err: fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", copyOfCopy)), target: errA, want: true},
		{name: "wrapped with %w is still not the twin", err: fmt.Errorf("loading: %w", copyA), target: errTwin, want: false},
		{name: "wrapped with %v loses identity", err: fmt.Errorf("loading: %v", copyA), target: errA, want: false},
		{name: "the cause is reachable", err: errA.With("", io.EOF), target: io.EOF, want: true},
		{name: "a cause wrapped with %w is reachable", err: errA.With("", fmt.Errorf("read: %w", io.EOF)), target: io.EOF, want: true},
		{name: "a copy of a copy reaches its own cause", err: copyOfCopy, target: io.EOF, want: true},
		{name: "a sentinel as the cause is reachable", err: errOther.With("", copyA), target: errA, want: true},
		{name: "a copy with a sentinel as cause is still its own sentinel", err: errOther.With("", copyA), target: errOther, want: true},
		{name: "a cause's twin does not match", err: errOther.With("", copyA), target: errTwin, want: false},
		{name: "a typed cause is reachable by identity", err: errA.With("", cause), target: cause, want: true},
		{name: "a plain error target", err: copyA, target: errors.New("not_found: a not found"), want: false},
		{name: "a plain error is no sentinel", err: errors.New("not_found: a not found"), target: errA, want: false},
		{name: "nil is no sentinel", err: nil, target: errA, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v; want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

func TestWith(t *testing.T) {
	t.Parallel()
	cause := errors.New("disk full")
	tests := []struct {
		name    string
		from    *failure.Error
		message string
		cause   error
		want    failure.Error // Kind, Code, Message, RetryAfter, Err of the copy
	}{
		{
			name: "new message and cause", from: errA, message: "wallpaper not found", cause: cause,
			want: failure.Error{Kind: failure.NotFound, Code: "not_found", Message: "wallpaper not found", Err: cause},
		},
		{
			name: "empty message keeps the sentinel's", from: errA, cause: cause,
			want: failure.Error{Kind: failure.NotFound, Code: "not_found", Message: "a not found", Err: cause},
		},
		{
			name: "no cause", from: errOther, message: "key reused",
			want: failure.Error{Kind: failure.Conflict, Code: "conflict", Message: "key reused"},
		},
		{
			name: "RetryAfter is kept", from: errRate, cause: cause,
			want: failure.Error{Kind: failure.RateLimited, Code: "rate_limited", Message: "slow down", RetryAfter: time.Minute, Err: cause},
		},
		{
			name: "RetryAfter is kept through a copy of a copy", from: errRate.With("slower", nil), message: "slowest",
			want: failure.Error{Kind: failure.RateLimited, Code: "rate_limited", Message: "slowest", RetryAfter: time.Minute},
		},
		{
			name: "the copy's cause replaces the copied one", from: errA.With("", io.EOF), cause: cause,
			want: failure.Error{Kind: failure.NotFound, Code: "not_found", Message: "a not found", Err: cause},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := *tt.from
			got := tt.from.With(tt.message, tt.cause)
			if got == tt.from {
				t.Fatal("With returned its receiver, not a copy")
			}
			if got.Kind != tt.want.Kind || got.Code != tt.want.Code || got.Message != tt.want.Message ||
				got.RetryAfter != tt.want.RetryAfter || got.Err != tt.want.Err {
				t.Errorf("With(%q, %v) = %+v; want %+v", tt.message, tt.cause, *got, tt.want)
			}
			if tt.from.Message != before.Message || tt.from.Err != before.Err {
				t.Errorf("With changed its receiver: %+v; was %+v", *tt.from, before)
			}
			if !errors.Is(got, tt.from) {
				t.Errorf("errors.Is(copy, the error it was copied from) = false")
			}
			if fe := failure.From(fmt.Errorf("wrapped: %w", got)); fe != got || fe.RetryAfter != tt.want.RetryAfter {
				t.Errorf("From(wrapped copy) = %+v; want the copy with RetryAfter %v", fe, tt.want.RetryAfter)
			}
		})
	}
}

func TestFrom(t *testing.T) {
	t.Parallel()
	copyA := errA.With("details", io.EOF)
	outer := errOther.With("", copyA)
	tests := []struct {
		name string
		err  error
		want *failure.Error
	}{
		{name: "nil", err: nil, want: nil},
		{name: "a plain error", err: errors.New("boom"), want: nil},
		{name: "a plain error wrapping io.EOF", err: fmt.Errorf("read: %w", io.EOF), want: nil},
		{name: "a sentinel", err: errA, want: errA},
		{name: "a copy", err: copyA, want: copyA},
		{name: "a copy wrapped with %w", err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", copyA)), want: copyA},
		{name: "the outermost of nested errors", err: fmt.Errorf("a: %w", outer), want: outer},
		{name: "wrapped with %v is lost", err: fmt.Errorf("a: %v", copyA), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := failure.From(tt.err); got != tt.want {
				t.Errorf("From(%v) = %v; want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestCauseReachableWithAs(t *testing.T) {
	t.Parallel()
	cause := &causeError{detail: "disk"}
	tests := []struct {
		name string
		err  error
	}{
		{name: "direct cause", err: errA.With("", cause)},
		{name: "cause wrapped with %w", err: errA.With("", fmt.Errorf("saving: %w", cause))},
		{name: "copy wrapped with %w", err: fmt.Errorf("loading: %w", errA.With("", cause))},
		{name: "cause of a copy of a copy", err: errA.With("", cause).With("more", cause)},
		{name: "cause under another failure", err: errOther.With("", errA.With("", cause))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *causeError
			if !errors.As(tt.err, &got) || got != cause {
				t.Errorf("errors.As(%v, *causeError) = %v; want the cause", tt.err, got)
			}
		})
	}
}

func TestInvalidRequest(t *testing.T) {
	t.Parallel()
	err := failure.InvalidRequest("prompt is required")
	if err.Kind != failure.Invalid || err.Code != "invalid_request" || err.Message != "prompt is required" || err.Err != nil {
		t.Errorf("InvalidRequest = %+v; want Invalid, invalid_request, the message, no cause", *err)
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "sentinel", err: errA, want: "not_found: a not found"},
		{name: "with a cause", err: errA.With("wallpaper not found", io.EOF), want: "not_found: wallpaper not found: EOF"},
		{name: "wrapped", err: fmt.Errorf("loading: %w", errOther.With("", nil)), want: "loading: conflict: clash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
		})
	}
}
