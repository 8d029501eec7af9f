// Package wechat is the adapter to the WeChat mini-program server API:
// code2Session for login, msgSecCheck (v2) for text moderation and
// mediaCheckAsync (v2) for images, through github.com/silenceper/wechat/v2,
// and the message push (push.go) that brings mediaCheckAsync's verdicts
// back. It classifies WeChat's errcodes into failure kinds and never lets
// the app secret, an access token or a session key out in an error or a
// log line.
package wechat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/silenceper/wechat/v2/miniprogram"
	mpconfig "github.com/silenceper/wechat/v2/miniprogram/config"
	"github.com/silenceper/wechat/v2/miniprogram/security"
	"github.com/silenceper/wechat/v2/util"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// DefaultBaseURL is WeChat's API; every SDK URL starts with it.
const DefaultBaseURL = "https://api.weixin.qq.com"

// msgSecCheck scenes (WeChat's numbering).
const (
	SceneProfile   = 1 // nickname, signature
	SceneComment   = 2
	SceneForum     = 3
	SceneSocialLog = 4
)

// Errors, with the failure kinds the API answers with. ErrInvalidCode is
// auth's own sentinel, which auth.CodeExchanger promises for a bad or used
// code: errors match by identity, not by kind and code.
var (
	ErrInvalidCode   = auth.ErrInvalidCode
	ErrBlocked       = failure.New(failure.Forbidden, "forbidden", "WeChat does not allow this account to log in")
	ErrRateLimited   = &failure.Error{Kind: failure.RateLimited, Code: "rate_limited", Message: "WeChat is rate limiting this service: try again in a minute", RetryAfter: time.Minute}
	ErrUnavailable   = failure.New(failure.Upstream, "upstream_error", "WeChat did not answer properly: try again")
	ErrUserInactive  = failure.New(failure.Upstream, "upstream_error", "WeChat cannot check this text now: open the mini-program again and retry")
	ErrMisconfigured = failure.New(failure.Internal, "wechat_misconfigured", "WeChat rejected this service's credentials")
	// ErrMediaURL: the image's URL is not one WeChat could fetch (local
	// storage serves images at relative URLs on the caller's host).
	ErrMediaURL = failure.New(failure.Internal, "internal_error", "the image has no URL WeChat can fetch")
)

// Config configures a Client.
type Config struct {
	AppID     string
	AppSecret string
	// BaseURL replaces https://api.weixin.qq.com (a proxy, or a fake in
	// tests); it may carry a path prefix.
	BaseURL string
	// Timeout bounds one call to WeChat (10s when zero).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Client calls WeChat for one mini-program. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  *url.URL // nil: WeChat itself
	mp    *miniprogram.MiniProgram
	cache *memoryCache
}

// New returns a client. The first call also installs the SDK's HTTP client
// (see installHTTPClient).
func New(cfg Config) (*Client, error) {
	if cfg.AppID == "" || cfg.AppSecret == "" {
		return nil, errors.New("wechat: app id and app secret are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{cfg: cfg, cache: newMemoryCache(time.Now)}
	if cfg.BaseURL != "" && strings.TrimSuffix(cfg.BaseURL, "/") != DefaultBaseURL {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("wechat: WECHAT_API_BASE_URL %q is not an http(s) URL", cfg.BaseURL)
		}
		c.base = u
	}
	installHTTPClient()
	c.mp = miniprogram.NewMiniProgram(&mpconfig.Config{
		AppID:     cfg.AppID,
		AppSecret: cfg.AppSecret,
		Cache:     c.cache,
		// The stable token is shared by every replica instead of each one
		// invalidating the others' tokens.
		UseStableAK: true,
	})
	return c, nil
}

// Exchange trades a wx.login code for the user's openid and unionid
// (code2Session). The session key is dropped here: nothing needs it.
// A code is single-use, so a failure is never retried.
func (c *Client) Exchange(ctx context.Context, code string) (openID, unionID string, err error) {
	cctx, cancel := c.callContext(ctx)
	defer cancel()
	res, err := c.mp.GetAuth().Code2SessionContext(cctx, code)
	if err := c.classify(ctx, "code2Session", res.ErrCode, err); err != nil {
		return "", "", err
	}
	if res.OpenID == "" {
		return "", "", ErrUnavailable.With("", errors.New("wechat: code2Session answered without an openid"))
	}
	return res.OpenID, res.UnionID, nil
}

// Verdict is msgSecCheck's judgement of a text.
type Verdict struct {
	Suggest string // pass, review or risky
	Label   int    // 100 normal, 10001 ads, 20001 politics, 20002 porn, ...
	TraceID string
}

// Pass reports whether the text may be shown: only a clear "pass" counts.
func (v Verdict) Pass() bool { return v.Suggest == string(security.CheckSuggestPass) }

// CheckText asks msgSecCheck (v2) about text written by the user with
// openID, in the given scene (SceneProfile for nicknames). The user must
// have opened the mini-program within two hours, else ErrUserInactive.
func (c *Client) CheckText(ctx context.Context, openID string, scene int, text string) (Verdict, error) {
	req := &security.MsgCheckRequest{OpenID: openID, Scene: security.MsgScene(scene), Content: text}
	var res security.MsgCheckResponse
	err := c.call(ctx, "msgSecCheck", func(ctx context.Context) (errcode int64, err error) {
		res, err = c.mp.GetSecurity().MsgCheckContext(ctx, req)
		return res.ErrCode, err
	})
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Suggest: string(res.Result.Suggest), Label: int(res.Result.Label), TraceID: res.TraceID}
	if v.Suggest == "" {
		return Verdict{}, ErrUnavailable.With("", errors.New("wechat: msgSecCheck answered without a suggestion"))
	}
	if !v.Pass() {
		c.cfg.Logger.InfoContext(ctx, "msgSecCheck refused a text", "scene", scene, "suggest", v.Suggest, "label", v.Label, "trace_id", v.TraceID)
	}
	return v, nil
}

