package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// moderated is the whole service with WeChat configured against the fake:
// every public wallpaper is checked by mediaCheckAsync, whose verdict the
// test pushes to /api/v1/wechat/push as WeChat would; images in a real S3
// server.
type moderated struct {
	*apptest.Service
	safe  bool
	owner string // access tokens
	other string
}

func newModerated(t *testing.T, safe bool, vars map[string]string) *moderated {
	t.Helper()
	v := map[string]string{"WECHAT_PUSH_TOKEN": wechattest.PushToken}
	if safe {
		v["WECHAT_PUSH_AES_KEY"] = wechattest.PushAESKey
	}
	for k, x := range vars {
		v[k] = x
	}
	s := apptest.New(t, apptest.Options{WeChat: true, S3: true, Vars: v})
	return &moderated{Service: s, safe: safe, owner: s.Token(t, "owner"), other: s.Token(t, "other")}
}

func (m *moderated) pushURL() string { return m.URL + "/api/v1/wechat/push" }

// painted submits a public generation, waits until it succeeded and its
// image has been sent to the check, and returns the generation, the
// wallpaper and the check's trace id.
func (m *moderated) painted(t *testing.T, prompt string) (httpapi.Generation, httpapi.Wallpaper, string) {
	t.Helper()
	before := len(m.WeChat.MediaChecks())
	g := m.Wait(t, m.owner, m.Generate(t, m.owner, prompt), 120*time.Second)
	if g.Status != "succeeded" || g.Wallpaper == nil {
		t.Fatalf("generation %s %+v", g.Status, g.Error)
	}
	var trace string
	apptest.WaitFor(t, 60*time.Second, "the image check to be asked", func() bool {
		checks := m.WeChat.MediaChecks()
		if len(checks) > before {
			trace = checks[len(checks)-1].TraceID
			if c := checks[len(checks)-1]; c.OpenID != "o-owner" || c.MediaType != 2 || c.Version != 2 || !strings.Contains(c.MediaURL, "/private/") {
				t.Errorf("mediaCheckAsync asked %+v; want the owner's openid, an image, version 2, a signed private URL", c)
			}
			return true
		}
		return false
	})
	return g, *g.Wallpaper, trace
}

// seenByOthers says whether anyone but the owner can find the wallpaper:
// the feed, the detail without a token and with another user's, a like,
// its mini-program code.
// They must agree; while the wallpaper's state is changing (a verdict, a
// storage sync) the calls may straddle the change, so they are asked again.
func (m *moderated) seenByOthers(t *testing.T, id string) bool {
	t.Helper()
	for try := 0; ; try++ {
		seen, agree, why := m.observe(t, id)
		if agree {
			return seen
		}
		if try == 5 {
			t.Fatalf("visibility disagrees: %s", why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (m *moderated) observe(t *testing.T, id string) (seen, agree bool, why string) {
	t.Helper()
	var feed httpapi.WallpaperPage
	m.API.Do(http.MethodGet, "/api/v1/wallpapers?limit=50", nil).JSON(t, &feed)
	inFeed := false
	for _, w := range feed.Items {
		inFeed = inFeed || w.ID == id
	}
	anon := m.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil).Status
	other := m.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, apitest.Bearer(m.other)).Status
	like := m.API.Do(http.MethodPut, "/api/v1/wallpapers/"+id+"/like", nil, apitest.Bearer(m.other)).Status
	code := m.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id+"/wxacode", nil).Status
	all := []bool{inFeed, anon == http.StatusOK, other == http.StatusOK, like == http.StatusOK, code == http.StatusOK}
	for _, s := range all[1:] {
		if s != all[0] {
			return false, false, fmt.Sprintf("feed %v, anonymous detail %d, other's detail %d, like %d, mini-program code %d",
				inFeed, anon, other, like, code)
		}
	}
	return all[0], true, ""
}

func (m *moderated) review(t *testing.T, id string) (int, string) {
	t.Helper()
	res := m.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, apitest.Bearer(m.owner))
	var w httpapi.Wallpaper
	if res.Status == http.StatusOK {
		res.JSON(t, &w)
	}
	return res.Status, w.Review
}

func (m *moderated) push(t *testing.T, trace, suggest string) {
	t.Helper()
	resp := m.WeChat.PushMediaCheck(t, m.pushURL(), trace, suggest, "20002", m.safe)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "success" {
		t.Fatalf("push %s %s: %d %s", trace, suggest, resp.StatusCode, body)
	}
}

