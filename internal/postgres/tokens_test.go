package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

func newToken(userID, family uuid.UUID, plain string) auth.RefreshToken {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return auth.RefreshToken{
		ID: uuid.New(), UserID: userID, FamilyID: family, Hash: auth.HashRefreshToken(plain),
		FamilyCreatedAt: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}
}

func TestRefreshTokensRotate(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	u, err := postgres.NewUsers(pool).Upsert(ctx, "o-tok", "")
	if err != nil {
		t.Fatal(err)
	}
	tokens := postgres.NewRefreshTokens(pool)
	family := uuid.New()
	first := newToken(u.ID, family, "first")
	if err := tokens.Create(ctx, first); err != nil {
		t.Fatalf("Create: %v", err)
	}

	t.Run("unknown hash", func(t *testing.T) {
		err := tokens.Rotate(ctx, auth.HashRefreshToken("nope"), func(auth.RefreshToken) (auth.Rotation, error) {
			t.Error("judge called for an unknown token")
			return auth.Rotation{}, nil
		})
		if !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("Rotate(unknown) = %v; want ErrInvalidRefresh", err)
		}
	})

	second := newToken(u.ID, family, "second")
	t.Run("rotate", func(t *testing.T) {
		err := tokens.Rotate(ctx, first.Hash, func(cur auth.RefreshToken) (auth.Rotation, error) {
			if cur.ID != first.ID || cur.FamilyID != family || cur.RotatedAt != nil || cur.RevokedAt != nil {
				t.Errorf("judge got %+v", cur)
			}
			return auth.Rotation{Next: &second}, nil
		})
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
	})

	t.Run("the rotated token is seen as rotated", func(t *testing.T) {
		_ = tokens.Rotate(ctx, first.Hash, func(cur auth.RefreshToken) (auth.Rotation, error) {
			if cur.RotatedAt == nil {
				t.Error("RotatedAt not set")
			}
			return auth.Rotation{}, nil
		})
	})

	t.Run("a revocation is committed even when judge fails", func(t *testing.T) {
		reuse := errors.New("reuse")
		err := tokens.Rotate(ctx, first.Hash, func(auth.RefreshToken) (auth.Rotation, error) {
			return auth.Rotation{RevokeFamily: true}, reuse
		})
		if !errors.Is(err, reuse) {
			t.Fatalf("Rotate = %v; want judge's error", err)
		}
		_ = tokens.Rotate(ctx, second.Hash, func(cur auth.RefreshToken) (auth.Rotation, error) {
			if cur.RevokedAt == nil {
				t.Error("the family's newest token is not revoked")
			}
			return auth.Rotation{}, nil
		})
	})
}

