package user_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestNormalizeNickname(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{name: "plain", in: "Alice", want: "Alice", ok: true},
		{name: "trimmed", in: " \t Alice \n", want: "Alice", ok: true},
		{name: "inner space kept", in: "Alice B", want: "Alice B", ok: true},
		{name: "emoji", in: "🐱 cat", want: "🐱 cat", ok: true},
		{name: "32 runes", in: strings.Repeat("壁", 32), want: strings.Repeat("壁", 32), ok: true},
		{name: "33 runes", in: strings.Repeat("壁", 33)},
		{name: "empty", in: ""},
		{name: "spaces only", in: "    "},
		{name: "control character", in: "Al\x07ice"},
		{name: "line separator", in: "Al\u2028ice"},
		{name: "invalid UTF-8", in: "Al\xffice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.NormalizeNickname(tt.in)
			if !tt.ok {
				if fe := failure.From(err); fe == nil || fe.Kind != failure.Invalid {
					t.Fatalf("NormalizeNickname(%q) = %q, %v; want invalid_request", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeNickname(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// failingStore is the real store whose Update fails, as a database that
// goes away between the upload and the save would.
type failingStore struct {
	*postgres.Users
}

func (failingStore) Update(context.Context, uuid.UUID, func(*user.User) error) (user.User, error) {
	return user.User{}, errors.New("database gone")
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestSetAvatar(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	users := postgres.NewUsers(pgtest.NewPool(t))
	u, err := users.Upsert(ctx, "o-avatar", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	local, err := storage.NewLocal(dir, "https://cdn.example.com")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := user.NewService(users, local, nil, logger)

	first, err := svc.SetAvatar(ctx, u.ID, pngOf(t, 64, 64))
	if err != nil {
		t.Fatalf("SetAvatar: %v", err)
	}
	if !strings.HasPrefix(first.AvatarKey, "avatars/"+u.ID.String()+"/") {
		t.Fatalf("avatar key %q", first.AvatarKey)
	}
	if got := svc.AvatarURL(first); got != "https://cdn.example.com/media/"+first.AvatarKey {
		t.Fatalf("AvatarURL = %q", got)
	}
	if svc.AvatarURL(user.User{}) != "" {
		t.Fatal("AvatarURL without an avatar is not empty")
	}

	t.Run("a failed save removes the new object and keeps the old", func(t *testing.T) {
		broken := user.NewService(failingStore{users}, local, nil, logger)
		if _, err := broken.SetAvatar(ctx, u.ID, pngOf(t, 32, 32)); err == nil {
			t.Fatal("SetAvatar succeeded with a failing store")
		}
		got := files(t, dir)
		if len(got) != 1 || !strings.HasSuffix(got[0], filepath.FromSlash(first.AvatarKey)) {
			t.Fatalf("files after a failed save: %v; want only %s", got, first.AvatarKey)
		}
	})

	t.Run("a new avatar replaces and deletes the old", func(t *testing.T) {
		second, err := svc.SetAvatar(ctx, u.ID, pngOf(t, 64, 64))
		if err != nil {
			t.Fatal(err)
		}
		got := files(t, dir)
		if second.AvatarKey == first.AvatarKey || len(got) != 1 || !strings.HasSuffix(got[0], filepath.FromSlash(second.AvatarKey)) {
			t.Fatalf("files: %v; want only %s", got, second.AvatarKey)
		}
	})

	t.Run("over 2 MiB", func(t *testing.T) {
		if _, err := svc.SetAvatar(ctx, u.ID, make([]byte, user.MaxAvatarBytes+1)); !errors.Is(err, user.ErrAvatarTooLarge) {
			t.Fatalf("SetAvatar(2 MiB + 1) = %v", err)
		}
	})
}

func TestRenameModeration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	users := postgres.NewUsers(pgtest.NewPool(t))
	u, err := users.Upsert(ctx, "o-mod", "")
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	errModerationDown := failure.New(failure.Upstream, "upstream_error", "down")
	moderate := func(_ context.Context, openID, text string) (bool, error) {
		asked = append(asked, openID+":"+text)
		switch text {
		case "bad":
			return false, nil
		case "down":
			return false, errModerationDown
		}
		return true, nil
	}
	local, err := storage.NewLocal(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(users, local, moderate, slog.New(slog.NewTextHandler(io.Discard, nil)))

	tests := []struct {
		name     string
		nickname string
		wantErr  error
		wantName string
	}{
		{name: "allowed", nickname: " Good ", wantName: "Good"},
		{name: "refused", nickname: "bad", wantErr: user.ErrContentRejected, wantName: "Good"},
		{name: "moderation down", nickname: "down", wantErr: errModerationDown, wantName: "Good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Rename(ctx, u.ID, tt.nickname)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Rename(%q) = %v; want %v", tt.nickname, err, tt.wantErr)
			}
			got, err := svc.Profile(ctx, u.ID)
			if err != nil || got.Nickname != tt.wantName {
				t.Fatalf("nickname = %q (%v); want %q", got.Nickname, err, tt.wantName)
			}
		})
	}
	if asked[0] != "o-mod:Good" {
		t.Errorf("moderator asked %v; want the trimmed nickname with the user's openid", asked)
	}
	if _, err := svc.Rename(ctx, uuid.New(), "Ghost"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Rename of a missing user = %v; want ErrNotFound", err)
	}
}
