package wechat_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newClient(t *testing.T, fake *wechattest.Server, mutate func(*wechat.Config)) (*wechat.Client, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := wechat.Config{
		AppID:     wechattest.AppID,
		AppSecret: wechattest.AppSecret,
		BaseURL:   fake.URL,
		Timeout:   5 * time.Second,
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := wechat.New(cfg)
	if err != nil {
		t.Fatalf("wechat.New: %v", err)
	}
	return c, logs
}

// assertNoSecrets fails when an error or the log shows the app secret, an
// access token or a session key.
func assertNoSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{wechattest.AppSecret, "ACCESSTOKEN-", "SESSIONKEY-"} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q leaked in %q", secret, s)
			}
		}
	}
}

func TestExchange(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	tests := []struct {
		name        string
		code        string
		mutate      func(*wechat.Config)
		wantOpenID  string
		wantUnionID string
		wantErr     *failure.Error
		wantKind    failure.Kind
		wantLog     string
	}{
		{name: "ok with unionid", code: "ok-alice", wantOpenID: "o-alice", wantUnionID: "u-alice"},
		{name: "ok without unionid", code: "nounion-bob", wantOpenID: "o-bob"},
		{name: "40029 invalid code", code: "err-40029", wantErr: wechat.ErrInvalidCode, wantKind: failure.Unauthorized},
		{name: "unknown code is 40029", code: "whatever", wantErr: wechat.ErrInvalidCode, wantKind: failure.Unauthorized},
		{name: "40163 code already used", code: "err-40163", wantErr: wechat.ErrInvalidCode, wantKind: failure.Unauthorized},
		{name: "40226 blocked user", code: "err-40226", wantErr: wechat.ErrBlocked, wantKind: failure.Forbidden},
		{name: "45011 rate limited", code: "err-45011", wantErr: wechat.ErrRateLimited, wantKind: failure.RateLimited},
		{name: "-1 busy", code: "err--1", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{name: "unexpected errcode", code: "err-99999", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{name: "HTTP 500", code: "http-500", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{name: "HTTP 502", code: "http-502", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{name: "not JSON", code: "garbage", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{
			name: "timeout", code: "hang", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream,
			mutate: func(c *wechat.Config) { c.Timeout = 50 * time.Millisecond },
		},
		{
			name: "network error", code: "ok-alice", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream,
			mutate: func(c *wechat.Config) { c.BaseURL = "http://127.0.0.1:1" },
		},
		{
			name: "40013 bad appid", code: "ok-alice", wantErr: wechat.ErrMisconfigured, wantKind: failure.Internal,
			mutate: func(c *wechat.Config) { c.AppID = "wx-wrong" }, wantLog: "WECHAT_APP_ID",
		},
		{
			name: "40125 bad secret", code: "ok-alice", wantErr: wechat.ErrMisconfigured, wantKind: failure.Internal,
			mutate: func(c *wechat.Config) { c.AppSecret = "wrong-secret-which-must-not-leak" }, wantLog: "WECHAT_APP_SECRET",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, logs := newClient(t, fake, tt.mutate)
			openID, unionID, err := c.Exchange(context.Background(), tt.code)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				if openID != tt.wantOpenID || unionID != tt.wantUnionID {
					t.Fatalf("Exchange = %q, %q; want %q, %q", openID, unionID, tt.wantOpenID, tt.wantUnionID)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Exchange error = %v; want %v", err, tt.wantErr)
			}
			if fe := failure.From(err); fe == nil || fe.Kind != tt.wantKind {
				t.Fatalf("Exchange error kind = %+v; want kind %d", fe, tt.wantKind)
			}
			if tt.wantLog != "" && !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q does not mention %q", logs.String(), tt.wantLog)
			}
			assertNoSecrets(t, err.Error(), logs.String())
			if strings.Contains(err.Error(), "wrong-secret-which-must-not-leak") || strings.Contains(logs.String(), "wrong-secret-which-must-not-leak") {
				t.Errorf("the configured secret leaked: %v", err)
			}
		})
	}
}

func TestExchangeRateLimitedSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, wechattest.New(t), nil)
	_, _, err := c.Exchange(context.Background(), "err-45011")
	fe := failure.From(err)
	if fe == nil || fe.RetryAfter <= 0 {
		t.Fatalf("error %v carries no RetryAfter", err)
	}
}

func TestExchangeCallerGone(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, wechattest.New(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.Exchange(ctx, "ok-alice")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Exchange with a canceled context = %v; want context.Canceled", err)
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	tests := []struct {
		name        string
		text        string
		openID      string
		wantSuggest string
		wantPass    bool
		wantErr     *failure.Error
	}{
		{name: "pass", text: "Alice", openID: "o-alice", wantSuggest: "pass", wantPass: true},
		{name: "risky", text: "something risky", openID: "o-alice", wantSuggest: "risky"},
		{name: "review", text: "needs review", openID: "o-alice", wantSuggest: "review"},
		{name: "61010 user inactive", text: "err-61010", openID: "o-alice", wantErr: wechat.ErrUserInactive},
		{name: "45009 rate limited", text: "err-45009", openID: "o-alice", wantErr: wechat.ErrRateLimited},
		{name: "-1 busy", text: "err--1", openID: "o-alice", wantErr: wechat.ErrUnavailable},
		{name: "HTTP 503", text: "http-503", openID: "o-alice", wantErr: wechat.ErrUnavailable},
		{name: "missing openid", text: "Alice", openID: "", wantErr: wechat.ErrUnavailable},
	}
	c, logs := newClient(t, fake, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.CheckText(context.Background(), tt.openID, wechat.SceneProfile, tt.text)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("CheckText error = %v; want %v", err, tt.wantErr)
				}
				assertNoSecrets(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("CheckText: %v", err)
			}
			if v.Suggest != tt.wantSuggest || v.Pass() != tt.wantPass {
				t.Fatalf("CheckText = %+v (pass %v); want %s (pass %v)", v, v.Pass(), tt.wantSuggest, tt.wantPass)
			}
		})
	}
	assertNoSecrets(t, logs.String())
	// The access token is fetched once (stable_token) and then cached.
	if n := fake.Calls("/cgi-bin/stable_token"); n != 1 {
		t.Errorf("stable_token was called %d times; want 1", n)
	}
	if n := fake.Calls("/cgi-bin/token"); n != 0 {
		t.Errorf("the non-stable token endpoint was called %d times; want 0", n)
	}
}

