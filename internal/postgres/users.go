package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/user"
)

// Users keeps accounts; it satisfies auth.UserStore and user.Store.
type Users struct {
	pool *pgxpool.Pool
}

// NewUsers returns the user store on pool.
func NewUsers(pool *pgxpool.Pool) *Users { return &Users{pool: pool} }

const userColumns = `id, openid, COALESCE(unionid, ''), nickname, COALESCE(avatar_key, ''), created_at, updated_at`

func scanUser(row pgx.Row) (user.User, error) {
	var u user.User
	err := row.Scan(&u.ID, &u.OpenID, &u.UnionID, &u.Nickname, &u.AvatarKey, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.User{}, user.ErrNotFound
	}
	return u, err
}

// Upsert returns the user with this openid, creating it if needed. One
// statement with ON CONFLICT makes concurrent first logins of one openid
// converge on one row; DO UPDATE (not DO NOTHING) makes RETURNING yield
// the row either way. A unionid, once known, is kept.
func (s *Users) Upsert(ctx context.Context, openID, unionID string) (_ user.User, err error) {
	defer translate(&err)
	u, err := scanUser(s.pool.QueryRow(ctx, `
		INSERT INTO users (openid, unionid) VALUES ($1, NULLIF($2, ''))
		ON CONFLICT (openid) DO UPDATE
		SET unionid = COALESCE(EXCLUDED.unionid, users.unionid)
		RETURNING `+userColumns, openID, unionID))
	if err != nil {
		return user.User{}, fmt.Errorf("postgres: upserting a user: %w", err)
	}
	return u, nil
}

// User returns the user with this id, or user.ErrNotFound.
func (s *Users) User(ctx context.Context, id uuid.UUID) (_ user.User, err error) {
	defer translate(&err)
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return user.User{}, fmt.Errorf("postgres: loading user %s: %w", id, err)
	}
	return u, nil
}

// ByOpenID returns the user with this openid, or user.ErrNotFound.
func (s *Users) ByOpenID(ctx context.Context, openID string) (_ user.User, err error) {
	defer translate(&err)
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE openid = $1`, openID))
	if err != nil {
		return user.User{}, fmt.Errorf("postgres: loading the user of an openid: %w", err)
	}
	return u, nil
}

// Update locks the user's row, lets change edit the nickname and the avatar
// key, and saves them in the same transaction.
func (s *Users) Update(ctx context.Context, id uuid.UUID, change func(*user.User) error) (_ user.User, err error) {
	defer translate(&err)
	var out user.User
	err = InTx(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return err
		}
		out, err = scanUser(tx.QueryRow(ctx, `
			UPDATE users SET nickname = $2, avatar_key = NULLIF($3, ''), updated_at = now()
			WHERE id = $1
			RETURNING `+userColumns, id, u.Nickname, u.AvatarKey))
		return err
	})
	if err != nil {
		return user.User{}, fmt.Errorf("postgres: updating user %s: %w", id, err)
	}
	return out, nil
}

// OpenID returns the openid of the user with this id (wechat.OpenIDs).
func (s *Users) OpenID(ctx context.Context, id uuid.UUID) (string, error) {
	u, err := s.User(ctx, id)
	return u.OpenID, err
}
