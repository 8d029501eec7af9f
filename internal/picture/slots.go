package picture

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/semaphore"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// ErrBusy is a decode that found no free slot before its context's
// deadline: other images hold them all. It is a 503 that may succeed soon.
var ErrBusy = failure.ErrUnavailable.With("the server is busy with other images: try again shortly", nil)

// Slots bounds how many images are decoded and processed at once in the
// process. One decode may take tens of MiB however few bytes were sent, so
// the process's memory for images is the number of slots times what
// Limits allow one image; requests beyond wait for a slot. A nil *Slots
// bounds nothing.
type Slots struct {
	sem *semaphore.Weighted
}

// NewSlots returns n slots (at least one).
func NewSlots(n int) *Slots {
	return &Slots{sem: semaphore.NewWeighted(int64(max(n, 1)))}
}

// Do runs f in a slot, waiting for one while ctx lasts. When ctx's
// deadline passes first it returns ErrBusy (wrapping the deadline); when
// ctx is cancelled, ctx's error.
func (s *Slots) Do(ctx context.Context, f func() error) error {
	if s == nil {
		return f()
	}
	if err := s.sem.Acquire(ctx, 1); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ErrBusy.With("", fmt.Errorf("picture: waiting for a decoding slot: %w", err))
		}
		return fmt.Errorf("picture: waiting for a decoding slot: %w", err)
	}
	defer s.sem.Release(1)
	return f()
}
