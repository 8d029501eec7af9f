package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Accounts is what outlives an account and what ends it: bans and quota
// kept by subject, the accounts whose tokens are refused, and account
// deletion. It satisfies auth.Standing, auth.RevocationSource and
// user.AccountStore.
type Accounts struct {
	pool *pgxpool.Pool
	jobs Jobs
	// tokenTTL is how long an access token of a deleted account lives,
	// and so how long its deletion is remembered.
	tokenTTL time.Duration
	hidden   Hidden // nil: nobody is told
}

// NewAccounts returns the store; jobs removes a deleted account's
// objects, tokenTTL is ACCESS_TOKEN_TTL.
func NewAccounts(pool *pgxpool.Pool, jobs Jobs, tokenTTL time.Duration) *Accounts {
	return &Accounts{pool: pool, jobs: jobs, tokenTTL: tokenTTL}
}

// Banned implements auth.Standing.
func (s *Accounts) Banned(ctx context.Context, subject []byte) (_ bool, err error) {
	defer translate(&err)
	var banned bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bans WHERE subject = $1)`, subject).Scan(&banned); err != nil {
		return false, fmt.Errorf("postgres: looking for a ban: %w", err)
	}
	return banned, nil
}

// CarryOver implements auth.Standing: the quota a deleted account of the
// same subject used moves to userID, taken once (deleted as it moves), the
// larger count winning on a day both used.
func (s *Accounts) CarryOver(ctx context.Context, userID uuid.UUID, subject []byte) (err error) {
	defer translate(&err)
	_, err = s.pool.Exec(ctx, `WITH moved AS (DELETE FROM quota_carryover WHERE subject = $2 RETURNING day, used)
		INSERT INTO quota_usage (user_id, day, used) SELECT $1, day, used FROM moved
		ON CONFLICT (user_id, day) DO UPDATE SET used = GREATEST(quota_usage.used, EXCLUDED.used)`, userID, subject)
	if err != nil {
		return fmt.Errorf("postgres: carrying quota over to %s: %w", userID, err)
	}
	return nil
}

// Revoked implements auth.RevocationSource.
func (s *Accounts) Revoked(ctx context.Context, deletedWithin time.Duration) (banned, deleted []uuid.UUID, err error) {
	defer translate(&err)
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM bans WHERE user_id IS NOT NULL`)
	if err == nil {
		banned, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: reading bans: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT user_id FROM account_deletions WHERE deleted_at > now() - make_interval(secs => $1)`,
		deletedWithin.Seconds())
	if err == nil {
		deleted, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: reading deleted accounts: %w", err)
	}
	return banned, deleted, nil
}

// deleteBatch bounds the keys of one object-deletion job.
const deleteBatch = 100

// DeleteAccount implements user.AccountStore.
func (s *Accounts) DeleteAccount(ctx context.Context, id uuid.UUID, subject []byte) (err error) {
	defer translate(&err)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var avatar string
		err := tx.QueryRow(ctx, `SELECT COALESCE(avatar_key, '') FROM users WHERE id = $1 FOR UPDATE`, id).Scan(&avatar)
		if errors.Is(err, pgx.ErrNoRows) {
			return user.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := cancelGenerations(ctx, tx, id, wallpaper.CancelledByDeletion); err != nil {
			return err
		}
		// The quota of the last days (whatever QUOTA_TZ's today is in UTC),
		// under the subject: a new account of the same WeChat user takes
		// it over. Older carry-overs are of no use any more.
		if _, err := tx.Exec(ctx, `INSERT INTO quota_carryover (subject, day, used)
			SELECT $2, day, used FROM quota_usage
			WHERE user_id = $1 AND used > 0 AND day >= (now() AT TIME ZONE 'UTC')::date - 1
			ON CONFLICT (subject, day) DO UPDATE SET used = GREATEST(quota_carryover.used, EXCLUDED.used)`,
			id, subject); err != nil {
			return fmt.Errorf("keeping the quota: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM quota_carryover WHERE day < (now() AT TIME ZONE 'UTC')::date - 2`); err != nil {
			return err
		}
		// The user's likes leave the counts of others' wallpapers as an
		// unlike does (likes.go): each deleted row, and only those (an
		// unlike racing this one deletes a row once), takes one from the
		// user's stripe. Those of the user's own wallpapers go with them.
		if _, err := tx.Exec(ctx, `WITH gone AS (DELETE FROM likes WHERE user_id = $1 RETURNING wallpaper_id)
			INSERT INTO like_deltas (wallpaper_id, stripe, n)
			SELECT gone.wallpaper_id, $2, -1 FROM gone JOIN wallpapers w ON w.id = gone.wallpaper_id WHERE w.user_id <> $1
			ON CONFLICT (wallpaper_id, stripe) DO UPDATE SET n = like_deltas.n + EXCLUDED.n`, id, likeStripe(id)); err != nil {
			return fmt.Errorf("withdrawing likes: %w", err)
		}
		if err := s.queueObjects(ctx, tx, id, avatar); err != nil {
			return err
		}
		// What is kept for compliance names an opaque subject instead of
		// the user: the same for every record of this account.
		opaque := uuid.New()
		for _, q := range []string{
			`UPDATE generations SET subject = $2, idempotency_key = NULL, request_hash = NULL WHERE user_id = $1`,
			`UPDATE moderation_checks SET user_id = $2 WHERE user_id = $1`,
			`UPDATE original_downloads SET user_id = $2 WHERE user_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id, opaque); err != nil {
				return fmt.Errorf("anonymising records: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO account_deletions (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM account_deletions WHERE deleted_at < now() - make_interval(secs => $1)`,
			(s.tokenTTL + 24*time.Hour).Seconds()); err != nil {
			return err
		}
		// The rest goes with the row: refresh tokens, quota rows,
		// wallpapers and the likes of them, the user's likes; bans and
		// reports lose the user id, generations keep the subject.
		_, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: deleting account %s: %w", id, err)
	}
	h := hidden{authors: []uuid.UUID{id}}
	h.tell(s.hidden)
	return nil
}

// queueObjects queues, inside tx, the removal of every object of user
// id: each wallpaper's keys (objectKeys) and the avatar.
func (s *Accounts) queueObjects(ctx context.Context, tx pgx.Tx, id uuid.UUID, avatar string) error {
	rows, err := tx.Query(ctx, `SELECT `+wallpaperColumns+wallpaperFrom+`WHERE w.user_id = $1 FOR UPDATE OF w`, id)
	if err != nil {
		return err
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*wallpaper.Wallpaper, error) { return scanWallpaper(r) })
	if err != nil {
		return err
	}
	var keys []string
	if avatar != "" {
		keys = append(keys, avatar)
	}
	for _, w := range ws {
		keys = append(keys, removedKeys(w)...)
	}
	for len(keys) > 0 {
		n := min(len(keys), deleteBatch)
		if err := s.jobs.DeleteObjects(ctx, tx, keys[:n]); err != nil {
			return fmt.Errorf("queueing the removal of objects: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}