// TestImageCheckVerdicts: a new public wallpaper is invisible to others
// until its push event says pass; review holds it (the owner cannot make
// it public); risky removes it with its objects and fails its generation
// with the unit returned, exactly once. Plaintext and safe mode.
func TestImageCheckVerdicts(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		safe bool
	}{{"plaintext", false}, {"safe mode", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			m := newModerated(t, mode.safe, nil)
			for _, tt := range []struct {
				suggest    string
				wantReview string // "" when it is gone
			}{{"pass", "approved"}, {"review", "held"}, {"risky", ""}} {
				t.Run(tt.suggest, func(t *testing.T) {
					g, w, trace := m.painted(t, "a harbour at night, case "+map[string]string{"pass": "one", "review": "two", "risky": "three"}[tt.suggest])
					if st, review := m.review(t, w.ID); st != http.StatusOK || review != "pending" {
						t.Fatalf("to its owner before the verdict: %d %q, want pending", st, review)
					}
					if m.seenByOthers(t, w.ID) {
						t.Fatal("others see a wallpaper before its check")
					}
					used := m.Me(t, m.owner).Quota.UsedToday
					var keys [3]string
					if err := m.Pool.QueryRow(context.Background(), `SELECT image_key, thumbnail_key, master_key FROM wallpapers WHERE id = $1`,
						w.ID).Scan(&keys[0], &keys[1], &keys[2]); err != nil {
						t.Fatal(err)
					}
					// The event comes twice (WeChat retries); the second changes nothing.
					m.push(t, trace, tt.suggest)
					m.push(t, trace, tt.suggest)
					switch tt.wantReview {
					case "approved":
						apptest.WaitFor(t, 60*time.Second, "the wallpaper to be seen", func() bool { return m.seenByOthers(t, w.ID) })
						var shown httpapi.Wallpaper
						m.API.Do(http.MethodGet, "/api/v1/wallpapers/"+w.ID, nil).JSON(t, &shown)
						if resp, _ := m.Download(t, shown.ImageURL); resp.StatusCode != http.StatusOK || !strings.Contains(shown.ImageURL, "/public/") {
							t.Errorf("the public image %s answers %d", shown.ImageURL, resp.StatusCode)
						}
					case "held":
						if st, review := m.review(t, w.ID); st != http.StatusOK || review != "held" {
							t.Fatalf("to its owner after review: %d %q, want held", st, review)
						}
						res := m.API.Do(http.MethodPatch, "/api/v1/wallpapers/"+w.ID, map[string]bool{"public": true}, apitest.Bearer(m.owner))
						wantError(t, res, http.StatusConflict, "conflict")
						if m.seenByOthers(t, w.ID) {
							t.Fatal("others see a held wallpaper")
						}
					default:
						if st, _ := m.review(t, w.ID); st != http.StatusNotFound {
							t.Fatalf("a risky wallpaper answers %d to its owner, want 404", st)
						}
						done := m.Wait(t, m.owner, g.ID, time.Second)
						if done.Status != "failed" || done.Error == nil || done.Error.Code != "content_rejected" || done.Wallpaper != nil {
							t.Fatalf("its generation: %s %+v %+v; want failed content_rejected", done.Status, done.Error, done.Wallpaper)
						}
						if now := m.Me(t, m.owner).Quota.UsedToday; now != used-1 {
							t.Errorf("used_today %d after a risky verdict pushed twice, want %d (one unit back)", now, used-1)
						}
						apptest.WaitFor(t, 60*time.Second, "its objects to leave storage", func() bool {
							return !m.S3.Exists(t, keys[0]) && !m.S3.Exists(t, keys[1]) && !m.S3.Exists(t, keys[2])
						})
						if m.seenByOthers(t, w.ID) {
							t.Fatal("others see a rejected wallpaper")
						}
					}
				})
			}
		})
	}
}

// TestPushRefusesAndIgnores: a push with a bad signature is 401 and changes
// nothing; a verdict for a trace never asked is answered and ignored.
func TestPushRefusesAndIgnores(t *testing.T) {
	t.Parallel()
	m := newModerated(t, true, nil)
	_, w, trace := m.painted(t, "a lighthouse")
	resp := m.WeChat.Push(t, m.pushURL(), wechattest.MediaCheckEvent(trace, "pass", "100", false),
		wechattest.PushOptions{Safe: true, Token: "not-the-token"})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a push signed with another token: %d, want 401", resp.StatusCode)
	}
	m.push(t, "trace-never-asked", "pass")
	time.Sleep(time.Second)
	if st, review := m.review(t, w.ID); st != http.StatusOK || review != "pending" {
		t.Fatalf("after a forged and an unknown push: %d %q, want still pending", st, review)
	}
	if m.seenByOthers(t, w.ID) {
		t.Fatal("a forged push made a wallpaper visible")
	}
	// GET is WeChat's URL check: it echoes echostr only with a good signature.
	q := url.Values{"timestamp": {"1732860000"}, "nonce": {"n0nce"}, "echostr": {"echo-123"}}
	q.Set("signature", wechat.Sign(wechattest.PushToken, "1732860000", "n0nce"))
	res := m.API.Do(http.MethodGet, "/api/v1/wechat/push?"+q.Encode(), nil, apitest.SkipRequestValidation)
	if res.Status != http.StatusOK || string(res.Body) != "echo-123" {
		t.Errorf("URL verification: %d %q", res.Status, res.Body)
	}
	q.Set("signature", wechat.Sign("not-the-token", "1732860000", "n0nce"))
	if res := m.API.Do(http.MethodGet, "/api/v1/wechat/push?"+q.Encode(), nil, apitest.SkipRequestValidation); res.Status != http.StatusUnauthorized {
		t.Errorf("URL verification with a bad signature: %d, want 401", res.Status)
	}
}

