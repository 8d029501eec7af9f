package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

// fakeSource is the database's view of banned and deleted accounts; block,
// when set, holds a reload until it is closed (a reload racing a local
// change).
type fakeSource struct {
	mu      sync.Mutex
	banned  []uuid.UUID
	deleted []uuid.UUID
	err     error
	block   chan struct{}
	started chan struct{}
}

func (f *fakeSource) Revoked(_ context.Context, _ time.Duration) ([]uuid.UUID, []uuid.UUID, error) {
	f.mu.Lock()
	banned, deleted, err, block, started := f.banned, f.deleted, f.err, f.block, f.started
	f.mu.Unlock()
	if started != nil {
		close(started)
	}
	if block != nil {
		<-block
	}
	return banned, deleted, err
}

func (f *fakeSource) set(banned, deleted []uuid.UUID, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.banned, f.deleted, f.err = banned, deleted, err
}

func TestRevocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	alice, bob, carol := uuid.New(), uuid.New(), uuid.New()
	src := &fakeSource{}
	r := auth.NewRevocations(src, time.Second, time.Hour, logger)
	standing := func(id uuid.UUID) string {
		switch err := r.Check(id); {
		case err == nil:
			return "good"
		case errors.Is(err, auth.ErrBanned):
			return "banned"
		case errors.Is(err, auth.ErrUnauthenticated):
			return "deleted"
		default:
			return err.Error()
		}
	}
	expect := func(when string, want map[uuid.UUID]string) {
		t.Helper()
		for id, w := range want {
			if got := standing(id); got != w {
				t.Errorf("%s: %v is %s, want %s", when, id, got, w)
			}
		}
	}

	src.set([]uuid.UUID{alice}, []uuid.UUID{bob}, nil)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expect("after a reload", map[uuid.UUID]string{alice: "banned", bob: "deleted", carol: "good"})

	src.set(nil, nil, errors.New("database down"))
	if err := r.Reload(ctx); err == nil {
		t.Fatal("a failed reload reported no error")
	}
	expect("after a failed reload (the last set is kept)", map[uuid.UUID]string{alice: "banned", bob: "deleted"})

	src.set(nil, nil, nil)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expect("after the database lifted them", map[uuid.UUID]string{alice: "good", bob: "good"})

	r.Banned(carol)
	expect("a ban made here, at once", map[uuid.UUID]string{carol: "banned"})
	src.set([]uuid.UUID{carol}, nil, nil)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	r.Unbanned(carol)
	expect("an unban made here, at once", map[uuid.UUID]string{carol: "good"})

	// A reload whose query ran before a local change committed cannot
	// have seen it: the change survives it.
	src.mu.Lock()
	src.banned, src.deleted = []uuid.UUID{carol}, nil // the stale view: carol still banned
	src.block, src.started = make(chan struct{}), make(chan struct{})
	block, started := src.block, src.started
	src.mu.Unlock()
	done := make(chan error)
	go func() { done <- r.Reload(ctx) }()
	<-started
	r.Deleted(alice)
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expect("a reload that started before local changes", map[uuid.UUID]string{alice: "deleted"})
	src.mu.Lock()
	src.block, src.started = nil, nil
	src.banned, src.deleted = nil, []uuid.UUID{alice}
	src.mu.Unlock()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expect("the next reload, from the database alone", map[uuid.UUID]string{alice: "deleted", carol: "good"})
}

func TestRevocationsRunReloads(t *testing.T) {
	t.Parallel()
	src := &fakeSource{}
	r := auth.NewRevocations(src, 20*time.Millisecond, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	id := uuid.New()
	src.set([]uuid.UUID{id}, nil, nil)
	deadline := time.Now().Add(30 * time.Second)
	for !errors.Is(r.Check(id), auth.ErrBanned) {
		if time.Now().After(deadline) {
			t.Fatal("Run never reloaded the ban")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeStanding bans one subject and records the carry-overs asked.
type fakeStanding struct {
	banned    []byte
	mu        sync.Mutex
	carryOver []uuid.UUID
}

func (f *fakeStanding) Banned(_ context.Context, subject []byte) (bool, error) {
	return string(subject) == string(f.banned), nil
}

func (f *fakeStanding) CarryOver(_ context.Context, userID uuid.UUID, _ []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.carryOver = append(f.carryOver, userID)
	return nil
}

// TestLoginStanding: a banned WeChat user's login is refused before any
// account is made; any other login takes over the quota a deleted account
// of the same user left; a banned or deleted account's tokens are refused.
func TestLoginStanding(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	subjects, err := user.NewSubjects([]byte("a-subject-key-a-subject-key-0123"))
	if err != nil {
		t.Fatal(err)
	}
	standing := &fakeStanding{banned: subjects.Of("dev:outlaw")}
	access, err := auth.NewAccessTokens(testKey, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	revocations := auth.NewRevocations(&fakeSource{}, time.Second, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc, err := auth.NewService(auth.Config{RefreshTTL: 24 * time.Hour, DevLogin: true,
		Subjects: subjects, Standing: standing, Revocations: revocations},
		postgres.NewUsers(pool), postgres.NewRefreshTokens(pool), access, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Login(ctx, "dev-outlaw"); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("a banned user's login: %v, want ErrBanned", err)
	}
	var users int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil || users != 0 {
		t.Errorf("the refused login made %d accounts (%v)", users, err)
	}
	s, err := svc.Login(ctx, "dev-citizen")
	if err != nil {
		t.Fatal(err)
	}
	if len(standing.carryOver) != 1 || standing.carryOver[0] != s.User.ID {
		t.Errorf("carry-overs %v, want one for %v", standing.carryOver, s.User.ID)
	}
	if _, err := svc.Authenticate(s.AccessToken); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	revocations.Banned(s.User.ID)
	if _, err := svc.Authenticate(s.AccessToken); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("a banned account's token: %v, want ErrBanned", err)
	}
	if _, err := svc.Refresh(ctx, s.RefreshToken); !errors.Is(err, auth.ErrBanned) {
		t.Errorf("a banned account's refresh: %v, want ErrBanned", err)
	}
	revocations.Unbanned(s.User.ID)
	revocations.Deleted(s.User.ID)
	if _, err := svc.Authenticate(s.AccessToken); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("a deleted account's token: %v, want ErrUnauthenticated", err)
	}
}