func TestRefreshTokensRevokeUserAndMissingUser(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	users := postgres.NewUsers(pool)
	tokens := postgres.NewRefreshTokens(pool)
	alice, err := users.Upsert(ctx, "o-alice", "")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := users.Upsert(ctx, "o-bob", "")
	if err != nil {
		t.Fatal(err)
	}
	a, b := newToken(alice.ID, uuid.New(), "a"), newToken(bob.ID, uuid.New(), "b")
	for _, tok := range []auth.RefreshToken{a, b} {
		if err := tokens.Create(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := tokens.RevokeUser(ctx, alice.ID, time.Now()); err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	revoked := func(tok auth.RefreshToken) bool {
		var r bool
		_ = tokens.Rotate(ctx, tok.Hash, func(cur auth.RefreshToken) (auth.Rotation, error) {
			r = cur.RevokedAt != nil
			return auth.Rotation{}, nil
		})
		return r
	}
	if !revoked(a) || revoked(b) {
		t.Errorf("after revoking alice: alice revoked %v (want true), bob revoked %v (want false)", revoked(a), revoked(b))
	}
	if err := tokens.Create(ctx, newToken(uuid.New(), uuid.New(), "ghost")); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Create for a missing user = %v; want user.ErrNotFound", err)
	}
}

// TestRefreshTokensSuccessor: Rotate records each token's successor, tells
// judge whether that successor was used, and revokes it on request (a
// retry in the grace window) while the first rotation time stays.
func TestRefreshTokensSuccessor(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	u, err := postgres.NewUsers(pool).Upsert(ctx, "o-succ", "")
	if err != nil {
		t.Fatal(err)
	}
	tokens := postgres.NewRefreshTokens(pool)
	family := uuid.New()
	first, second, third := newToken(u.ID, family, "first"), newToken(u.ID, family, "second"), newToken(u.ID, family, "third")
	if err := tokens.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	seen := func(tok auth.RefreshToken) (cur auth.RefreshToken) {
		t.Helper()
		if err := tokens.Rotate(ctx, tok.Hash, func(c auth.RefreshToken) (auth.Rotation, error) {
			cur = c
			return auth.Rotation{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		return cur
	}
	if err := tokens.Rotate(ctx, first.Hash, func(auth.RefreshToken) (auth.Rotation, error) {
		return auth.Rotation{Next: &second}, nil
	}); err != nil {
		t.Fatal(err)
	}
	cur := seen(first)
	if cur.ReplacedBy == nil || *cur.ReplacedBy != second.ID || cur.SuccessorUsed || cur.RotatedAt == nil {
		t.Fatalf("after a rotation: %+v; want replaced by %s, unused", cur, second.ID)
	}
	rotatedAt := *cur.RotatedAt

	// A retry: a new successor, the first one revoked.
	third.CreatedAt = third.CreatedAt.Add(time.Second)
	if err := tokens.Rotate(ctx, first.Hash, func(auth.RefreshToken) (auth.Rotation, error) {
		return auth.Rotation{Next: &third, RevokeSuccessor: true}, nil
	}); err != nil {
		t.Fatal(err)
	}
	cur = seen(first)
	if *cur.ReplacedBy != third.ID || !cur.RotatedAt.Equal(rotatedAt) || cur.SuccessorUsed {
		t.Errorf("after a retry: %+v; want replaced by %s, first rotated at %s, unused", cur, third.ID, rotatedAt)
	}
	if s := seen(second); s.RevokedAt == nil {
		t.Error("the successor the retry replaced is not revoked")
	}
	if s := seen(third); s.RevokedAt != nil || s.RotatedAt != nil {
		t.Errorf("the new successor: %+v; want live", s)
	}
	// Once the successor is rotated in its turn, it counts as used.
	fourth := newToken(u.ID, family, "fourth")
	if err := tokens.Rotate(ctx, third.Hash, func(auth.RefreshToken) (auth.Rotation, error) {
		return auth.Rotation{Next: &fourth}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if cur := seen(first); !cur.SuccessorUsed {
		t.Error("a successor that was itself rotated is not seen as used")
	}
}

// TestPruneRefreshTokens: the cleanup deletes expired tokens, tokens of
// sessions past their maximum age and tokens rotated long ago, and keeps
// everything a session or reuse detection still needs.
func TestPruneRefreshTokens(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	u, err := postgres.NewUsers(pool).Upsert(ctx, "o-prune", "")
	if err != nil {
		t.Fatal(err)
	}
	tokens := postgres.NewRefreshTokens(pool)
	now := time.Now().UTC()
	day := 24 * time.Hour
	const maxAge, rotatedFor = 90 * 24 * time.Hour, 7 * 24 * time.Hour
	ago := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	tests := []struct {
		name      string
		family    time.Duration // the session's age
		created   time.Duration
		expiresIn time.Duration
		rotated   *time.Time
		revoked   *time.Time
		keep      bool
	}{
		{name: "live", family: day, created: time.Hour, expiresIn: day, keep: true},
		{name: "expired", family: 40 * day, created: 31 * day, expiresIn: -day},
		{name: "rotated a day ago: kept for reuse detection", family: 10 * day, created: 2 * day, expiresIn: 20 * day, rotated: ago(day), keep: true},
		{name: "rotated 8 days ago", family: 10 * day, created: 9 * day, expiresIn: 20 * day, rotated: ago(8 * day)},
		{name: "revoked an hour ago, not expired: refused anyway, kept until it expires", family: day, created: day, expiresIn: day, revoked: ago(time.Hour), keep: true},
		{name: "session past its maximum age", family: 91 * day, created: day, expiresIn: 20 * day},
	}
	for _, tt := range tests {
		tok := newToken(u.ID, uuid.New(), tt.name)
		tok.FamilyCreatedAt, tok.CreatedAt, tok.ExpiresAt = now.Add(-tt.family), now.Add(-tt.created), now.Add(tt.expiresIn)
		if err := tokens.Create(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $2, revoked_at = $3 WHERE id = $1`,
			tok.ID, tt.rotated, tt.revoked); err != nil {
			t.Fatal(err)
		}
	}
	n, err := tokens.PruneRefreshTokens(ctx, maxAge, rotatedFor)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT token_hash FROM refresh_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		kept[string(h)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var deleted int64
	for _, tt := range tests {
		if got := kept[string(auth.HashRefreshToken(tt.name))]; got != tt.keep {
			t.Errorf("%s: kept %v, want %v", tt.name, got, tt.keep)
		}
		if !tt.keep {
			deleted++
		}
	}
	if n != deleted {
		t.Errorf("PruneRefreshTokens = %d, want %d", n, deleted)
	}
	// Nothing left to do: a second run deletes nothing.
	if n, err := tokens.PruneRefreshTokens(ctx, maxAge, rotatedFor); err != nil || n != 0 {
		t.Errorf("second run = %d, %v; want 0", n, err)
	}
}
