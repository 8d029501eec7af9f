package wallpaper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Errors of the generation flow.
var (
	ErrNotFound      = failure.New(failure.NotFound, "not_found", "not found")
	ErrQuotaExceeded = failure.New(failure.RateLimited, "quota_exceeded", "today's generations are used up")
	ErrModeration    = failure.New(failure.Upstream, "upstream_error", "the moderation service did not answer: try again")
)

// NewGeneration is an accepted request as the store records it.
type NewGeneration struct {
	Generation
	QuotaDay       time.Time // the quota day charged, a date in QuotaPolicy's zone
	DailyLimit     int
	IdempotencyKey string // optional
	RequestHash    []byte
}

// GenerationStore keeps generations.
type GenerationStore interface {
	// IdempotentReplay returns the live generation the user's idempotency
	// key names (ErrIdempotencyConflict when its request hash differs), or
	// nil when the key names none. It spends nothing.
	IdempotentReplay(ctx context.Context, userID uuid.UUID, key string, requestHash []byte) (*Generation, error)
	// CreateGeneration, in one transaction: returns the live generation with
	// the same idempotency key (ErrIdempotencyConflict when its request hash
	// differs) without spending; otherwise spends one quota unit
	// (ErrQuotaExceeded when none is left), records the generation and
	// enqueues its job. created says which happened.
	CreateGeneration(ctx context.Context, g NewGeneration) (out *Generation, created bool, err error)
	// Generation returns one generation with its wallpaper, or ErrNotFound.
	Generation(ctx context.Context, id uuid.UUID) (*Generation, error)
	// ListGenerations returns a user's generations older than after
	// (nil: from the newest), newest first.
	ListGenerations(ctx context.Context, userID uuid.UUID, after *Cursor, limit int) ([]Generation, error)
}

// QuotaStore reads quota use.
type QuotaStore interface {
	QuotaUsed(ctx context.Context, userID uuid.UUID, day time.Time) (int, error)
}

// PromptChecker is external moderation (WeChat msgSecCheck); it returns
// ErrPromptRejected for a refused prompt.
type PromptChecker interface {
	CheckPrompt(ctx context.Context, userID uuid.UUID, prompt string) error
}

// QuotaPolicy is the daily allowance and the zone whose midnight resets it.
type QuotaPolicy struct {
	DailyLimit int
	Location   *time.Location
}

// Day is the quota day of t: its date in the policy's zone, as a UTC
// midnight (the form a SQL date takes).
func (p QuotaPolicy) Day(t time.Time) time.Time {
	y, m, d := t.In(p.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ResetsAt is the next midnight after t in the policy's zone.
func (p QuotaPolicy) ResetsAt(t time.Time) time.Time {
	y, m, d := t.In(p.Location).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, p.Location)
}

// Service runs the generation flow: accepting prompts and reporting on them.
// The job that paints is in the worker package, calling Jobs.
type Service struct {
	gens      GenerationStore
	quota     QuotaStore
	moderator PromptChecker
	policy    QuotaPolicy
	cursors   CursorCodec
	now       func() time.Time
}

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Generations GenerationStore
	Quota       QuotaStore
	Moderator   PromptChecker // nil: local rules only
	Policy      QuotaPolicy
	Cursors     CursorCodec
	Now         func() time.Time // nil: time.Now
}

// NewService returns a Service.
func NewService(c ServiceConfig) *Service {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Service{gens: c.Generations, quota: c.Quota, moderator: c.Moderator,
		policy: c.Policy, cursors: c.Cursors, now: now}
}

// SubmitInput is a user's generation request.
type SubmitInput struct {
	Prompt         string
	Options        Options
	IdempotencyKey string
	// Public sends the wallpaper to the public gallery (once the image
	// check approves it); nil is the default, true.
	Public *bool
	// Preset is a style's id (Presets); "" for none.
	Preset string
	// Notify sends the user a subscribe message when the generation
	// settles (they accepted it in the mini-program).
	Notify bool
}