func TestCheckTextRenewsAnInvalidatedToken(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	c, _ := newClient(t, fake, nil)
	if _, err := c.CheckText(context.Background(), "o-alice", wechat.SceneProfile, "hello"); err != nil {
		t.Fatalf("first CheckText: %v", err)
	}
	fake.InvalidateTokens()
	v, err := c.CheckText(context.Background(), "o-alice", wechat.SceneProfile, "hello")
	if err != nil || !v.Pass() {
		t.Fatalf("CheckText after the token was invalidated = %+v, %v; want a pass", v, err)
	}
	if n := fake.Calls("/cgi-bin/stable_token"); n != 2 {
		t.Errorf("stable_token was called %d times; want 2 (one renewal)", n)
	}
}

func TestCheckTextTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		errcode int
		wantErr *failure.Error
	}{
		{name: "40013 bad appid", errcode: 40013, wantErr: wechat.ErrMisconfigured},
		{name: "40125 bad secret", errcode: 40125, wantErr: wechat.ErrMisconfigured},
		{name: "45009 token quota", errcode: 45009, wantErr: wechat.ErrRateLimited},
		{name: "-1 busy", errcode: -1, wantErr: wechat.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := wechattest.New(t)
			fake.FailTokens(tt.errcode)
			c, logs := newClient(t, fake, nil)
			_, err := c.CheckText(context.Background(), "o-alice", wechat.SceneProfile, "hello")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckText error = %v; want %v", err, tt.wantErr)
			}
			assertNoSecrets(t, err.Error(), logs.String())
		})
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, wechattest.New(t), nil)
	allow := c.Allows(wechat.SceneProfile)
	for text, want := range map[string]bool{"Alice": true, "risky name": false, "review me": false} {
		got, err := allow(context.Background(), "o-alice", text)
		if err != nil || got != want {
			t.Errorf("Allows(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  wechat.Config
	}{
		{name: "no app id", cfg: wechat.Config{AppSecret: "s"}},
		{name: "no secret", cfg: wechat.Config{AppID: "a"}},
		{name: "base URL not http", cfg: wechat.Config{AppID: "a", AppSecret: "s", BaseURL: "ftp://x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := wechat.New(tt.cfg); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

func TestCheckImage(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	const img = "https://img.example.com/wallpapers/w1.png?X-Amz-Signature=abc&X-Amz-Expires=3600"
	tests := []struct {
		name     string
		openID   string
		mediaURL string
		wantErr  *failure.Error
		wantKind failure.Kind
	}{
		{name: "accepted", openID: "o-alice", mediaURL: img},
		{name: "61010 user inactive", openID: "o-alice", mediaURL: "https://img.example.com/err-61010", wantErr: wechat.ErrUserInactive, wantKind: failure.Upstream},
		{name: "45009 daily quota", openID: "o-alice", mediaURL: "https://img.example.com/err-45009", wantErr: wechat.ErrRateLimited, wantKind: failure.RateLimited},
		{name: "-1 busy", openID: "o-alice", mediaURL: "https://img.example.com/err--1", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{name: "HTTP 502", openID: "o-alice", mediaURL: "https://img.example.com/http-502", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{name: "not JSON", openID: "o-alice", mediaURL: "https://img.example.com/garbage", wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
		{name: "missing openid is 40003", openID: "", mediaURL: img, wantErr: wechat.ErrUnavailable, wantKind: failure.Upstream},
	}
	c, logs := newClient(t, fake, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fake.MediaChecks())
			traceID, err := c.CheckImage(context.Background(), tt.openID, tt.mediaURL)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("CheckImage error = %v; want %v", err, tt.wantErr)
				}
				if fe := failure.From(err); fe == nil || fe.Kind != tt.wantKind {
					t.Fatalf("CheckImage error kind = %+v; want %d", fe, tt.wantKind)
				}
				if traceID != "" {
					t.Errorf("CheckImage returned trace id %q with an error", traceID)
				}
				assertNoSecrets(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("CheckImage: %v", err)
			}
			checks := fake.MediaChecks()
			if len(checks) != before+1 {
				t.Fatalf("the fake recorded %d new checks; want 1", len(checks)-before)
			}
			got := checks[len(checks)-1]
			want := wechattest.MediaCheck{TraceID: traceID, OpenID: tt.openID, MediaURL: tt.mediaURL, MediaType: 2, Scene: 3, Version: 2}
			if got != want || traceID == "" {
				t.Errorf("WeChat received %+v (trace id %q); want %+v", got, traceID, want)
			}
		})
	}
	assertNoSecrets(t, logs.String())
}

func TestCheckImageScriptedFailure(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	c, _ := newClient(t, fake, nil)
	fake.FailMediaChecks(45011)
	if _, err := c.CheckImage(context.Background(), "o-alice", "https://img.example.com/a.png"); !errors.Is(err, wechat.ErrRateLimited) {
		t.Fatalf("CheckImage with errcode 45011 = %v; want ErrRateLimited", err)
	}
	fake.FailMediaChecks(0)
	if id, err := c.CheckImage(context.Background(), "o-alice", "https://img.example.com/a.png"); err != nil || id == "" {
		t.Fatalf("CheckImage after the failure stopped = %q, %v", id, err)
	}
	if n := len(fake.MediaChecks()); n != 1 {
		t.Errorf("the fake recorded %d accepted checks; want 1", n)
	}
}

func TestCheckImageRenewsAnInvalidatedToken(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	c, _ := newClient(t, fake, nil)
	first, err := c.CheckImage(context.Background(), "o-alice", "https://img.example.com/1.png")
	if err != nil {
		t.Fatalf("first CheckImage: %v", err)
	}
	fake.InvalidateTokens()
	second, err := c.CheckImage(context.Background(), "o-alice", "https://img.example.com/2.png")
	if err != nil || second == "" || second == first {
		t.Fatalf("CheckImage after the token was invalidated = %q, %v; want a new trace id", second, err)
	}
	if n := fake.Calls("/cgi-bin/stable_token"); n != 2 {
		t.Errorf("stable_token was called %d times; want 2 (one renewal)", n)
	}
	if n := fake.Calls("/wxa/media_check_async"); n != 3 {
		t.Errorf("media_check_async was called %d times; want 3 (one refused with 40001, then retried)", n)
	}
}

func TestCheckImageRefusesABadURL(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	c, _ := newClient(t, fake, nil)
	for _, u := range []string{"", "/relative/path.png", "ftp://img.example.com/a.png", "https:///no-host"} {
		if _, err := c.CheckImage(context.Background(), "o-alice", u); err == nil {
			t.Errorf("CheckImage(%q) succeeded", u)
		}
	}
	if n := fake.Calls("/wxa/media_check_async"); n != 0 {
		t.Errorf("media_check_async was called %d times for bad URLs", n)
	}
}

func TestCheckImageRedactsTheAccessToken(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	c, logs := newClient(t, fake, nil)
	// An HTTP error makes the SDK quote the request URL, access_token
	// and all.
	_, err := c.CheckImage(context.Background(), "o-alice", "https://img.example.com/http-500")
	if err == nil {
		t.Fatal("CheckImage succeeded on HTTP 500")
	}
	if !strings.Contains(err.Error(), "access_token=REDACTED") {
		t.Errorf("error %q does not show the token redacted", err)
	}
	assertNoSecrets(t, err.Error(), logs.String())
}
