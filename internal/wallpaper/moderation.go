package wallpaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The image check's suggestions (WeChat mediaCheckAsync's words).
const (
	SuggestPass   = "pass"
	SuggestReview = "review"
	SuggestRisky  = "risky"
)

// Verdict is the image check's judgement of a wallpaper's image.
type Verdict struct {
	Suggest string // SuggestPass, SuggestReview or SuggestRisky
	Label   string // the checker's category, for the record
}

// ImageCheck is one question to the image checker.
type ImageCheck struct {
	WallpaperID uuid.UUID
	UserID      uuid.UUID // whose image it is (WeChat checks as that user)
	URL         string    // where the checker can fetch the image
	Prompt      string    // what it was painted from (the local checker's test marker)
}

// ImageChecker judges an image before the public sees it: WeChat's
// mediaCheckAsync, whose verdict arrives later by message push, or a local
// checker that decides at once (dev). It returns the check's trace id and,
// when it decided at once, the verdict.
type ImageChecker interface {
	CheckImage(ctx context.Context, c ImageCheck) (traceID string, v *Verdict, err error)
}

// ModerationStore is what the image check needs from the database.
type ModerationStore interface {
	// Wallpaper returns one wallpaper, or ErrNotFound.
	Wallpaper(ctx context.Context, id uuid.UUID) (*Wallpaper, error)
	// RecordCheck records that trace id asks about wallpaper w, and
	// returns the verdict AnswerCheck kept for it when that came first.
	RecordCheck(ctx context.Context, traceID string, w *Wallpaper) (early *Verdict, err error)
	// AnswerCheck records the verdict of a trace once and returns its
	// wallpaper; answered is false when the trace was answered already.
	// For a trace not recorded (yet) it keeps the verdict for RecordCheck
	// and returns ErrNotFound. Whichever of the two comes second applies
	// the verdict, exactly once.
	AnswerCheck(ctx context.Context, traceID string, v Verdict) (wallpaperID uuid.UUID, answered bool, err error)
	// SetReview moves a wallpaper whose review is from to to, and returns
	// whether it did; the storage sync follows in the same transaction.
	SetReview(ctx context.Context, id uuid.UUID, from, to string) (bool, error)
	// Reject removes a wallpaper the check called risky (its objects leave
	// storage after the commit) and fails its generation with f, the
	// quota unit coming back exactly once.
	Reject(ctx context.Context, id uuid.UUID, f Failure) error
}

// Timeouts schedules the follow-up of an unanswered check.
type Timeouts interface {
	ModerationTimeout(ctx context.Context, wallpaperID uuid.UUID, attempt int, at time.Time) error
}

// URLSigner makes a short-lived URL of a private object.
type URLSigner interface {
	SignedURL(key string, ttl time.Duration) string
}

// ErrCannotCheck is a check the checker cannot make for this wallpaper
// (WeChat: its author has not opened the mini-program for two hours):
// asking again will not help, so an admin decides.
var ErrCannotCheck = errors.New("the image check cannot be made for this wallpaper")

// ErrRejectedImage is the generation failure of an image the check called
// risky: the wallpaper is removed and the quota unit returned.
var ErrRejectedImage = Failure{Code: "content_rejected",
	Message: "the image did not pass the content check and was removed; your quota unit is returned"}

// Moderation checks every wallpaper before the public sees it: a pending
// one is asked about (once more when no answer comes within the timeout,
// then held), and the verdict approves, holds or removes it.
type Moderation struct {
	store    ModerationStore
	checker  ImageChecker
	timeouts Timeouts
	urls     URLSigner
	timeout  time.Duration
	logger   *slog.Logger
}

// ModerationConfig wires a Moderation.
type ModerationConfig struct {
	Store    ModerationStore
	Checker  ImageChecker
	Timeouts Timeouts
	URLs     URLSigner
	// Timeout is how long an answer may take before the check is asked
	// once more, and then the wallpaper held (MODERATION_TIMEOUT).
	Timeout time.Duration
	Logger  *slog.Logger
}

// NewModeration returns the image check's domain service.
func NewModeration(c ModerationConfig) *Moderation {
	return &Moderation{store: c.Store, checker: c.Checker, timeouts: c.Timeouts, urls: c.URLs,
		timeout: c.Timeout, logger: c.Logger}
}

// maxAsks is how often one wallpaper is asked about before it is held.
const maxAsks = 2

