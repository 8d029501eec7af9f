package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

func TestUsersUpsert(t *testing.T) {
	t.Parallel()
	users := postgres.NewUsers(pgtest.NewPool(t))
	ctx := context.Background()

	tests := []struct {
		name        string
		openID      string
		unionID     string
		wantUnionID string
	}{
		{name: "first login without unionid", openID: "o-1", unionID: "", wantUnionID: ""},
		{name: "a unionid arrives", openID: "o-1", unionID: "u-1", wantUnionID: "u-1"},
		{name: "a later login without unionid keeps it", openID: "o-1", unionID: "", wantUnionID: "u-1"},
	}
	var id uuid.UUID
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := users.Upsert(ctx, tt.openID, tt.unionID)
			if err != nil {
				t.Fatalf("Upsert: %v", err)
			}
			if id == uuid.Nil {
				id = u.ID
			}
			if u.ID != id || u.OpenID != tt.openID || u.UnionID != tt.wantUnionID || u.CreatedAt.IsZero() {
				t.Fatalf("Upsert = %+v; want id %v, unionid %q", u, id, tt.wantUnionID)
			}
		})
	}
}

func TestUsersUpsertConcurrentFirstLogin(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	users := postgres.NewUsers(pool)
	const n = 8
	ids := make([]uuid.UUID, n)
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			u, err := users.Upsert(context.Background(), "o-race", "")
			ids[i], errs[i] = u.ID, err
		}()
	}
	start.Done()
	done.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Upsert %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("concurrent first logins made users %v and %v", ids[0], ids[i])
		}
	}
	var count int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE openid = 'o-race'`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Fatalf("%d rows for one openid; want 1", count)
	}
}

func TestUsersUserAndUpdate(t *testing.T) {
	t.Parallel()
	users := postgres.NewUsers(pgtest.NewPool(t))
	ctx := context.Background()
	u, err := users.Upsert(ctx, "o-2", "")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := users.User(ctx, uuid.New()); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("User(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := users.Update(ctx, uuid.New(), func(*user.User) error { return nil }); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Update(unknown) = %v; want ErrNotFound", err)
	}

	got, err := users.Update(ctx, u.ID, func(u *user.User) error {
		u.Nickname, u.AvatarKey = "Alice", "avatars/x.jpg"
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got.Nickname != "Alice" || got.AvatarKey != "avatars/x.jpg" {
		t.Fatalf("Update = %+v", got)
	}

	refused := fmt.Errorf("refused")
	if _, err := users.Update(ctx, u.ID, func(u *user.User) error {
		u.Nickname = "Mallory"
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("Update with a failing change = %v; want its error", err)
	}
	again, err := users.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Nickname != "Alice" || again.AvatarKey != "avatars/x.jpg" {
		t.Fatalf("a failed change was saved: %+v", again)
	}

	cleared, err := users.Update(ctx, u.ID, func(u *user.User) error {
		u.AvatarKey = ""
		return nil
	})
	if err != nil || cleared.AvatarKey != "" {
		t.Fatalf("clearing the avatar: %+v, %v", cleared, err)
	}
}