// ImageScene is the scene CheckImage reports to mediaCheckAsync. WeChat's
// scenes (the mediaCheckAsync v2 and msgSecCheck docs, and silenceper's
// MediaCheckAsyncRequest) are 1 profile, 2 comment, 3 forum, 4 social log;
// a public wallpaper is a post anyone using the mini-program may browse,
// which is a forum post, not a profile field, a reply to someone else's
// content, or a diary shown to one's friends.
const ImageScene = SceneForum

// mediaTypeImage is mediaCheckAsync's media_type for an image (1 is audio).
const mediaTypeImage = 2

// CheckImage asks mediaCheckAsync (v2) to check the image at mediaURL,
// published by the user with openID, and returns the trace id its verdict
// will carry: the verdict arrives later (WeChat says within 30 minutes) as
// the wxa_media_check message push (see Push). WeChat downloads the image
// itself, so mediaURL must be reachable from the internet for that long
// (a presigned URL must outlive the wait); files are limited to 10 MB. The
// user must have opened the mini-program within two hours, else
// ErrUserInactive (errcode 61010). WeChat allows 2,000 calls a minute and
// 200,000 a day per app (ErrRateLimited beyond).
//
// silenceper's MediaCheckAsyncContext (v2.1.13) sends version 2 itself and
// returns trace_id from the answer {"errcode", "errmsg", "trace_id"}.
func (c *Client) CheckImage(ctx context.Context, openID, mediaURL string) (traceID string, err error) {
	if u, perr := url.Parse(mediaURL); perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The URL itself is not quoted: a presigned URL is a credential.
		return "", ErrMediaURL.With("", errors.New("wechat: mediaCheckAsync needs an absolute http(s) media URL"))
	}
	req := &security.MediaCheckAsyncRequest{MediaURL: mediaURL, MediaType: mediaTypeImage, OpenID: openID, Scene: ImageScene}
	err = c.call(ctx, "mediaCheckAsync", func(ctx context.Context) (int64, error) {
		var err error
		traceID, err = c.mp.GetSecurity().MediaCheckAsyncContext(ctx, req)
		return 0, err // a WeChat errcode comes back as a *util.CommonError
	})
	if err != nil {
		return "", err
	}
	if traceID == "" {
		return "", ErrUnavailable.With("", errors.New("wechat: mediaCheckAsync answered without a trace id"))
	}
	return traceID, nil
}

// call runs one SDK call under the client's timeout and classifies its
// outcome. An access token WeChat calls invalid (40001: another process
// fetched a new one) or expired (42001) is dropped and the call made once
// more with a fresh token; the SDK does not do that by itself.
func (c *Client) call(ctx context.Context, op string, do func(ctx context.Context) (errcode int64, err error)) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := c.callContext(ctx)
		code, err := do(cctx)
		cancel()
		if ec := errCode(code, err); (ec == 40001 || ec == 42001) && attempt == 0 {
			c.cache.clear()
			continue
		}
		return c.classify(ctx, op, code, err)
	}
}

