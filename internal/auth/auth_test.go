package auth_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// fakeExchanger stands in for WeChat's code2Session.
type fakeExchanger struct {
	calls    atomic.Int32
	exchange func(code string) (string, string, error)
}

func (f *fakeExchanger) Exchange(_ context.Context, code string) (string, string, error) {
	f.calls.Add(1)
	return f.exchange(code)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	svc   *auth.Service
	users *postgres.Users
	clock *clock
}

func newService(t *testing.T, devLogin bool, ex auth.CodeExchanger) fixture {
	t.Helper()
	return newServiceWith(t, auth.Config{DevLogin: devLogin}, ex)
}

// newServiceWith is newService with cfg (a 24h refresh TTL and the
// fixture's clock unless cfg says otherwise).
func newServiceWith(t *testing.T, cfg auth.Config, ex auth.CodeExchanger) fixture {
	t.Helper()
	pool := pgtest.NewPool(t)
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	access, err := auth.NewAccessTokens(testKey, time.Hour, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 24 * time.Hour
	}
	cfg.Now = clk.Now
	users := postgres.NewUsers(pool)
	svc, err := auth.NewService(cfg, users, postgres.NewRefreshTokens(pool), access, ex)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	return fixture{svc: svc, users: users, clock: clk}
}

// isInvalidRequest says whether err is a failure.InvalidRequest: made on
// the spot, it has no sentinel to compare with.
func isInvalidRequest(err error) bool {
	fe := failure.From(err)
	return fe != nil && fe.Kind == failure.Invalid && fe.Code == "invalid_request"
}

func TestDevLogin(t *testing.T) {
	t.Parallel()
	f := newService(t, true, nil)
	ctx := context.Background()

	first, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if first.User.OpenID != "dev:alice" {
		t.Errorf("openid = %q; want dev:alice", first.User.OpenID)
	}
	if first.AccessToken == "" || first.RefreshToken == "" || first.ExpiresIn != time.Hour {
		t.Errorf("session = %+v; want tokens and a one-hour expiry", first)
	}
	again, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatalf("second Login: %v", err)
	}
	if again.User.ID != first.User.ID {
		t.Errorf("second login made user %v; want the same user %v", again.User.ID, first.User.ID)
	}
	if id, err := f.svc.Authenticate(again.AccessToken); err != nil || id != first.User.ID {
		t.Errorf("Authenticate = %v, %v; want %v", id, err, first.User.ID)
	}

	for _, code := range []string{"dev-", "dev-a b", "dev-ali:ce", "wx-real-looking-code", "dev-" + string(make([]byte, 40))} {
		if _, err := f.svc.Login(ctx, code); !errors.Is(err, auth.ErrInvalidCode) {
			t.Errorf("Login(%q) = %v; want ErrInvalidCode", code, err)
		}
	}
	if _, err := f.svc.Login(ctx, "  "); !isInvalidRequest(err) {
		t.Errorf("Login with a blank code = %v; want invalid_request", err)
	}
}

func TestLoginWithWeChat(t *testing.T) {
	t.Parallel()
	ex := &fakeExchanger{exchange: func(code string) (string, string, error) {
		switch code {
		case "good":
			return "o-bob", "u-bob", nil
		case "later-without-unionid":
			return "o-bob", "", nil
		default:
			return "", "", wechat.ErrInvalidCode
		}
	}}
	f := newService(t, false, ex)
	ctx := context.Background()

	s, err := f.svc.Login(ctx, "good")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if s.User.OpenID != "o-bob" || s.User.UnionID != "u-bob" {
		t.Errorf("user = %+v; want o-bob / u-bob", s.User)
	}
	s2, err := f.svc.Login(ctx, "later-without-unionid")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if s2.User.ID != s.User.ID || s2.User.UnionID != "u-bob" {
		t.Errorf("user after a login without unionid = %+v; want the same user, unionid kept", s2.User)
	}
	if _, err := f.svc.Login(ctx, "bad"); !errors.Is(err, auth.ErrInvalidCode) {
		t.Errorf("Login(bad) = %v; want invalid_code", err)
	}

	// Prod (no dev login): dev codes are refused without asking WeChat.
	before := ex.calls.Load()
	if _, err := f.svc.Login(ctx, "dev-alice"); !errors.Is(err, auth.ErrInvalidCode) {
		t.Errorf("Login(dev-alice) without dev login = %v; want invalid_code", err)
	}
	if ex.calls.Load() != before {
		t.Error("a dev code was sent to WeChat")
	}
}

