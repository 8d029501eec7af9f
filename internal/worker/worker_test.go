package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// painterFunc is a Painter made of a function.
type painterFunc func(ctx context.Context, id uuid.UUID, attempt int, lastAttempt bool) error

func (f painterFunc) Paint(ctx context.Context, id uuid.UUID, attempt int, last bool) error {
	return f(ctx, id, attempt, last)
}

func job(id int64, attempt, maxAttempts int) *river.Job[GenerateArgs] {
	return &river.Job[GenerateArgs]{
		JobRow: &rivertype.JobRow{ID: id, Attempt: attempt, MaxAttempts: maxAttempts, AttemptedAt: ptr(time.Now())},
		Args:   GenerateArgs{GenerationID: uuid.New()},
	}
}

func ptr[T any](v T) *T { return &v }

func TestGenerateWorkerOutcomes(t *testing.T) {
	retry := backoff{base: time.Second, max: time.Minute}
	tests := []struct {
		name       string
		paintErr   error
		attempt    int
		wantCancel bool
		wantErr    bool
		// the next attempt comes no sooner than this
		minDelay time.Duration
		maxDelay time.Duration
	}{
		{"success", nil, 1, false, false, 0, 0},
		{"finished as failed: cancelled, never retried", wallpaper.ErrFinished, 1, true, true, 0, 0},
		{"retryable without a hint: back-off", &wallpaper.ImageError{Code: "upstream_unavailable", Retryable: true}, 2, false, true, 1500 * time.Millisecond, 2500 * time.Millisecond},
		{"429 with Retry-After: waits for it", &wallpaper.ImageError{Code: "upstream_rate_limited", Retryable: true, RetryAfter: 30 * time.Second}, 1, false, true, 29 * time.Second, 31 * time.Second},
		{"Retry-After shorter than the back-off: back-off", &wallpaper.ImageError{Code: "upstream_rate_limited", Retryable: true, RetryAfter: time.Millisecond}, 3, false, true, 3 * time.Second, 5 * time.Second},
		{"absurd Retry-After is capped", &wallpaper.ImageError{Code: "upstream_rate_limited", Retryable: true, RetryAfter: 48 * time.Hour}, 1, false, true, maxRetryAfter - time.Second, maxRetryAfter + time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &generateWorker{backoff: retry, painter: painterFunc(func(context.Context, uuid.UUID, int, bool) error { return tt.paintErr })}
			j := job(int64(i+1), tt.attempt, 5)
			err := w.Work(context.Background(), j)
			var cancel *river.JobCancelError
			if got := errors.As(err, &cancel); got != tt.wantCancel {
				t.Errorf("Work = %v, cancelled = %v, want %v", err, got, tt.wantCancel)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Work = %v, want an error: %v", err, tt.wantErr)
			}
			if !tt.wantErr || tt.wantCancel {
				return
			}
			delay := time.Until(w.NextRetry(j))
			if delay < tt.minDelay || delay > tt.maxDelay {
				t.Errorf("next attempt in %s, want between %s and %s", delay, tt.minDelay, tt.maxDelay)
			}
			// The hint is used once.
			if _, left := w.hints.Load(j.ID); left {
				t.Error("the Retry-After hint outlived its retry")
			}
		})
	}
}

func TestLastAttemptIsSaidToThePainter(t *testing.T) {
	var sawLast []bool
	w := &generateWorker{painter: painterFunc(func(_ context.Context, _ uuid.UUID, _ int, last bool) error {
		sawLast = append(sawLast, last)
		return nil
	})}
	for attempt := 1; attempt <= 3; attempt++ {
		if err := w.Work(context.Background(), job(1, attempt, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if want := []bool{false, false, true}; len(sawLast) != 3 || sawLast[0] != want[0] || sawLast[1] != want[1] || sawLast[2] != want[2] {
		t.Errorf("lastAttempt per attempt = %v, want %v", sawLast, want)
	}
}
