package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// objectKeys are every key a wallpaper's objects may sit at: the display
// image and thumbnail at both places (a move may have left a copy) and the
// master.
func objectKeys(w *wallpaper.Wallpaper) []string {
	var keys []string
	for _, k := range []string{w.ImageKey, w.ThumbnailKey} {
		name := strings.TrimPrefix(strings.TrimPrefix(k, wallpaper.PrivatePrefix), wallpaper.PublicPrefix)
		keys = append(keys, k, wallpaper.PrivatePrefix+name, wallpaper.PublicPrefix+name)
	}
	if w.MasterKey != "" {
		keys = append(keys, w.MasterKey)
	}
	seen := map[string]bool{}
	out := keys[:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// removedKeys are the objects of a wallpaper that is gone for good: its
// images and its mini-program codes (as WeChat makes them, and as the
// local QR maker does; see internal/sharecode).
func removedKeys(w *wallpaper.Wallpaper) []string {
	return append(objectKeys(w), "wxacode/"+w.ID.String()+".jpg", "wxacode/"+w.ID.String()+".png")
}

// afterStateChange queues, inside tx, what a change of a wallpaper's
// public flag or review state needs: the storage sync, and the image check
// when the review became pending.
func (s *Gallery) afterStateChange(ctx context.Context, tx pgx.Tx, before, after *wallpaper.Wallpaper) error {
	if after.Review == wallpaper.ReviewPending && before.Review != wallpaper.ReviewPending {
		if err := s.jobs.ModerateWallpaper(ctx, tx, after.ID); err != nil {
			return err
		}
	}
	if before.ShouldPublish() != after.ShouldPublish() || after.Published != after.ShouldPublish() {
		return s.jobs.SyncObjects(ctx, tx, after.ID)
	}
	return nil
}

// LogOriginalDownload implements wallpaper.GalleryWriter.
func (s *Gallery) LogOriginalDownload(ctx context.Context, userID, id uuid.UUID) (err error) {
	defer translate(&err)
	if _, err := s.pool.Exec(ctx, `INSERT INTO original_downloads (user_id, wallpaper_id) VALUES ($1, $2)`, userID, id); err != nil {
		return fmt.Errorf("postgres: logging an original download: %w", err)
	}
	return nil
}

// RecordCheck implements wallpaper.ModerationStore: a verdict pushed
// before the ask was recorded (kept by AnswerCheck) is taken and returned.
// Exactly one side deletes a kept verdict, and that side applies it.
func (s *Gallery) RecordCheck(ctx context.Context, traceID string, w *wallpaper.Wallpaper) (_ *wallpaper.Verdict, err error) {
	defer translate(&err)
	_, err = s.pool.Exec(ctx, `INSERT INTO moderation_checks (trace_id, wallpaper_id, generation_id, user_id)
		VALUES ($1, $2, $3, $4) ON CONFLICT (trace_id) DO NOTHING`, traceID, w.ID, w.GenerationID, w.Author.ID)
	if err != nil {
		return nil, fmt.Errorf("postgres: recording image check %s: %w", traceID, err)
	}
	var v wallpaper.Verdict
	err = s.pool.QueryRow(ctx, `DELETE FROM moderation_early_verdicts WHERE trace_id = $1 RETURNING suggest, label`,
		traceID).Scan(&v.Suggest, &v.Label)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: taking the early verdict of image check %s: %w", traceID, err)
	}
	return &v, nil
}

// earlyVerdictsKeptFor is how long a verdict whose ask was never recorded
// is kept.
const earlyVerdictsKeptFor = "1 day"

// AnswerCheck implements wallpaper.ModerationStore: the answered_at guard
// makes a repeated verdict change nothing. A verdict for a trace not yet
// recorded is kept for RecordCheck, unless the trace was recorded in the
// meantime: then whichever side deletes the kept verdict applies it.
func (s *Gallery) AnswerCheck(ctx context.Context, traceID string, v wallpaper.Verdict) (_ uuid.UUID, _ bool, err error) {
	defer translate(&err)
	id, answered, err := s.answerCheck(ctx, traceID, v)
	if !errors.Is(err, wallpaper.ErrNotFound) {
		return id, answered, err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM moderation_early_verdicts WHERE received_at < now() - $1::interval`,
		earlyVerdictsKeptFor); err != nil {
		return uuid.Nil, false, fmt.Errorf("postgres: dropping old early verdicts: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO moderation_early_verdicts (trace_id, suggest, label) VALUES ($1, $2, $3)
		ON CONFLICT (trace_id) DO NOTHING`, traceID, v.Suggest, v.Label); err != nil {
		return uuid.Nil, false, fmt.Errorf("postgres: keeping the early verdict of image check %s: %w", traceID, err)
	}
	err = s.pool.QueryRow(ctx, `SELECT wallpaper_id FROM moderation_checks WHERE trace_id = $1`, traceID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, false, wallpaper.ErrNotFound.With("image check not asked yet: its verdict is kept", nil)
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("postgres: image check %s: %w", traceID, err)
	}
	// Recorded meanwhile: RecordCheck took the kept verdict, or it is ours
	// to apply.
	tag, err := s.pool.Exec(ctx, `DELETE FROM moderation_early_verdicts WHERE trace_id = $1`, traceID)
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("postgres: taking back the early verdict of image check %s: %w", traceID, err)
	}
	if tag.RowsAffected() == 0 {
		return id, false, nil
	}
	return s.answerCheck(ctx, traceID, v)
}