// Check asks about a pending wallpaper (attempt counts the asks, from 1).
// A wallpaper that is no longer pending (answered, made private, gone) is
// left alone.
func (m *Moderation) Check(ctx context.Context, id uuid.UUID, attempt int) error {
	w, err := m.store.Wallpaper(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if w.Review != ReviewPending {
		return nil
	}
	// WeChat fetches the image within the timeout; the URL outlives it.
	url := m.urls.SignedURL(w.ImageKey, 2*m.timeout+10*time.Minute)
	traceID, v, err := m.checker.CheckImage(ctx, ImageCheck{WallpaperID: id, UserID: w.Author.ID, URL: url, Prompt: w.Prompt})
	if errors.Is(err, ErrCannotCheck) {
		m.logger.WarnContext(ctx, "the image check cannot be made: held for an admin", "wallpaper_id", id, "err", err)
		_, err = m.store.SetReview(ctx, id, ReviewPending, ReviewHeld)
		return err
	}
	if err != nil {
		return fmt.Errorf("asking for the image check of %s: %w", id, err)
	}
	early, err := m.store.RecordCheck(ctx, traceID, w)
	if err != nil {
		return err
	}
	if v == nil {
		v = early // pushed before the ask was recorded
	}
	if v != nil {
		return m.Apply(ctx, traceID, *v)
	}
	return m.timeouts.ModerationTimeout(ctx, id, attempt, time.Now().Add(m.timeout))
}

// Timeout runs when a check has had its time: a wallpaper still pending
// is asked about once more, and after that held for an admin.
func (m *Moderation) Timeout(ctx context.Context, id uuid.UUID, attempt int) error {
	w, err := m.store.Wallpaper(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if w.Review != ReviewPending {
		return nil
	}
	if attempt < maxAsks {
		m.logger.WarnContext(ctx, "no image check verdict in time: asking again", "wallpaper_id", id, "attempt", attempt)
		return m.Check(ctx, id, attempt+1)
	}
	m.logger.WarnContext(ctx, "no image check verdict after asking twice: held for an admin", "wallpaper_id", id)
	_, err = m.store.SetReview(ctx, id, ReviewPending, ReviewHeld)
	return err
}

// Apply records the verdict of a check and acts on it, once: pass
// approves the wallpaper (the storage sync publishes it when it is
// public), review holds it for an admin, risky removes it and fails its
// generation with the unit returned. A verdict for a trace not recorded
// yet (WeChat may push before Check has written down the trace id it
// answered with) is kept, and Check applies it when it records the trace;
// a repeated one changes nothing.
func (m *Moderation) Apply(ctx context.Context, traceID string, v Verdict) error {
	id, answered, err := m.store.AnswerCheck(ctx, traceID, v)
	if errors.Is(err, ErrNotFound) {
		m.logger.InfoContext(ctx, "image check verdict before its ask was recorded: kept for it", "trace_id", traceID)
		return nil
	}
	if err != nil || !answered {
		return err
	}
	switch v.Suggest {
	case SuggestPass:
		_, err = m.store.SetReview(ctx, id, ReviewPending, ReviewApproved)
	case SuggestReview:
		_, err = m.store.SetReview(ctx, id, ReviewPending, ReviewHeld)
	case SuggestRisky:
		m.logger.WarnContext(ctx, "the image check called a wallpaper risky: removed", "wallpaper_id", id, "label", v.Label)
		err = m.store.Reject(ctx, id, ErrRejectedImage)
		if errors.Is(err, ErrNotFound) {
			err = nil // gone already
		}
	default:
		// An unknown suggestion is not a pass: an admin decides.
		m.logger.WarnContext(ctx, "unknown image check suggestion: held", "wallpaper_id", id, "suggest", v.Suggest)
		_, err = m.store.SetReview(ctx, id, ReviewPending, ReviewHeld)
	}
	return err
}

// Markers a prompt can carry to make the local checker answer otherwise
// than pass, so that dev and tests show every review state.
const (
	LocalMarkerReview = "[moderation:review]"
	LocalMarkerRisky  = "[moderation:risky]"
)

// LocalChecker is the image check without WeChat (dev): it decides at
// once, pass unless the prompt carries LocalMarkerReview or
// LocalMarkerRisky.
type LocalChecker struct{}

// CheckImage implements ImageChecker.
func (LocalChecker) CheckImage(_ context.Context, c ImageCheck) (string, *Verdict, error) {
	v := Verdict{Suggest: SuggestPass, Label: "local"}
	switch {
	case strings.Contains(c.Prompt, LocalMarkerRisky):
		v.Suggest = SuggestRisky
	case strings.Contains(c.Prompt, LocalMarkerReview):
		v.Suggest = SuggestReview
	}
	return "local-" + uuid.NewString(), &v, nil
}