// TestImageCheckTimeout: no verdict within MODERATION_TIMEOUT: the check is
// asked once more, then the wallpaper is held for an admin.
func TestImageCheckTimeout(t *testing.T) {
	t.Parallel()
	m := newModerated(t, true, map[string]string{"MODERATION_TIMEOUT": "2s"})
	_, w, _ := m.painted(t, "a quiet valley")
	apptest.WaitFor(t, 60*time.Second, "the wallpaper to be held", func() bool {
		_, review := m.review(t, w.ID)
		return review == "held"
	})
	if n := len(m.WeChat.MediaChecks()); n != 2 {
		t.Errorf("mediaCheckAsync asked %d times, want twice (the first ask and one more)", n)
	}
	if m.seenByOthers(t, w.ID) {
		t.Fatal("others see a wallpaper whose check never answered")
	}
}

// TestImageCheckWithLocalStorage: with WeChat configured but images kept
// in local storage, WeChat has no URL it could fetch; each new public
// wallpaper is held for an admin at once, instead of asking WeChat again
// and again, and is never shown unchecked.
func TestImageCheckWithLocalStorage(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{WeChat: true, Vars: map[string]string{"WECHAT_PUSH_TOKEN": wechattest.PushToken}})
	owner := s.Token(t, "owner")
	g := s.Wait(t, owner, s.Generate(t, owner, "a pier in the fog"), 120*time.Second)
	if g.Status != "succeeded" || g.Wallpaper == nil {
		t.Fatalf("generation %s %+v", g.Status, g.Error)
	}
	id := g.Wallpaper.ID
	review := func() string {
		var r string
		if err := s.Pool.QueryRow(t.Context(), "SELECT review FROM wallpapers WHERE id = $1", id).Scan(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	apptest.WaitFor(t, 60*time.Second, "the wallpaper to be held", func() bool { return review() == "held" },
		func() string { return "review " + review() })
	var errs int
	if err := s.Pool.QueryRow(t.Context(),
		"SELECT coalesce(sum(cardinality(errors)), 0) FROM river_job WHERE kind = 'moderate_wallpaper'").Scan(&errs); err != nil {
		t.Fatal(err)
	}
	if errs != 0 {
		t.Errorf("the image check job failed %d times before holding the wallpaper, want 0", errs)
	}
	if n := len(s.WeChat.MediaChecks()); n != 0 {
		t.Errorf("WeChat was asked %d times with a URL it cannot fetch", n)
	}
	if res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil); res.Status != http.StatusNotFound {
		t.Errorf("anonymous detail of a held wallpaper: %d, want 404", res.Status)
	}
}

// TestPrivateSkipsImageCheckUntilPublic: a private wallpaper is not sent
// to WeChat's image check (nobody else sees it); made public, it is
// checked first and others see it only once the verdict says pass.
func TestPrivateSkipsImageCheckUntilPublic(t *testing.T) {
	t.Parallel()
	m := newModerated(t, false, nil)
	g := m.Wait(t, m.owner, submitPrivate(t, m.Service, m.owner), 120*time.Second)
	if g.Status != "succeeded" || g.Wallpaper == nil {
		t.Fatalf("generation %s %+v", g.Status, g.Error)
	}
	id := g.Wallpaper.ID
	if _, review := m.review(t, id); review != "unchecked" {
		t.Errorf("a private wallpaper's review is %q, want unchecked", review)
	}
	if n := len(m.WeChat.MediaChecks()); n != 0 {
		t.Fatalf("mediaCheckAsync asked %d times about a private wallpaper, want never", n)
	}
	res := m.API.Do(http.MethodPatch, "/api/v1/wallpapers/"+id, map[string]bool{"public": true}, apitest.Bearer(m.owner))
	if res.Status != http.StatusOK {
		t.Fatalf("make public: %d %s", res.Status, res.Body)
	}
	var trace string
	apptest.WaitFor(t, 60*time.Second, "the image check to be asked", func() bool {
		if checks := m.WeChat.MediaChecks(); len(checks) == 1 {
			trace = checks[0].TraceID
			return true
		}
		return false
	})
	if _, review := m.review(t, id); review != "pending" {
		t.Errorf("made public, the review is %q, want pending", review)
	}
	if m.seenByOthers(t, id) {
		t.Fatal("others see a wallpaper made public before its check answered")
	}
	m.push(t, trace, "pass")
	apptest.WaitFor(t, 60*time.Second, "others to see it after the pass", func() bool { return m.seenByOthers(t, id) })
	if n := len(m.WeChat.MediaChecks()); n != 1 {
		t.Errorf("mediaCheckAsync asked %d times, want once", n)
	}
}
