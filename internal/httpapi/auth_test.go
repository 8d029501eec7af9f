package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// TestMain drops the template database pgtest made for this package's
// tests (every end-to-end test of httpapi_test runs on real Postgres).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// jwtKey signs the test service's access tokens (forged ones too).
var jwtKey = []byte(apptest.JWTSecret)

// authEnv is the whole service (apptest) for the session and profile
// tests: dev login, or (withWeChat) login through a fake WeChat.
type authEnv struct {
	api      *apitest.Client
	handler  http.Handler
	wechat   *wechattest.Server // nil in dev mode
	mediaDir string
}

type envOptions struct {
	withWeChat     bool // WeChat configured: no dev login
	loginRate      int  // logins a minute per IP; default: plenty
	trustedProxies []string
}

func newAuthEnv(t *testing.T, o envOptions) *authEnv {
	t.Helper()
	if o.loginRate == 0 {
		o.loginRate = 10000
	}
	s := apptest.New(t, apptest.Options{WeChat: o.withWeChat, NoWorkers: true, Vars: map[string]string{
		"ACCESS_TOKEN_TTL":      "1h",
		"REFRESH_TOKEN_TTL":     "24h",
		"LOGIN_RATE_PER_MINUTE": strconv.Itoa(o.loginRate),
		"TRUSTED_PROXIES":       strings.Join(o.trustedProxies, ","),
		// The per-user limits are ratelimit_test.go's business.
		"PROFILE_RATE_PER_MINUTE": "10000",
		"AVATAR_RATE_PER_MINUTE":  "10000",
	}})
	return &authEnv{api: s.API, handler: s.App.Handler, wechat: s.WeChat, mediaDir: filepath.Join(s.Config.DataDir, "media")}
}

// login logs in with code and returns the session; the test ends unless
// it succeeds.
func (e *authEnv) login(t *testing.T, code string) httpapi.Session {
	t.Helper()
	res := e.api.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": code})
	if res.Status != http.StatusOK {
		t.Fatalf("login %q: %d %s", code, res.Status, res.Body)
	}
	var s httpapi.Session
	res.JSON(t, &s)
	return s
}