func TestNewServiceNeedsAWayToLogIn(t *testing.T) {
	t.Parallel()
	access, err := auth.NewAccessTokens(testKey, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewService(auth.Config{RefreshTTL: 24 * time.Hour}, nil, nil, access, nil); err == nil {
		t.Error("NewService accepted neither an exchanger nor dev login")
	}
	if _, err := auth.NewService(auth.Config{RefreshTTL: time.Minute, DevLogin: true}, nil, nil, access, nil); err == nil {
		t.Error("NewService accepted a refresh TTL shorter than the access TTL")
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	f := newService(t, true, nil)
	ctx := context.Background()
	login, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.Login(ctx, "dev-alice") // a second device: another family
	if err != nil {
		t.Fatal(err)
	}

	r1, err := f.svc.Refresh(ctx, login.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if r1.RefreshToken == login.RefreshToken || r1.User.ID != login.User.ID {
		t.Fatalf("Refresh = %+v; want a new token for the same user", r1)
	}
	if id, err := f.svc.Authenticate(r1.AccessToken); err != nil || id != login.User.ID {
		t.Fatalf("the refreshed access token: %v, %v", id, err)
	}
	r2, err := f.svc.Refresh(ctx, r1.RefreshToken)
	if err != nil {
		t.Fatalf("second Refresh: %v", err)
	}

	// The first token was rotated: presenting it again revokes the family.
	if _, err := f.svc.Refresh(ctx, login.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("reusing a rotated token = %v; want ErrInvalidRefresh", err)
	}
	if _, err := f.svc.Refresh(ctx, r2.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("the family's newest token after a reuse = %v; want ErrInvalidRefresh", err)
	}
	// The other device's family is untouched.
	if _, err := f.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatalf("another family after a reuse: %v", err)
	}
}

func TestRefreshRefusals(t *testing.T) {
	t.Parallel()
	f := newService(t, true, nil)
	ctx := context.Background()
	login, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, "never-issued"); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Errorf("unknown token = %v; want ErrInvalidRefresh", err)
	}
	if _, err := f.svc.Refresh(ctx, ""); !isInvalidRequest(err) {
		t.Errorf("empty token = %v; want invalid_request", err)
	}
	f.clock.Advance(24*time.Hour + time.Second)
	if _, err := f.svc.Refresh(ctx, login.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Errorf("expired token = %v; want ErrInvalidRefresh", err)
	}
}

func TestLogoutRevokesEveryFamily(t *testing.T) {
	t.Parallel()
	f := newService(t, true, nil)
	ctx := context.Background()
	phone, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatal(err)
	}
	tablet, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := f.svc.Login(ctx, "dev-bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, phone.User.ID); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	for name, tok := range map[string]string{"phone": phone.RefreshToken, "tablet": tablet.RefreshToken} {
		if _, err := f.svc.Refresh(ctx, tok); !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Errorf("%s token after logout = %v; want ErrInvalidRefresh", name, err)
		}
	}
	if _, err := f.svc.Refresh(ctx, bob.RefreshToken); err != nil {
		t.Errorf("another user's token after logout: %v", err)
	}
	if err := f.svc.Logout(ctx, uuid.New()); err != nil {
		t.Errorf("Logout of a user without tokens: %v", err)
	}
}