// Allows returns a moderator for one scene: whether msgSecCheck passes the
// text (the shape user.Moderator and other domains take).
func (c *Client) Allows(scene int) func(ctx context.Context, openID, text string) (bool, error) {
	return func(ctx context.Context, openID, text string) (bool, error) {
		v, err := c.CheckText(ctx, openID, scene, text)
		return v.Pass(), err
	}
}

// OpenIDs finds the openid WeChat knows one of our users by.
type OpenIDs interface {
	OpenID(ctx context.Context, userID uuid.UUID) (string, error)
}

// PromptChecker moderates prompts with msgSecCheck as the user who wrote
// them (wallpaper.PromptChecker).
type PromptChecker struct {
	client *Client
	users  OpenIDs
}

// PromptChecker returns the prompt moderator; users finds each author's
// openid.
func (c *Client) PromptChecker(users OpenIDs) PromptChecker {
	return PromptChecker{client: c, users: users}
}

// CheckPrompt returns wallpaper.ErrPromptRejected for a prompt msgSecCheck
// does not pass. A prompt is text a user publishes with the wallpaper,
// closest to msgSecCheck's comment scene (the profile scene is for
// nicknames).
func (p PromptChecker) CheckPrompt(ctx context.Context, userID uuid.UUID, prompt string) error {
	openID, err := p.users.OpenID(ctx, userID)
	if err != nil {
		return err
	}
	v, err := p.client.CheckText(ctx, openID, SceneComment, prompt)
	if err != nil {
		return err
	}
	if !v.Pass() {
		return wallpaper.ErrPromptRejected
	}
	return nil
}

// ImageChecker asks mediaCheckAsync about wallpapers as their authors
// (wallpaper.ImageChecker); the verdicts arrive later by message push.
type ImageChecker struct {
	client *Client
	users  OpenIDs
}

// ImageChecker returns the image check; users finds each author's openid.
func (c *Client) ImageChecker(users OpenIDs) ImageChecker {
	return ImageChecker{client: c, users: users}
}

// CheckImage implements wallpaper.ImageChecker. An author who has not
// opened the mini-program for two hours cannot be checked as
// (errcode 61010), nor an image WeChat cannot fetch (local storage):
// wallpaper.ErrCannotCheck, and an admin decides; asking again would not
// change either.
func (i ImageChecker) CheckImage(ctx context.Context, c wallpaper.ImageCheck) (string, *wallpaper.Verdict, error) {
	openID, err := i.users.OpenID(ctx, c.UserID)
	if err != nil {
		return "", nil, err
	}
	trace, err := i.client.CheckImage(ctx, openID, c.URL)
	if errors.Is(err, ErrUserInactive) || errors.Is(err, ErrMediaURL) {
		return "", nil, fmt.Errorf("%w: %w", wallpaper.ErrCannotCheck, err)
	}
	return trace, nil, err
}

func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	if c.base != nil {
		ctx = context.WithValue(ctx, baseURLKey{}, c.base)
	}
	return ctx, cancel
}

// errCodePattern finds the errcode in the SDK's plain error strings (the
// access token fetch and code2Session report errcodes only that way).
var errCodePattern = regexp.MustCompile(`errcode=(-?\d+)`)

// errCode is WeChat's errcode for a call: from the decoded answer, from
// the SDK's error type, or from its error text; 0 when there is none.
func errCode(fromResult int64, err error) int64 {
	if fromResult != 0 {
		return fromResult
	}
	if err == nil {
		return 0
	}
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return ce.ErrCode
	}
	if m := errCodePattern.FindStringSubmatch(err.Error()); m != nil {
		if n, perr := strconv.ParseInt(m[1], 10, 64); perr == nil {
			return n
		}
	}
	return 0
}