// wantError checks an error response's status and code.
func wantError(t *testing.T, res *apitest.Response, status int, code string) {
	t.Helper()
	if res.Status != status || res.ErrorCode() != code {
		t.Fatalf("got %d %s; want %d %s", res.Status, res.Body, status, code)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", res.Header.Get("WWW-Authenticate"))
	}
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{})

	login := e.login(t, "dev-alice")
	if login.TokenType != "Bearer" || login.ExpiresIn != 3600 || login.AccessToken == "" || login.RefreshToken == "" {
		t.Fatalf("login = %+v", login)
	}
	if _, err := uuid.Parse(login.User.ID); err != nil {
		t.Fatalf("user id %q is not a UUID", login.User.ID)
	}

	var me httpapi.Me
	res := e.api.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(login.AccessToken))
	if res.Status != http.StatusOK {
		t.Fatalf("GET /me: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &me)
	if me.ID != login.User.ID || me.Quota.DailyLimit != 10 || me.Quota.Remaining != 10 || me.Quota.UsedToday != 0 || !me.Quota.ResetsAt.After(time.Now()) {
		t.Fatalf("GET /me = %+v", me)
	}

	// Refresh: a new pair; the old refresh token stops working.
	res = e.api.Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": login.RefreshToken})
	if res.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", res.Status, res.Body)
	}
	var refreshed httpapi.Session
	res.JSON(t, &refreshed)
	if refreshed.RefreshToken == login.RefreshToken || refreshed.User.ID != login.User.ID {
		t.Fatalf("refresh = %+v", refreshed)
	}
	if res := e.api.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(refreshed.AccessToken)); res.Status != http.StatusOK {
		t.Fatalf("GET /me with the refreshed token: %d %s", res.Status, res.Body)
	}

	refresh := func(token string) *apitest.Response {
		return e.api.Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": token})
	}
	// A lost answer: within REFRESH_REUSE_GRACE the client presents the
	// same token again and gets a new pair; the successor it never
	// received stops working, the session does not.
	res = refresh(login.RefreshToken)
	if res.Status != http.StatusOK {
		t.Fatalf("a retry within the grace window: %d %s", res.Status, res.Body)
	}
	var retried httpapi.Session
	res.JSON(t, &retried)
	wantError(t, refresh(refreshed.RefreshToken), http.StatusUnauthorized, "unauthorized")
	res = refresh(retried.RefreshToken)
	if res.Status != http.StatusOK {
		t.Fatalf("refresh after the retry: %d %s", res.Status, res.Body)
	}
	var newest httpapi.Session
	res.JSON(t, &newest)

	// Its successor used, the first token presented again is reuse: refused,
	// and the family is revoked: the newest refresh token dies with it.
	wantError(t, refresh(login.RefreshToken), http.StatusUnauthorized, "unauthorized")
	wantError(t, refresh(newest.RefreshToken), http.StatusUnauthorized, "unauthorized")

	// A new login, then logout: its refresh token is revoked.
	again := e.login(t, "dev-alice")
	if again.User.ID != login.User.ID {
		t.Fatalf("the second login made another user: %s != %s", again.User.ID, login.User.ID)
	}
	wantError(t, e.api.Do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusUnauthorized, "unauthorized")
	if res := e.api.Do(http.MethodPost, "/api/v1/auth/logout", nil, apitest.Bearer(again.AccessToken)); res.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", res.Status, res.Body)
	}
	wantError(t, e.api.Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": again.RefreshToken}),
		http.StatusUnauthorized, "unauthorized")
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{})
	tests := []struct {
		name       string
		body       any
		opts       []apitest.Option
		wantStatus int
		wantCode   string
	}{
		{name: "no code", body: map[string]string{}, opts: []apitest.Option{apitest.SkipRequestValidation}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "unknown field", body: map[string]string{"code": "dev-a", "openid": "x"}, opts: []apitest.Option{apitest.SkipRequestValidation}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "not JSON", opts: []apitest.Option{apitest.RawBody("text/plain", []byte("code=dev-a")), apitest.SkipRequestValidation}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "a non-dev code without WeChat", body: map[string]string{"code": "081aBcDe2dEf3g0Hij4kl5mN6o7aBcDe"}, wantStatus: 401, wantCode: "invalid_code"},
		{name: "a bad dev name", body: map[string]string{"code": "dev-al ice"}, wantStatus: 401, wantCode: "invalid_code"},
		{name: "an overlong code", body: map[string]string{"code": strings.Repeat("x", 129)}, opts: []apitest.Option{apitest.SkipRequestValidation}, wantStatus: 401, wantCode: "invalid_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.api.Do(http.MethodPost, "/api/v1/auth/login", tt.body, tt.opts...), tt.wantStatus, tt.wantCode)
		})
	}
	wantError(t, e.api.Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": "made-up"}), 401, "unauthorized")
}

func TestLoginWithWeChat(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{withWeChat: true})

	s := e.login(t, "ok-alice")
	var me httpapi.Me
	res := e.api.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(s.AccessToken))
	res.JSON(t, &me)
	if me.ID != s.User.ID {
		t.Fatalf("GET /me = %+v; want user %s", me, s.User.ID)
	}
	if strings.Contains(string(res.Body), "SESSIONKEY") || strings.Contains(string(res.Body), "o-alice") {
		t.Errorf("GET /me shows the session key or the openid: %s", res.Body)
	}

	tests := []struct {
		name       string
		code       string
		wantStatus int
		wantCode   string
	}{
		{name: "prod refuses dev codes", code: "dev-alice", wantStatus: 401, wantCode: "invalid_code"},
		{name: "40029 invalid code", code: "err-40029", wantStatus: 401, wantCode: "invalid_code"},
		{name: "40163 code used", code: "err-40163", wantStatus: 401, wantCode: "invalid_code"},
		{name: "40226 blocked user", code: "err-40226", wantStatus: 403, wantCode: "forbidden"},
		{name: "45011 rate limited", code: "err-45011", wantStatus: 429, wantCode: "rate_limited"},
		{name: "-1 busy", code: "err--1", wantStatus: 502, wantCode: "upstream_error"},
		{name: "WeChat answers 500", code: "http-500", wantStatus: 502, wantCode: "upstream_error"},
		{name: "WeChat answers garbage", code: "garbage", wantStatus: 502, wantCode: "upstream_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.api.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": tt.code})
			wantError(t, res, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			if strings.Contains(string(res.Body), wechattest.AppSecret) {
				t.Errorf("the app secret leaked: %s", res.Body)
			}
		})
	}
	// Only the WeChat-bound codes reached WeChat: the dev code did not.
	if got, want := e.wechat.Calls("/sns/jscode2session"), 1+len(tests)-1; got != want {
		t.Errorf("jscode2session was called %d times; want %d (never for a dev code)", got, want)
	}
}

