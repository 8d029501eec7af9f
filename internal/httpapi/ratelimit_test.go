package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// msgSecCheck is the fake WeChat's moderation endpoint.
const msgSecCheck = "/wxa/msg_sec_check"

// TestOverQuotaMakesNoModerationCalls: a user at quota who loops POST
// /generations (new prompts, fresh Idempotency-Keys, replays) spends none
// of WeChat's moderation allowance, which every user of the app shares:
// the fake WeChat counts the calls.
func TestOverQuotaMakesNoModerationCalls(t *testing.T) {
	t.Parallel()
	ta := apptest.New(t, apptest.Options{WeChat: true, NoWorkers: true, Vars: map[string]string{
		"DAILY_QUOTA": "2", "GENERATION_RATE_PER_MINUTE": "1000",
	}})
	token := ta.Token(t, "mallory")
	key := apitest.Header("Idempotency-Key", "first-of-the-day")
	if res := ta.Submit(t, token, map[string]string{"prompt": "a harbour at night"}, key); res.Status != http.StatusAccepted {
		t.Fatalf("first submission: %d %s", res.Status, res.Body)
	}
	if res := ta.Submit(t, token, map[string]string{"prompt": "a harbour at dawn"}); res.Status != http.StatusAccepted {
		t.Fatalf("second submission: %d %s", res.Status, res.Body)
	}
	if n := ta.WeChat.Calls(msgSecCheck); n != 2 {
		t.Fatalf("%d moderation calls for two accepted prompts, want 2", n)
	}
	for i := range 40 {
		body := map[string]string{"prompt": fmt.Sprintf("one more harbour #%d", i)}
		var opts []apitest.Option
		if i%2 == 0 {
			opts = append(opts, apitest.Header("Idempotency-Key", "fresh-"+strconv.Itoa(i)))
		}
		res := ta.Submit(t, token, body, opts...)
		if res.Status != http.StatusTooManyRequests || res.ErrorCode() != "quota_exceeded" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("submission %d over quota: %d %s, want 429 quota_exceeded with Retry-After", i, res.Status, res.Body)
		}
	}
	// A replay of an accepted request is answered from the database alone.
	if res := ta.Submit(t, token, map[string]string{"prompt": "a harbour at night"}, key); res.Status != http.StatusOK {
		t.Fatalf("replay: %d %s, want 200", res.Status, res.Body)
	}
	if n := ta.WeChat.Calls(msgSecCheck); n != 2 {
		t.Errorf("%d moderation calls after 40 submissions over quota and a replay, want still 2", n)
	}
}

