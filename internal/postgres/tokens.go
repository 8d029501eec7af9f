package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

// RefreshTokens keeps refresh token hashes; it satisfies auth.TokenStore.
type RefreshTokens struct {
	pool *pgxpool.Pool
}

// NewRefreshTokens returns the refresh token store on pool.
func NewRefreshTokens(pool *pgxpool.Pool) *RefreshTokens { return &RefreshTokens{pool: pool} }

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertRefreshToken(ctx context.Context, db execer, t auth.RefreshToken) error {
	_, err := db.Exec(ctx, `
		INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, family_created_at, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.UserID, t.FamilyID, t.Hash, t.FamilyCreatedAt, t.CreatedAt, t.ExpiresAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation: the user is gone
		return user.ErrNotFound.With("", err)
	}
	return err
}

// Create stores a new refresh token.
func (s *RefreshTokens) Create(ctx context.Context, t auth.RefreshToken) (err error) {
	defer translate(&err)
	if err := insertRefreshToken(ctx, s.pool, t); err != nil {
		return fmt.Errorf("postgres: storing a refresh token: %w", err)
	}
	return nil
}

// Rotate locks the token with this hash and applies judge's Rotation in one
// transaction. The row lock serialises concurrent refreshes with one token:
// the second sees the token rotated. The successor's row is locked too
// before judge sees whether it was used, so a retry and the successor's
// own refresh cannot both go through. The Rotation is committed even when
// judge also returns an error, which Rotate then returns.
func (s *RefreshTokens) Rotate(ctx context.Context, hash []byte, judge func(auth.RefreshToken) (auth.Rotation, error)) (err error) {
	defer translate(&err)
	var verdict error
	err = InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var t auth.RefreshToken
		err := tx.QueryRow(ctx, `
			SELECT id, user_id, family_id, token_hash, family_created_at, created_at, expires_at, rotated_at, revoked_at, replaced_by
			FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hash).
			Scan(&t.ID, &t.UserID, &t.FamilyID, &t.Hash, &t.FamilyCreatedAt, &t.CreatedAt, &t.ExpiresAt, &t.RotatedAt, &t.RevokedAt, &t.ReplacedBy)
		if errors.Is(err, pgx.ErrNoRows) {
			return auth.ErrInvalidRefresh
		}
		if err != nil {
			return err
		}
		if t.ReplacedBy != nil {
			err := tx.QueryRow(ctx, `SELECT rotated_at IS NOT NULL OR revoked_at IS NOT NULL
				FROM refresh_tokens WHERE id = $1 FOR UPDATE`, *t.ReplacedBy).Scan(&t.SuccessorUsed)
			if errors.Is(err, pgx.ErrNoRows) {
				t.SuccessorUsed = true // pruned: long gone
			} else if err != nil {
				return err
			}
		}
		var rot auth.Rotation
		rot, verdict = judge(t)
		if rot.RevokeFamily {
			if _, err := tx.Exec(ctx, `
				UPDATE refresh_tokens SET revoked_at = now()
				WHERE family_id = $1 AND revoked_at IS NULL`, t.FamilyID); err != nil {
				return err
			}
		}
		if rot.RevokeSuccessor && t.ReplacedBy != nil {
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`,
				*t.ReplacedBy); err != nil {
				return err
			}
		}
		if rot.Next != nil {
			if err := insertRefreshToken(ctx, tx, *rot.Next); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, $2), replaced_by = $3
				WHERE id = $1`, t.ID, rot.Next.CreatedAt, rot.Next.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: rotating a refresh token: %w", err)
	}
	return verdict
}

// RevokeUser revokes every live refresh token of the user.
func (s *RefreshTokens) RevokeUser(ctx context.Context, userID uuid.UUID, at time.Time) (err error) {
	defer translate(&err)
	if _, err := s.pool.Exec(ctx, `
		UPDATE refresh_tokens SET revoked_at = $2
		WHERE user_id = $1 AND revoked_at IS NULL`, userID, at); err != nil {
		return fmt.Errorf("postgres: revoking the refresh tokens of %s: %w", userID, err)
	}
	return nil
}

// pruneBatch bounds one DELETE of PruneRefreshTokens, so that no statement
// holds many row locks or runs long.
const pruneBatch = 5000

// PruneRefreshTokens deletes the refresh tokens nobody can use or needs:
// expired ones, those of sessions older than maxAge (0: none), and those
// rotated more than rotatedFor ago. A rotated token is kept that long so
// that presenting it again (it leaked) revokes its family; later it is
// refused as unknown. It returns how many rows went.
func (s *RefreshTokens) PruneRefreshTokens(ctx context.Context, maxAge, rotatedFor time.Duration) (n int64, err error) {
	defer translate(&err)
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM refresh_tokens WHERE id IN (
			SELECT id FROM refresh_tokens
			WHERE expires_at < now()
			   OR rotated_at < now() - $2::interval
			   OR ($1::interval > '0'::interval AND family_created_at < now() - $1::interval)
			LIMIT $3)`, maxAge, rotatedFor, pruneBatch)
		if err != nil {
			return n, fmt.Errorf("postgres: pruning refresh tokens: %w", err)
		}
		n += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return n, nil
		}
	}
}