func TestConcurrentFirstLogin(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{})
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.api.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": "dev-carol"})
			if res.Status != http.StatusOK {
				t.Errorf("login %d: %d %s", i, res.Status, res.Body)
				return
			}
			var s httpapi.Session
			res.JSON(t, &s)
			ids[i] = s.User.ID
		}()
	}
	wg.Wait()
	for i := range n {
		if ids[i] != ids[0] {
			t.Fatalf("concurrent first logins made different users: %v", ids)
		}
	}
}

func TestAccessTokenTampering(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{})
	s := e.login(t, "dev-alice")
	now := time.Now()
	claims := func(mutate func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": auth.Issuer, "aud": auth.Audience, "sub": s.User.ID,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": uuid.NewString(),
		}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(s.AccessToken, ".")

	// The control: a token made here with the server's key is accepted.
	if res := e.api.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(sign(jwt.SigningMethodHS256, jwtKey, claims(nil)))); res.Status != http.StatusOK {
		t.Fatalf("a well-formed token: %d %s", res.Status, res.Body)
	}
	tests := []struct {
		name          string
		authorization string
	}{
		{name: "no header"},
		{name: "basic scheme", authorization: "Basic YWxpY2U6c2VjcmV0"},
		{name: "bearer without token", authorization: "Bearer"},
		{name: "garbage", authorization: "Bearer not-a-jwt"},
		{name: "alg none", authorization: "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))},
		{name: "HS512", authorization: "Bearer " + sign(jwt.SigningMethodHS512, jwtKey, claims(nil))},
		{name: "ES256", authorization: "Bearer " + sign(jwt.SigningMethodES256, ecKey, claims(nil))},
		{name: "wrong key", authorization: "Bearer " + sign(jwt.SigningMethodHS256, []byte("wrong-key-wrong-key-wrong-key-wrong-key"), claims(nil))},
		{name: "signature stripped", authorization: "Bearer " + parts[0] + "." + parts[1] + "."},
		{name: "expired", authorization: "Bearer " + sign(jwt.SigningMethodHS256, jwtKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }))},
		{name: "no exp", authorization: "Bearer " + sign(jwt.SigningMethodHS256, jwtKey, claims(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{name: "wrong issuer", authorization: "Bearer " + sign(jwt.SigningMethodHS256, jwtKey, claims(func(c jwt.MapClaims) { c["iss"] = "evil" }))},
		{name: "wrong audience", authorization: "Bearer " + sign(jwt.SigningMethodHS256, jwtKey, claims(func(c jwt.MapClaims) { c["aud"] = "other" }))},
		{name: "a refresh token as access token", authorization: "Bearer " + s.RefreshToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []apitest.Option
			if tt.authorization != "" {
				opts = append(opts, apitest.Header("Authorization", tt.authorization))
			}
			wantError(t, e.api.Do(http.MethodGet, "/api/v1/me", nil, opts...), http.StatusUnauthorized, "unauthorized")
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t, envOptions{loginRate: 2})
	e.login(t, "dev-a")
	e.login(t, "dev-b")
	res := e.api.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": "dev-c"})
	wantError(t, res, http.StatusTooManyRequests, "rate_limited")
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q; want a positive number of seconds", ra)
	}
	// Refresh is not the login limit's business.
	s := e.api.Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": "x"})
	wantError(t, s, http.StatusUnauthorized, "unauthorized")
}
