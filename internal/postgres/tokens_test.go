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
		CreatedAt: now, ExpiresAt: now.Add(time.Hour),
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