// classify turns the outcome of an SDK call into nil or one of this
// package's errors, with a redacted cause for the logs. parent is the
// caller's context: its end is the caller's doing, not WeChat's.
func (c *Client) classify(parent context.Context, op string, resultCode int64, err error) error {
	code := errCode(resultCode, err)
	if err == nil && code == 0 {
		return nil
	}
	cause := c.redacted(op, err, code)
	switch code {
	case 0:
		if perr := parent.Err(); perr != nil {
			return fmt.Errorf("wechat: %s: %w", op, perr)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return ErrUnavailable.With("WeChat did not answer in time: try again", cause)
		}
		return ErrUnavailable.With("", cause)
	case 40029, 40163: // invalid code, code already used
		return ErrInvalidCode.With("", cause)
	case 40226: // user blocked by WeChat's risk control
		return ErrBlocked.With("", cause)
	case 45011, 45009: // minute quota, daily quota of API calls
		return ErrRateLimited.With("", cause)
	case 61010:
		return ErrUserInactive.With("", cause)
	case 40013, 40125, 40164, 41002, 41004, 40243: // bad appid, bad secret, IP not allowed, missing appid/secret, AppSecret frozen
		c.cfg.Logger.Error("WeChat rejected this service's credentials: check WECHAT_APP_ID, WECHAT_APP_SECRET and the IP allow-list",
			"op", op, "errcode", code, "app_id", c.cfg.AppID)
		return ErrMisconfigured.With("", cause)
	default: // -1 (busy) and anything unexpected
		return ErrUnavailable.With("", cause)
	}
}

// secretParams are the query parameters whose values must never leave.
var secretParams = regexp.MustCompile(`(?i)\b(secret|appsecret|access_token|js_code|session_key|code)=[^&\s"',]*`)

// redacted is err with every secret removed: the SDK's errors quote whole
// request URLs, secret and access token included.
func (c *Client) redacted(op string, err error, code int64) error {
	msg := fmt.Sprintf("errcode %d", code)
	if err != nil {
		msg = err.Error()
	}
	msg = secretParams.ReplaceAllString(msg, "$1=REDACTED")
	if c.cfg.AppSecret != "" {
		msg = strings.ReplaceAll(msg, c.cfg.AppSecret, "REDACTED")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("wechat: %s: %s: %w", op, msg, context.DeadlineExceeded)
	}
	return fmt.Errorf("wechat: %s: %s", op, msg)
}

type baseURLKey struct{}

var installOnce sync.Once

// installHTTPClient sets the SDK's package-level HTTP client, once per
// process: a timeout as a backstop (each call also has its own deadline),
// and a transport that sends a request to the base URL its context names.
// Carrying the base URL in the context lets clients with different base
// URLs (tests' fake servers) share the one global client.
func installHTTPClient() {
	installOnce.Do(func() {
		util.DefaultHTTPClient = &http.Client{
			Timeout:   30 * time.Second,
			Transport: &rebaseTransport{next: http.DefaultTransport.(*http.Transport).Clone()},
		}
	})
}

// rebaseTransport rewrites https://api.weixin.qq.com/… to the base URL in
// the request's context, when there is one.
type rebaseTransport struct {
	next http.RoundTripper
}

func (t *rebaseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base, _ := r.Context().Value(baseURLKey{}).(*url.URL)
	if base == nil || r.URL.Host != "api.weixin.qq.com" {
		return t.next.RoundTrip(r)
	}
	u := *r.URL
	u.Scheme, u.Host = base.Scheme, base.Host
	u.Path = strings.TrimSuffix(base.Path, "/") + r.URL.Path
	u.RawPath = ""
	r2 := r.Clone(r.Context())
	r2.URL, r2.Host = &u, base.Host
	return t.next.RoundTrip(r2)
}

// memoryCache is the SDK's token cache: a map behind a mutex (the SDK's
// own memory cache reads its map without the lock).
type memoryCache struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]cacheItem
}

type cacheItem struct {
	val     any
	expires time.Time // zero: never
}

func newMemoryCache(now func() time.Time) *memoryCache {
	return &memoryCache{now: now, items: make(map[string]cacheItem)}
}

// Get returns the value under key, or nil when missing or expired.
func (m *memoryCache) Get(key string) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[key]
	if !ok {
		return nil
	}
	if !it.expires.IsZero() && !m.now().Before(it.expires) {
		delete(m.items, key)
		return nil
	}
	return it.val
}

// Set keeps val under key for timeout (forever when not positive).
func (m *memoryCache) Set(key string, val any, timeout time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	it := cacheItem{val: val}
	if timeout > 0 {
		it.expires = m.now().Add(timeout)
	}
	m.items[key] = it
	return nil
}

// IsExist reports whether key holds a live value.
func (m *memoryCache) IsExist(key string) bool { return m.Get(key) != nil }

// Delete forgets key.
func (m *memoryCache) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}

func (m *memoryCache) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.items)
}