func (s *Gallery) answerCheck(ctx context.Context, traceID string, v wallpaper.Verdict) (uuid.UUID, bool, error) {
	for {
		var id uuid.UUID
		err := s.pool.QueryRow(ctx, `UPDATE moderation_checks SET answered_at = now(), suggest = $2, label = $3
			WHERE trace_id = $1 AND answered_at IS NULL RETURNING wallpaper_id`, traceID, v.Suggest, v.Label).Scan(&id)
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return uuid.Nil, false, fmt.Errorf("postgres: answering image check %s: %w", traceID, err)
		}
		var answered bool
		err = s.pool.QueryRow(ctx, `SELECT wallpaper_id, answered_at IS NOT NULL FROM moderation_checks WHERE trace_id = $1`,
			traceID).Scan(&id, &answered)
		if errors.Is(err, pgx.ErrNoRows) {
			return uuid.Nil, false, wallpaper.ErrNotFound.With("no such image check", nil)
		}
		if err != nil {
			return uuid.Nil, false, fmt.Errorf("postgres: image check %s: %w", traceID, err)
		}
		if answered {
			return id, false, nil
		}
		// Recorded between the two statements: answer it now.
	}
}

// SetReview implements wallpaper.ModerationStore.
func (s *Gallery) SetReview(ctx context.Context, id uuid.UUID, from, to string) (changed bool, err error) {
	defer translate(&err)
	var h hidden
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := lockWallpaper(ctx, tx, id)
		if errors.Is(err, wallpaper.ErrNotFound) {
			return nil
		}
		if err != nil || w.Review != from {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE wallpapers SET review = $2 WHERE id = $1`, id, to); err != nil {
			return err
		}
		after, err := scanWallpaper(tx.QueryRow(ctx, wallpaperByID, id))
		if err != nil {
			return err
		}
		changed = true
		h.left(w, after)
		if from == wallpaper.ReviewPending && w.GenerationID != nil {
			// The image check has spoken: the generation's result is
			// settled.
			if err := queueNotify(ctx, tx, s.jobs, *w.GenerationID); err != nil {
				return err
			}
		}
		return s.afterStateChange(ctx, tx, w, after)
	})
	if err != nil {
		return false, fmt.Errorf("postgres: review of wallpaper %s: %w", id, err)
	}
	h.tell(s.hidden)
	return changed, nil
}

// Reject implements wallpaper.ModerationStore: in one transaction the
// wallpaper goes (its objects after the commit), and its generation
// becomes failed with the unit returned, exactly once (the status guard).
// Only a wallpaper still pending is rejected: one an admin has decided on
// since is left as it is (ErrNotFound).
func (s *Gallery) Reject(ctx context.Context, id uuid.UUID, f wallpaper.Failure) (err error) {
	defer translate(&err)
	var h hidden
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := lockWallpaper(ctx, tx, id)
		if err != nil {
			return err
		}
		if w.Review != wallpaper.ReviewPending {
			return wallpaper.ErrNotFound.With("the wallpaper is no longer waiting for its check", nil)
		}
		return s.removeWallpaper(ctx, tx, &h, w, &f)
	})
	if err != nil {
		return fmt.Errorf("postgres: rejecting wallpaper %s: %w", id, err)
	}
	h.tell(s.hidden)
	return nil
}

// removeWallpaper deletes the locked wallpaper w and queues the removal of
// its objects, inside tx. With refund set, its generation becomes failed
// with refund and the quota unit comes back, exactly once (the status
// guard) and the author, if they asked to hear, is told; without, the
// generation stays succeeded (its author had the wallpaper). h learns
// that it left public view.
func (s *Gallery) removeWallpaper(ctx context.Context, tx pgx.Tx, h *hidden, w *wallpaper.Wallpaper, refund *wallpaper.Failure) error {
	if _, err := tx.Exec(ctx, `DELETE FROM wallpapers WHERE id = $1`, w.ID); err != nil {
		return err
	}
	h.left(w, nil)
	if err := s.jobs.DeleteObjects(ctx, tx, removedKeys(w)); err != nil {
		return err
	}
	if w.GenerationID == nil || refund == nil {
		return nil
	}
	var userID uuid.UUID
	var day time.Time
	err := tx.QueryRow(ctx, `UPDATE generations SET status = 'failed', error_code = $2, error_message = $3,
		refunded = true WHERE id = $1 AND status = 'succeeded' AND NOT refunded AND user_id IS NOT NULL
		RETURNING user_id, quota_day`, *w.GenerationID, refund.Code, refund.Message).Scan(&userID, &day)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE quota_usage SET used = used - 1 WHERE user_id = $1 AND day = $2 AND used > 0`, userID, day); err != nil {
		return err
	}
	// Its author asked to hear how it ended: it ended failed.
	return queueNotify(ctx, tx, s.jobs, *w.GenerationID)
}