// Submit validates a request, answers an Idempotency-Key replay with the
// original generation, checks the quota, moderates the prompt, and only
// then spends a quota unit and queues the generation. The order keeps
// WeChat's moderation allowance, shared by every user of the app, for
// requests that can be accepted: a replay or a user out of quota never
// reaches the moderator. Bad or rejected input spends nothing. created is
// false when an Idempotency-Key replay returned the original generation.
func (s *Service) Submit(ctx context.Context, userID uuid.UUID, in SubmitInput) (g *Generation, created bool, err error) {
	prompt, err := NormalizePrompt(in.Prompt)
	if err != nil {
		return nil, false, err
	}
	opts := in.Options
	if err := opts.Validate(); err != nil {
		return nil, false, err
	}
	if err := checkIdempotencyKey(in.IdempotencyKey); err != nil {
		return nil, false, err
	}
	if _, ok := PresetByID(in.Preset); in.Preset != "" && !ok {
		return nil, false, ErrUnknownPreset
	}
	public := in.Public == nil || *in.Public
	hash := requestHash(prompt, opts, requestExtras{public: public, preset: in.Preset, notify: in.Notify})
	if in.IdempotencyKey != "" {
		g, err := s.gens.IdempotentReplay(ctx, userID, in.IdempotencyKey, hash)
		if err != nil {
			return nil, false, err
		}
		if g != nil {
			return g, false, nil
		}
	}
	now := s.now()
	// A look without spending: the transaction below still enforces the
	// limit exactly; this only spares the moderator a hopeless request.
	used, err := s.quota.QuotaUsed(ctx, userID, s.policy.Day(now))
	if err != nil {
		return nil, false, err
	}
	if used >= s.policy.DailyLimit {
		return nil, false, s.quotaExceeded(now)
	}
	if s.moderator != nil {
		if err := s.moderator.CheckPrompt(ctx, userID, prompt); err != nil {
			if errors.Is(err, ErrPromptRejected) {
				return nil, false, err
			}
			return nil, false, ErrModeration.With("", err)
		}
	}
	ng := NewGeneration{
		Generation: Generation{
			ID: uuid.New(), UserID: userID, Prompt: prompt, Options: opts, Status: StatusQueued, Public: public,
			Preset: in.Preset, Notify: in.Notify,
		},
		QuotaDay:       s.policy.Day(now),
		DailyLimit:     s.policy.DailyLimit,
		IdempotencyKey: in.IdempotencyKey,
		RequestHash:    hash,
	}
	g, created, err = s.gens.CreateGeneration(ctx, ng)
	if errors.Is(err, ErrQuotaExceeded) {
		return nil, false, s.quotaExceeded(now)
	}
	if err != nil {
		return nil, false, err
	}
	return g, created, nil
}

// quotaExceeded is ErrQuotaExceeded saying when the quota resets, with
// Retry-After until then.
func (s *Service) quotaExceeded(now time.Time) error {
	reset := s.policy.ResetsAt(now)
	e := ErrQuotaExceeded.With(fmt.Sprintf("all %d of today's generations are used; more at %s",
		s.policy.DailyLimit, reset.Format(time.RFC3339)), nil)
	e.RetryAfter = reset.Sub(now)
	return e
}

// Generation returns the caller's generation; anyone else's is ErrNotFound.
func (s *Service) Generation(ctx context.Context, userID, id uuid.UUID) (*Generation, error) {
	g, err := s.gens.Generation(ctx, id)
	if err != nil {
		return nil, err
	}
	if g.UserID != userID {
		return nil, ErrNotFound
	}
	return g, nil
}

// ListGenerations pages through the caller's generations, newest first.
func (s *Service) ListGenerations(ctx context.Context, userID uuid.UUID, cursor string, limit int) (Page[Generation], error) {
	if err := CheckLimit(limit); err != nil {
		return Page[Generation]{}, err
	}
	after, err := s.cursors.Decode(ListMyGenerations, cursor)
	if err != nil {
		return Page[Generation]{}, err
	}
	items, err := s.gens.ListGenerations(ctx, userID, after, limit+1)
	if err != nil {
		return Page[Generation]{}, err
	}
	return pageOf(s.cursors, ListMyGenerations, items, limit, func(g Generation) Cursor {
		return Cursor{CreatedAt: g.CreatedAt, ID: g.ID}
	}), nil
}

// Quota reports the caller's allowance today.
func (s *Service) Quota(ctx context.Context, userID uuid.UUID) (Quota, error) {
	now := s.now()
	used, err := s.quota.QuotaUsed(ctx, userID, s.policy.Day(now))
	if err != nil {
		return Quota{}, err
	}
	return Quota{
		DailyLimit: s.policy.DailyLimit,
		UsedToday:  used,
		Remaining:  max(0, s.policy.DailyLimit-used),
		ResetsAt:   s.policy.ResetsAt(now),
	}, nil
}

// pageOf cuts a limit+1 fetch into a page and the cursor of its last item.
func pageOf[T any](cc CursorCodec, list List, items []T, limit int, pos func(T) Cursor) Page[T] {
	if items == nil {
		items = []T{}
	}
	if len(items) <= limit {
		return Page[T]{Items: items}
	}
	items = items[:limit]
	return Page[T]{Items: items, Next: cc.Encode(list, pos(items[len(items)-1]))}
}
