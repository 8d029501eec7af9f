package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Generations keeps generations and the quota they spend; it satisfies
// wallpaper.GenerationStore, wallpaper.QuotaStore and wallpaper.JobStore.
type Generations struct {
	pool  *pgxpool.Pool
	jobs  Jobs
	quota QuotaObserver
}

// QuotaObserver hears of quota units after the transaction that moved them
// committed (the metrics count them).
type QuotaObserver interface {
	QuotaSpent()
	QuotaRefunded()
}

// ObserveQuota tells o of every unit spent or refunded from now on.
func (s *Generations) ObserveQuota(o QuotaObserver) { s.quota = o }

// NewGenerations returns the generation store; jobs inserts the painting
// job of each generation it accepts.
func NewGenerations(pool *pgxpool.Pool, jobs Jobs) *Generations {
	return &Generations{pool: pool, jobs: jobs}
}

// idempotencyWindow is how long an Idempotency-Key names its generation.
const idempotencyWindow = "24 hours"

// errKeyRaced means a concurrent request with the same Idempotency-Key
// committed first; the transaction is rolled back and tried once more.
var errKeyRaced = errors.New("idempotency key taken concurrently")

// IdempotentReplay implements wallpaper.GenerationStore. It only reads: a
// key past the window names nothing here, and CreateGeneration clears it.
func (s *Generations) IdempotentReplay(ctx context.Context, userID uuid.UUID, key string, requestHash []byte) (_ *wallpaper.Generation, err error) {
	defer translate(&err)
	var id uuid.UUID
	var hash []byte
	err = s.pool.QueryRow(ctx, `SELECT id, request_hash FROM generations
		WHERE user_id = $1 AND idempotency_key = $2 AND created_at >= now() - $3::interval`,
		userID, key, idempotencyWindow).Scan(&id, &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("postgres: looking up an idempotency key: %w", err)
	case !bytes.Equal(hash, requestHash):
		return nil, wallpaper.ErrIdempotencyConflict
	}
	g, err := s.Generation(ctx, id)
	if errors.Is(err, wallpaper.ErrNotFound) {
		return nil, nil // deleted since: CreateGeneration decides
	}
	return g, err
}

// CreateGeneration implements wallpaper.GenerationStore.
func (s *Generations) CreateGeneration(ctx context.Context, ng wallpaper.NewGeneration) (_ *wallpaper.Generation, _ bool, err error) {
	defer translate(&err)
	for try := 0; ; try++ {
		existing, createdAt, err := s.create(ctx, ng)
		if errors.Is(err, errKeyRaced) && try == 0 {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if existing != uuid.Nil {
			g, err := s.Generation(ctx, existing)
			return g, false, err
		}
		if s.quota != nil {
			s.quota.QuotaSpent()
		}
		// Answer with the generation as accepted: re-reading it could
		// already show a worker's progress.
		g := ng.Generation
		g.Status, g.Attempts, g.CreatedAt = wallpaper.StatusQueued, 0, createdAt
		return &g, true, nil
	}
}

// create runs the acceptance transaction. It returns the id of an existing
// generation with the same key, or uuid.Nil and the creation time when it
// created ng.
func (s *Generations) create(ctx context.Context, ng wallpaper.NewGeneration) (existing uuid.UUID, createdAt time.Time, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if ng.IdempotencyKey != "" {
			// A key older than the window no longer names anything.
			if _, err := tx.Exec(ctx, `UPDATE generations SET idempotency_key = NULL
				WHERE user_id = $1 AND idempotency_key = $2 AND created_at < now() - $3::interval`,
				ng.UserID, ng.IdempotencyKey, idempotencyWindow); err != nil {
				return fmt.Errorf("expiring idempotency key: %w", err)
			}
			var id uuid.UUID
			var hash []byte
			err := tx.QueryRow(ctx, `SELECT id, request_hash FROM generations WHERE user_id = $1 AND idempotency_key = $2`,
				ng.UserID, ng.IdempotencyKey).Scan(&id, &hash)
			switch {
			case err == nil && bytes.Equal(hash, ng.RequestHash):
				existing = id
				return nil
			case err == nil:
				return wallpaper.ErrIdempotencyConflict
			case !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("looking up idempotency key: %w", err)
			}
		}
		// Spend one unit: the row lock of the upsert serialises concurrent
		// submissions of one user, so the limit is exact.
		var used int
		err := tx.QueryRow(ctx, `INSERT INTO quota_usage (user_id, day, used) VALUES ($1, $2, 1)
			ON CONFLICT (user_id, day) DO UPDATE SET used = quota_usage.used + 1
			WHERE quota_usage.used < $3
			RETURNING used`, ng.UserID, ng.QuotaDay, ng.DailyLimit).Scan(&used)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && used > ng.DailyLimit) {
			return wallpaper.ErrQuotaExceeded
		}
		if err != nil {
			return fmt.Errorf("spending quota: %w", err)
		}
		err = tx.QueryRow(ctx, `INSERT INTO generations
			(id, user_id, prompt, size, style, quality, public, preset, notify, status, quota_day, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9, 'queued', $10, NULLIF($11, ''), $12)
			ON CONFLICT (user_id, idempotency_key) DO NOTHING
			RETURNING created_at`,
			ng.ID, ng.UserID, ng.Prompt, ng.Options.Size, ng.Options.Style, ng.Options.Quality, ng.Public,
			ng.Preset, ng.Notify, ng.QuotaDay, ng.IdempotencyKey, ng.RequestHash).Scan(&createdAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return errKeyRaced
		}
		if err != nil {
			return fmt.Errorf("inserting generation: %w", err)
		}
		if err := s.jobs.GenerateWallpaper(ctx, tx, ng.ID); err != nil {
			return fmt.Errorf("enqueueing generation job: %w", err)
		}
		return nil
	})
	if err != nil {
		return uuid.Nil, time.Time{}, fmt.Errorf("postgres: accepting generation: %w", err)
	}
	return existing, createdAt, nil
}

