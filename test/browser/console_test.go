//go:build browser

package browser

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

var adminToken = regexp.MustCompile(`(?m)^(wpa_[A-Za-z0-9_-]{43})$`)

// addAdmin runs `wallpaperd admin add NAME` against the process's
// database, as an operator would, and returns the token it prints.
func addAdmin(t *testing.T, p *apptest.Process, name string) string {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), "admin", "add", name)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range p.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	m := adminToken.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("wallpaperd admin add %s: %v\n%s", name, err, out)
	}
	return string(m[1])
}

// submitted posts a generation and returns its id.
func submitted(t *testing.T, p *apptest.Process, token, prompt string) string {
	t.Helper()
	var g struct {
		ID string `json:"id"`
	}
	if st := p.Call(t, http.MethodPost, "/api/v1/generations", token, fmt.Sprintf(`{"prompt":%q,"size":"1024x1024"}`, prompt), &g); st != http.StatusAccepted {
		t.Fatalf("submit %q: %d", prompt, st)
	}
	return g.ID
}

// wallpaperOf waits until generation id has its wallpaper in review
// state review and returns the wallpaper's id.
func wallpaperOf(t *testing.T, p *apptest.Process, token, id, review string) string {
	t.Helper()
	var wallpaperID string
	apptest.WaitFor(t, 120*time.Second, "the wallpaper to be "+review, func() bool {
		var g struct {
			Status    string `json:"status"`
			Wallpaper *struct {
				ID     string `json:"id"`
				Review string `json:"review"`
			} `json:"wallpaper"`
		}
		p.Call(t, http.MethodGet, "/api/v1/generations/"+id, token, "", &g)
		if g.Status == "failed" {
			t.Fatalf("generation %s failed", id)
		}
		if g.Wallpaper == nil {
			return false
		}
		wallpaperID = g.Wallpaper.ID
		return g.Wallpaper.Review == review
	})
	return wallpaperID
}

func inFeed(t *testing.T, p *apptest.Process, id string) bool {
	t.Helper()
	var feed struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	p.Call(t, http.MethodGet, "/api/v1/wallpapers?limit=50", "", "", &feed)
	for _, w := range feed.Items {
		if w.ID == id {
			return true
		}
	}
	return false
}