// SetObjects implements wallpaper.PublishStore.
func (s *Gallery) SetObjects(ctx context.Context, id uuid.UUID, published bool, imageKey, thumbKey string) (_ bool, err error) {
	defer translate(&err)
	tag, err := s.pool.Exec(ctx, `UPDATE wallpapers SET published = $2, image_key = $3, thumbnail_key = $4
		WHERE id = $1 AND (published <> $2 OR image_key <> $3)
		AND (public AND review = 'approved' AND NOT author_banned) = $2`,
		id, published, imageKey, thumbKey)
	if err != nil {
		return false, fmt.Errorf("postgres: moving the objects of wallpaper %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// syncLockSpace keeps the storage sync's advisory locks apart from any
// other use of them.
const syncLockSpace = 0x77706431 // "wpd1"

// Serialize implements wallpaper.PublishStore with a session advisory
// lock on a connection held while fn runs: released by Postgres if the
// process dies.
func (s *Gallery) Serialize(ctx context.Context, id uuid.UUID, fn func(context.Context) error) (err error) {
	defer translate(&err)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: locking wallpaper %s: %w", id, err)
	}
	defer conn.Release()
	h := fnv.New32a()
	h.Write(id[:])
	key := int32(h.Sum32())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, int32(syncLockSpace), key); err != nil {
		return fmt.Errorf("postgres: locking wallpaper %s: %w", id, err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1, $2)`, int32(syncLockSpace), key); uerr != nil {
			// The connection is suspect: close it so the lock goes with it.
			_ = conn.Conn().Close(uctx)
		}
	}()
	return fn(ctx)
}

// Unsettled lists wallpapers whose objects are not where their state says
// (a lost sync job), for the periodic sweep.
func (s *Gallery) Unsettled(ctx context.Context, limit int) (_ []uuid.UUID, err error) {
	defer translate(&err)
	rows, err := s.pool.Query(ctx, `SELECT id FROM wallpapers
		WHERE published <> (public AND review = 'approved' AND NOT author_banned)
		   OR (NOT published AND image_key NOT LIKE 'private/%')
		LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: finding unsettled wallpapers: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("postgres: finding unsettled wallpapers: %w", err)
	}
	return ids, nil
}