// A generation of a deleted account reads with its opaque subject as the
// owner: nobody can authenticate as that id.
const generationColumns = `g.id, COALESCE(g.user_id, g.subject), g.prompt, g.size, g.style, g.quality, g.public,
	COALESCE(g.preset, ''), g.notify, g.status, g.attempts,
	g.error_code, g.error_message, g.created_at, g.finished_at`

// generationFrom joins the wallpaper a succeeded generation became, if it
// still exists.
const generationFrom = ` FROM generations g
	LEFT JOIN wallpapers w ON w.generation_id = g.id
	LEFT JOIN users u ON u.id = w.user_id `

// generationSelect reads a generation with its wallpaper, if any.
var generationSelect = `SELECT ` + generationColumns + `, ` + optionalWallpaperColumns + generationFrom

func scanGeneration(row pgx.Row) (*wallpaper.Generation, error) {
	var g wallpaper.Generation
	var code, msg *string
	var w wallpaper.Wallpaper
	var params []byte
	dest := append([]any{&g.ID, &g.UserID, &g.Prompt, &g.Options.Size, &g.Options.Style, &g.Options.Quality,
		&g.Public, &g.Preset, &g.Notify, &g.Status, &g.Attempts, &code, &msg, &g.CreatedAt, &g.FinishedAt}, wallpaperDest(&w, &params)...)
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wallpaper.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if code != nil {
		g.Error = &wallpaper.Failure{Code: *code, Message: deref(msg)}
	}
	if w.ID != uuid.Nil {
		if err := decodeParams(&w, params); err != nil {
			return nil, err
		}
		g.Wallpaper = &w
	}
	return &g, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Generation implements wallpaper.GenerationStore.
func (s *Generations) Generation(ctx context.Context, id uuid.UUID) (_ *wallpaper.Generation, err error) {
	defer translate(&err)
	g, err := scanGeneration(s.pool.QueryRow(ctx, generationSelect+`WHERE g.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("postgres: generation %s: %w", id, err)
	}
	return g, nil
}

// ListGenerations implements wallpaper.GenerationStore. The first page and
// the next ones are separate statements so both keep the index plan.
func (s *Generations) ListGenerations(ctx context.Context, userID uuid.UUID, after *wallpaper.Cursor, limit int) (_ []wallpaper.Generation, err error) {
	defer translate(&err)
	var rows pgx.Rows
	q := generationSelect + `WHERE g.user_id = $1 `
	if after == nil {
		rows, err = s.pool.Query(ctx, q+`ORDER BY g.created_at DESC, g.id DESC LIMIT $2`, userID, limit)
	} else {
		rows, err = s.pool.Query(ctx, q+`AND (g.created_at, g.id) < ($3, $4) ORDER BY g.created_at DESC, g.id DESC LIMIT $2`,
			userID, limit, after.CreatedAt, after.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: listing generations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (wallpaper.Generation, error) {
		g, err := scanGeneration(r)
		if err != nil {
			return wallpaper.Generation{}, err
		}
		return *g, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing generations: %w", err)
	}
	return out, nil
}

// QuotaUsed implements wallpaper.QuotaStore.
func (s *Generations) QuotaUsed(ctx context.Context, userID uuid.UUID, day time.Time) (_ int, err error) {
	defer translate(&err)
	var used int
	err = s.pool.QueryRow(ctx, `SELECT COALESCE((SELECT used FROM quota_usage WHERE user_id = $1 AND day = $2), 0)`,
		userID, day).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("postgres: reading quota: %w", err)
	}
	return used, nil
}

// StartGeneration implements wallpaper.JobStore: the generation goes to
// the attempt unless a later one holds it.
func (s *Generations) StartGeneration(ctx context.Context, id uuid.UUID, attempt int) (_ *wallpaper.Generation, err error) {
	defer translate(&err)
	tag, err := s.pool.Exec(ctx, `UPDATE generations SET status = 'running', attempts = attempts + 1, lease = $2,
		started_at = COALESCE(started_at, now()) WHERE id = $1 AND status IN ('queued', 'running') AND lease <= $2`, id, attempt)
	if err != nil {
		return nil, fmt.Errorf("postgres: starting generation %s: %w", id, err)
	}
	g, err := s.Generation(ctx, id)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 && (g.Status == wallpaper.StatusQueued || g.Status == wallpaper.StatusRunning) {
		return nil, fmt.Errorf("postgres: starting generation %s with attempt %d: %w", id, attempt, wallpaper.ErrSuperseded)
	}
	return g, nil
}

// CompleteGeneration implements wallpaper.JobStore.
func (s *Generations) CompleteGeneration(ctx context.Context, id uuid.UUID, attempt int, w wallpaper.Wallpaper) (err error) {
	defer translate(&err)
	params, err := json.Marshal(w.Params)
	if err != nil {
		return fmt.Errorf("postgres: wallpaper params: %w", err)
	}
	superseded := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE generations SET status = 'succeeded', finished_at = now()
			WHERE id = $1 AND status IN ('queued', 'running') AND lease = $2`, id, attempt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// Not ours to complete. Succeeded already: by this attempt (a
			// retried commit) its keys are in use; by another, they belong
			// to nothing. Failed meanwhile (cancelled by a ban or an account
			// deletion), or held by a later attempt: what this attempt
			// stored belongs to nothing either.
			var status string
			var recorded bool
			if err := tx.QueryRow(ctx, `SELECT g.status, EXISTS (SELECT 1 FROM wallpapers w
					WHERE w.generation_id = g.id AND w.image_key = $2)
				FROM generations g WHERE g.id = $1`, id, w.ImageKey).Scan(&status, &recorded); err != nil {
				return err
			}
			if status == string(wallpaper.StatusSucceeded) && recorded {
				return nil
			}
			superseded = status != string(wallpaper.StatusFailed)
			return s.jobs.DeleteObjects(ctx, tx, objectKeys(&w))
		}
		tag, err = tx.Exec(ctx, `INSERT INTO wallpapers
			(id, user_id, generation_id, prompt, size, width, height, provider, model, params,
			 image_key, thumbnail_key, master_key, public, review, preset, published, author_banned)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULLIF($16, ''), false,
				EXISTS (SELECT 1 FROM bans b WHERE b.user_id = $2)
			ON CONFLICT (generation_id) DO NOTHING`,
			w.ID, w.Author.ID, id, w.Prompt, w.Size, w.Width, w.Height, w.Provider, w.Model, params,
			w.ImageKey, w.ThumbnailKey, w.MasterKey, w.Public, w.Review, w.Preset)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if w.Review == wallpaper.ReviewPending {
			// Settled only once the image check has spoken.
			return s.jobs.ModerateWallpaper(ctx, tx, w.ID)
		}
		return queueNotify(ctx, tx, s.jobs, id)
	})
	if err != nil {
		return fmt.Errorf("postgres: completing generation %s: %w", id, err)
	}
	if superseded {
		return fmt.Errorf("postgres: completing generation %s with attempt %d: %w", id, attempt, wallpaper.ErrSuperseded)
	}
	return nil
}