// TestConsole: an operator signs in to the console with the token `wallpaperd
// admin add` printed, approves a held wallpaper (it appears in the public
// feed), bans a user from their page (their token stops working), reads
// both in the audit log, and opens the job queue's dashboard.
func TestConsole(t *testing.T) {
	p := apptest.Start(t, map[string]string{"WORKERS": "2"})
	token := addAdmin(t, p, "me")
	painter := p.Login(t, "painter")
	held := wallpaperOf(t, p, painter, submitted(t, p, painter, "a misty pagoda [moderation:review]"), "held")
	troll := p.Login(t, "troll")
	var trollUser struct {
		ID string `json:"id"`
	}
	if st := p.Call(t, http.MethodGet, "/api/v1/me", troll, "", &trollUser); st != http.StatusOK {
		t.Fatalf("GET /me: %d", st)
	}
	if inFeed(t, p, held) {
		t.Fatal("a held wallpaper is in the feed")
	}

	b := startChromium(t)
	b.navigate(p.URL() + "/admin/")

	t.Run("sign in with the admin token", func(t *testing.T) {
		b.t = t
		b.must("sign in", chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), token),
			chromedp.Click(chromedp.ID("signin-submit")))
		b.waitFor("the review queue", `document.querySelector('h1')?.textContent === '审核队列' ? 'yes' : ''`)
		var cookies string
		b.mustEval(`document.cookie`, &cookies)
		if cookies != "" {
			t.Errorf("the page's script can read cookies %q: the session cookie must be HttpOnly", cookies)
		}
	})

	t.Run("approve the held wallpaper: it appears in the feed", func(t *testing.T) {
		b.t = t
		card := fmt.Sprintf(`.card[data-wallpaper=%q]`, held)
		b.waitFor("the held wallpaper's card with its thumbnail", fmt.Sprintf(`(() => {
  const img = document.querySelector('%s img');
  return img && img.complete && img.naturalWidth > 0 ? 'loaded' : '';
})()`, card))
		b.must("approve", chromedp.Click(chromedp.CSS(card+` button[value="approve"]`)))
		b.waitFor("the card to leave the queue", fmt.Sprintf(
			`document.querySelector('h1')?.textContent === '审核队列' && !document.querySelector('%s') ? 'gone' : ''`, card))
		apptest.WaitFor(t, 60*time.Second, "the approved wallpaper in the feed", func() bool { return inFeed(t, p, held) })
	})

	t.Run("ban a user from the user page", func(t *testing.T) {
		b.t = t
		b.navigate(p.URL() + "/admin/users?q=" + trollUser.ID)
		b.must("open the user page", chromedp.Click(chromedp.CSS(`a[href="/admin/users/`+trollUser.ID+`"]`)))
		b.must("ban", chromedp.WaitVisible(chromedp.ID("ban-reason")),
			chromedp.SendKeys(chromedp.ID("ban-reason"), "刷屏广告"),
			chromedp.Click(chromedp.ID("ban-submit")))
		b.waitFor("the ban to show", `(document.querySelector('#ban-status')?.textContent ?? '').includes('已封禁') ? 'yes' : ''`)
		if st := p.Call(t, http.MethodGet, "/api/v1/me", troll, "", nil); st != http.StatusForbidden {
			t.Errorf("the banned user's token: %d, want 403", st)
		}
	})

	t.Run("the audit log shows both", func(t *testing.T) {
		b.t = t
		b.must("open the audit log", chromedp.Click(chromedp.CSS(`a[href="/admin/audit"]`)))
		for _, row := range []struct{ action, target, text string }{
			{"wallpaper.approve", held, "通过壁纸"},
			{"user.ban", trollUser.ID, "刷屏广告"},
		} {
			b.waitFor(row.action+" in the audit log", fmt.Sprintf(`(() => {
  const tr = document.querySelector('tr[data-action=%q][data-target=%q]');
  return tr && tr.textContent.includes(%q) && tr.textContent.includes('me') ? 'yes' : '';
})()`, row.action, row.target, row.text))
		}
	})

	t.Run("the job queue's dashboard", func(t *testing.T) {
		b.t = t
		b.must("open River UI", chromedp.Click(chromedp.CSS(`a[href="/admin/river/"]`)))
		b.waitFor("River UI to render its job list", `location.pathname.startsWith('/admin/river/') &&
  (document.body?.innerText ?? '').includes('Jobs') && document.querySelector('#root')?.children.length ? 'yes' : ''`)

		// River UI's writes as its own client sends them (a bare fetch body,
		// which the browser labels text/plain, or none) pass the guard in
		// front of it and are recorded.
		var got struct {
			Job                   string
			Cancel, Pause, Resume int
		}
		b.mustEval(`(async () => {
  const send = (method, path, body) => fetch('/admin/river/api' + path,
    {method, body, headers: {Accept: 'application/json'}}).then(r => r.status);
  const jobs = await (await fetch('/admin/river/api/jobs?state=completed&limit=1')).json();
  const job = String(jobs.data[0].id);
  return {job, cancel: await send('POST', '/jobs/cancel', JSON.stringify({ids: [job]})),
    pause: await send('PUT', '/queues/default/pause'), resume: await send('PUT', '/queues/default/resume')};
})()`, &got)
		if got.Cancel != http.StatusOK || got.Pause != http.StatusOK || got.Resume != http.StatusOK {
			t.Fatalf("River UI's writes: %+v, want 200 each", got)
		}
		b.navigate(p.URL() + "/admin/audit")
		for _, row := range []struct{ action, target, text string }{
			{"job.cancel", got.Job, "取消任务"},
			{"queue.pause", "default", "暂停队列"},
			{"queue.resume", "default", "恢复队列"},
		} {
			b.waitFor(row.action+" in the audit log", fmt.Sprintf(`(() => {
  const tr = document.querySelector('tr[data-action=%q][data-target=%q]');
  return tr && tr.textContent.includes(%q) && tr.textContent.includes('me') ? 'yes' : '';
})()`, row.action, row.target, row.text))
		}
	})
}