// TestRefreshGraceWindow: a client whose refresh answer was lost presents
// the same token again. Within REFRESH_REUSE_GRACE of the rotation, and
// while the successor nobody received is unused, it gets a new pair and
// that successor is revoked; the session goes on. After the window, or
// once the successor was used, the second presentation is reuse: the
// family is revoked, as without a grace window.
func TestRefreshGraceWindow(t *testing.T) {
	t.Parallel()
	const grace = 10 * time.Second
	ctx := context.Background()
	tests := []struct {
		name string
		// between is what happens after the first refresh, before the
		// token is presented again: the wait, and whether the successor
		// is used meanwhile.
		wait          time.Duration
		successorUsed bool
		grace         time.Duration
		wantRetry     bool // a new pair, the session alive
	}{
		{name: "retry at once", wait: 0, grace: grace, wantRetry: true},
		{name: "retry at the end of the window", wait: grace, grace: grace, wantRetry: true},
		{name: "after the window: reuse", wait: grace + time.Second, grace: grace},
		{name: "successor already used: reuse", wait: time.Second, successorUsed: true, grace: grace},
		{name: "no grace configured: reuse", wait: 0, grace: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newServiceWith(t, auth.Config{DevLogin: true, ReuseGrace: tt.grace}, nil)
			login, err := f.svc.Login(ctx, "dev-alice")
			if err != nil {
				t.Fatal(err)
			}
			lost, err := f.svc.Refresh(ctx, login.RefreshToken) // the answer the client never got
			if err != nil {
				t.Fatal(err)
			}
			live := lost.RefreshToken
			if tt.successorUsed {
				next, err := f.svc.Refresh(ctx, lost.RefreshToken)
				if err != nil {
					t.Fatal(err)
				}
				live = next.RefreshToken
			}
			f.clock.Advance(tt.wait)

			retry, err := f.svc.Refresh(ctx, login.RefreshToken)
			if !tt.wantRetry {
				if !errors.Is(err, auth.ErrInvalidRefresh) {
					t.Fatalf("presenting the rotated token again = %v, want ErrInvalidRefresh", err)
				}
				if _, err := f.svc.Refresh(ctx, live); !errors.Is(err, auth.ErrInvalidRefresh) {
					t.Errorf("the family's live token after a reuse = %v, want revoked", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("the retry = %v, want a new pair", err)
			}
			if retry.RefreshToken == lost.RefreshToken || retry.User.ID != login.User.ID {
				t.Fatalf("the retry = %+v, want a new token for the same user", retry)
			}
			if id, err := f.svc.Authenticate(retry.AccessToken); err != nil || id != login.User.ID {
				t.Errorf("the retry's access token: %v, %v", id, err)
			}
			// The successor nobody received is revoked, on its own.
			if _, err := f.svc.Refresh(ctx, lost.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
				t.Errorf("the lost successor after the retry = %v, want revoked", err)
			}
			next, err := f.svc.Refresh(ctx, retry.RefreshToken)
			if err != nil {
				t.Fatalf("the session after the retry: %v", err)
			}
			// Outside the window, the first token is plain reuse again.
			f.clock.Advance(grace + time.Second)
			if _, err := f.svc.Refresh(ctx, login.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
				t.Fatalf("the first token after the window = %v, want ErrInvalidRefresh", err)
			}
			if _, err := f.svc.Refresh(ctx, next.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
				t.Errorf("the family after that reuse = %v, want revoked", err)
			}
		})
	}
}

// TestSessionMaxAge: however often a session refreshes, it ends
// SESSION_MAX_AGE after its login; its last tokens expire then too.
func TestSessionMaxAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newServiceWith(t, auth.Config{DevLogin: true, RefreshTTL: 24 * time.Hour, MaxAge: 72 * time.Hour}, nil)
	login, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatal(err)
	}
	token := login.RefreshToken
	for _, step := range []time.Duration{20 * time.Hour, 20 * time.Hour, 20 * time.Hour, 11 * time.Hour} { // up to 71h
		f.clock.Advance(step)
		s, err := f.svc.Refresh(ctx, token)
		if err != nil {
			t.Fatalf("refresh within the maximum age: %v", err)
		}
		token = s.RefreshToken
	}
	f.clock.Advance(time.Hour) // 72h after the login
	_, err = f.svc.Refresh(ctx, token)
	if !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("refresh at the maximum age = %v, want ErrInvalidRefresh", err)
	}
	if fe := failure.From(err); fe == nil || !strings.Contains(fe.Message, "maximum age") {
		t.Errorf("message %v does not say why", err)
	}
	// A new login starts a new session.
	again, err := f.svc.Login(ctx, "dev-alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, again.RefreshToken); err != nil {
		t.Errorf("a fresh session: %v", err)
	}
}