// FailGeneration fails a generation whoever holds it (the orphan sweep;
// wallpaper.JobStore's FailAttempt is the attempt's own). The status guard
// makes the refund happen exactly once.
func (s *Generations) FailGeneration(ctx context.Context, id uuid.UUID, f wallpaper.Failure) error {
	return s.fail(ctx, id, -1, f)
}

// FailAttempt implements wallpaper.JobStore: only the attempt holding the
// generation fails it.
func (s *Generations) FailAttempt(ctx context.Context, id uuid.UUID, attempt int, f wallpaper.Failure) error {
	return s.fail(ctx, id, attempt, f)
}

// fail fails generation id if attempt holds it (-1: whoever does).
func (s *Generations) fail(ctx context.Context, id uuid.UUID, attempt int, f wallpaper.Failure) (err error) {
	defer translate(&err)
	refunded, superseded := false, false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID uuid.UUID
		var day time.Time
		err := tx.QueryRow(ctx, `UPDATE generations SET status = 'failed', error_code = $2, error_message = $3,
			finished_at = now(), refunded = true
			WHERE id = $1 AND status IN ('queued', 'running') AND ($4 < 0 OR lease = $4)
			RETURNING user_id, quota_day`, id, f.Code, f.Message, attempt).Scan(&userID, &day)
		if errors.Is(err, pgx.ErrNoRows) {
			// Already finished, or held by a later attempt.
			return tx.QueryRow(ctx, `SELECT status IN ('queued', 'running') FROM generations WHERE id = $1`, id).Scan(&superseded)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE quota_usage SET used = used - 1 WHERE user_id = $1 AND day = $2 AND used > 0`, userID, day)
		if err != nil {
			return err
		}
		refunded = tag.RowsAffected() == 1
		return queueNotify(ctx, tx, s.jobs, id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the generation is gone
	}
	if err != nil {
		return fmt.Errorf("postgres: failing generation %s: %w", id, err)
	}
	if superseded {
		return fmt.Errorf("postgres: failing generation %s with attempt %d: %w", id, attempt, wallpaper.ErrSuperseded)
	}
	if refunded && s.quota != nil {
		s.quota.QuotaRefunded()
	}
	return nil
}

// ClaimNotification implements wallpaper.NotificationStore.
func (s *Generations) ClaimNotification(ctx context.Context, id uuid.UUID) (_ *wallpaper.Generation, _ bool, err error) {
	defer translate(&err)
	tag, err := s.pool.Exec(ctx, `UPDATE generations SET notified_at = now()
		WHERE id = $1 AND notify AND notified_at IS NULL AND status IN ('succeeded', 'failed')`, id)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: claiming the message of %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return nil, false, nil
	}
	g, err := s.Generation(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return g, true, nil
}

// FailOrphans fails (and refunds) generations that are still queued or
// running after olderThan but have no live job of jobKind: jobs River gave
// up on without our worker seeing the end (for example a process killed
// during the last attempt). It returns how many it failed.
func (s *Generations) FailOrphans(ctx context.Context, jobKind string, olderThan time.Duration, f wallpaper.Failure) (_ int, err error) {
	defer translate(&err)
	rows, err := s.pool.Query(ctx, `SELECT g.id FROM generations g
		WHERE g.status IN ('queued', 'running') AND g.created_at < now() - make_interval(secs => $2)
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = $1
			AND j.args @> jsonb_build_object('generation_id', g.id::text)
			AND j.state NOT IN ('completed', 'cancelled', 'discarded'))
		LIMIT 1000`, jobKind, olderThan.Seconds())
	if err != nil {
		return 0, fmt.Errorf("postgres: finding orphaned generations: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, fmt.Errorf("postgres: finding orphaned generations: %w", err)
	}
	for _, id := range ids {
		if err := s.FailGeneration(ctx, id, f); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