// TestPerUserRateLimits: each costly call has its own per-user allowance
// a minute; past it the answer is 429 rate_limited with Retry-After,
// nothing is done (no moderation call), and other users are not affected.
func TestPerUserRateLimits(t *testing.T) {
	t.Parallel()
	const limit = 3
	// S3: WeChat fetches the images it checks from storage it can reach.
	ta := apptest.New(t, apptest.Options{WeChat: true, S3: true, Vars: map[string]string{
		"GENERATION_RATE_PER_MINUTE": strconv.Itoa(limit),
		"PROFILE_RATE_PER_MINUTE":    strconv.Itoa(limit),
		"AVATAR_RATE_PER_MINUTE":     strconv.Itoa(limit),
		"LIKE_RATE_PER_MINUTE":       strconv.Itoa(limit),
		"WECHAT_PUSH_TOKEN":          wechattest.PushToken,
	}})
	// Others can like only what passed WeChat's image check: the fake
	// passes every image, as WeChat would push.
	ta.WeChat.AutoPush(t, wechattest.AutoPush{URL: ta.URL + "/api/v1/wechat/push"})
	owner := ta.Token(t, "owner")
	painted := ta.Wait(t, owner, ta.Generate(t, owner, "a wallpaper to like"), 90*time.Second)
	if painted.Wallpaper == nil {
		t.Fatalf("the wallpaper to like was not painted: %+v", painted)
	}
	wid := painted.Wallpaper.ID
	apptest.WaitFor(t, 60*time.Second, "the wallpaper to pass the image check", func() bool {
		return ta.API.Do(http.MethodGet, "/api/v1/wallpapers/"+wid, nil).Status == http.StatusOK
	}, func() string { return fmt.Sprintf("image checks: %+v", ta.WeChat.MediaChecks()) })
	avatar := pngBytes(t, gradient(16, 16))

	type call struct {
		method, path string
		body         any
		opts         []apitest.Option
	}
	tests := []struct {
		name     string
		calls    func(i int) call // the i-th call of the sequence
		moderate bool             // each allowed call is moderated
	}{
		{"generations", func(i int) call {
			return call{http.MethodPost, "/api/v1/generations", map[string]string{"prompt": fmt.Sprintf("dunes #%d", i)}, nil}
		}, true},
		{"nickname", func(i int) call {
			return call{http.MethodPatch, "/api/v1/me", map[string]string{"nickname": fmt.Sprintf("name %d", i)}, nil}
		}, true},
		{"avatar, PUT and POST together", func(i int) call {
			return call{[]string{http.MethodPut, http.MethodPost}[i%2], "/api/v1/me/avatar", nil,
				[]apitest.Option{apitest.MultipartFile("file", "a.png", "image/png", avatar)}}
		}, false},
		{"likes, PUT and DELETE together", func(i int) call {
			return call{[]string{http.MethodPut, http.MethodDelete}[i%2], "/api/v1/wallpapers/" + wid + "/like", nil, nil}
		}, false},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := ta.Token(t, fmt.Sprintf("limited%d", n))
			do := func(token string, i int) *apitest.Response {
				c := tt.calls(i)
				return ta.API.For(t).Do(c.method, c.path, c.body, append([]apitest.Option{apitest.Bearer(token)}, c.opts...)...)
			}
			moderated := ta.WeChat.Calls(msgSecCheck)
			for i := range limit {
				if res := do(user, i); res.Status >= 300 {
					t.Fatalf("call %d within the limit: %d %s", i+1, res.Status, res.Body)
				}
			}
			before := ta.WeChat.Calls(msgSecCheck)
			if tt.moderate && before-moderated != limit {
				t.Fatalf("%d moderation calls for %d allowed calls", before-moderated, limit)
			}
			res := do(user, limit)
			if res.Status != http.StatusTooManyRequests || res.ErrorCode() != "rate_limited" {
				t.Fatalf("call %d: %d %s, want 429 rate_limited", limit+1, res.Status, res.Body)
			}
			if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Errorf("Retry-After %q, want 1..60 seconds", res.Header.Get("Retry-After"))
			}
			if after := ta.WeChat.Calls(msgSecCheck); after != before {
				t.Errorf("a refused call reached moderation (%d calls, then %d)", before, after)
			}
			other := ta.Token(t, fmt.Sprintf("unlimited%d", n))
			if res := do(other, 0); res.Status >= 300 {
				t.Errorf("another user is limited too: %d %s", res.Status, res.Body)
			}
		})
	}
}

// TestRateLimitsArePerReplica: the limits live in each replica's memory,
// as docs/deploy.md says: two replicas on one database each allow a user
// the limit, so the most anyone gets is replicas × limit.
func TestRateLimitsArePerReplica(t *testing.T) {
	t.Parallel()
	const limit = 2
	vars := map[string]string{"PROFILE_RATE_PER_MINUTE": strconv.Itoa(limit)}
	a := apptest.New(t, apptest.Options{NoWorkers: true, Vars: vars})
	b := apptest.New(t, apptest.Options{NoWorkers: true, Vars: vars, DatabaseURL: a.Config.DatabaseURL.Reveal()})
	token := a.Token(t, "roaming") // the same JWT secret: b accepts it
	rename := func(s *apptest.Service, i int) int {
		return s.API.Do(http.MethodPatch, "/api/v1/me", map[string]string{"nickname": fmt.Sprintf("name %d", i)}, apitest.Bearer(token)).Status
	}
	var allowed int
	for i := range 3 * limit {
		for _, s := range []*apptest.Service{a, b} {
			switch st := rename(s, i); st {
			case http.StatusOK:
				allowed++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("rename: %d", st)
			}
		}
	}
	if allowed != 2*limit {
		t.Errorf("%d renames allowed across two replicas, want exactly %d (each replica's own %d)", allowed, 2*limit, limit)
	}
}
