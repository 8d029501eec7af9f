package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
)

func ban(t *testing.T, s *apptest.Service, adminToken, userID, reason string) httpapi.AdminUser {
	t.Helper()
	res := s.API.Do(http.MethodPost, "/api/v1/admin/users/"+userID+"/ban", map[string]string{"reason": reason}, apitest.Bearer(adminToken))
	if res.Status != http.StatusOK {
		t.Fatalf("ban: %d %s", res.Status, res.Body)
	}
	var u httpapi.AdminUser
	res.JSON(t, &u)
	return u
}

// TestBan: on two replicas of one database, a ban refuses the user's
// login, their access token (at once on the replica that banned, on the
// other within BAN_SYNC_INTERVAL) and refresh token, and takes their
// public wallpapers out of every public view and storage's public place;
// unbanning restores exactly what the ban hid.
func TestBan(t *testing.T) {
	t.Parallel()
	const interval = time.Second
	vars := map[string]string{"BAN_SYNC_INTERVAL": interval.String()}
	a := apptest.New(t, apptest.Options{Vars: vars})
	// The second replica shares the database and the storage (a directory
	// here, as a bucket would be): either one may work any job.
	b := apptest.New(t, apptest.Options{DatabaseURL: a.Config.DatabaseURL.Reveal(),
		Vars: map[string]string{"BAN_SYNC_INTERVAL": interval.String(), "DATA_DIR": a.Config.DataDir}})
	adminToken := a.AdminToken(t, "ops")
	bad := a.Login(t, "bad")
	onlooker := a.Token(t, "onlooker")

	shown := paintedWallpaper(t, a, bad.AccessToken, map[string]any{"prompt": "a shown lantern"})
	private := paintedWallpaper(t, a, bad.AccessToken, map[string]any{"prompt": "a private lantern", "public": false})
	laterHidden := paintedWallpaper(t, a, bad.AccessToken, map[string]any{"prompt": "a lantern an admin hides"})
	// The URLs anyone got while it was public.
	a.API.Do(http.MethodGet, "/api/v1/wallpapers/"+shown.ID, nil).JSON(t, &shown)
	for _, u := range []string{shown.ImageURL, shown.ThumbnailURL} {
		if res, _ := a.Download(t, u); res.StatusCode != http.StatusOK || !strings.Contains(u, "/public/") {
			t.Fatalf("the public URL %s answers %d", u, res.StatusCode)
		}
	}
	if res := b.API.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(bad.AccessToken)); res.Status != http.StatusOK {
		t.Fatalf("the other replica before the ban: %d", res.Status)
	}

	banned := ban(t, a, adminToken, bad.User.ID, "spam")
	bannedAt := time.Now()
	if !banned.Banned || banned.Ban == nil || banned.Ban.Reason != "spam" || banned.Ban.By != "ops" {
		t.Errorf("the banned user %+v", banned)
	}

	t.Run("the access token is refused at once on the banning replica", func(t *testing.T) {
		// (DELETE /me is the one call a ban leaves: TestDeletedAccountKeepsItsBan.)
		for _, call := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/api/v1/me", nil},
			{http.MethodGet, "/api/v1/me/wallpapers", nil},
			{http.MethodGet, "/api/v1/wallpapers", nil},
			{http.MethodPatch, "/api/v1/me", map[string]string{"nickname": "still here"}},
		} {
			res := a.API.For(t).Do(call.method, call.path, call.body, apitest.Bearer(bad.AccessToken))
			if res.Status != http.StatusForbidden || res.ErrorCode() != "banned" {
				t.Errorf("%s %s: %d %s, want 403 banned", call.method, call.path, res.Status, res.Body)
			}
		}
		if res := a.Submit(t, bad.AccessToken, map[string]string{"prompt": "more"}); res.Status != http.StatusForbidden {
			t.Errorf("a generation by the banned user: %d, want 403", res.Status)
		}
	})
	t.Run("and on the other replica within BAN_SYNC_INTERVAL", func(t *testing.T) {
		apptest.WaitFor(t, 60*time.Second, "the other replica to refuse the token", func() bool {
			return b.API.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(bad.AccessToken)).Status == http.StatusForbidden
		})
		// The bound, with room for a slow, shared machine: a reload every
		// second cannot take anything like ten more.
		if took := time.Since(bannedAt); took > interval+10*time.Second {
			t.Errorf("the other replica refused the token after %v; the bound is BAN_SYNC_INTERVAL (%v)", took, interval)
		}
	})
	t.Run("login and refresh are refused with banned", func(t *testing.T) {
		for _, s := range []*apptest.Service{a, b} {
			res := s.API.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": "dev-bad"})
			if res.Status != http.StatusForbidden || res.ErrorCode() != "banned" {
				t.Errorf("login: %d %s, want 403 banned", res.Status, res.Body)
			}
		}
		res := b.API.Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": bad.RefreshToken})
		if res.Status != http.StatusForbidden || res.ErrorCode() != "banned" {
			t.Errorf("refresh: %d %s, want 403 banned", res.Status, res.Body)
		}
		var live int
		if err := a.Pool.QueryRow(t.Context(), `SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL`,
			bad.User.ID).Scan(&live); err != nil || live != 0 {
			t.Errorf("%d live refresh tokens (%v), want all revoked", live, err)
		}
	})
	t.Run("their public wallpapers leave every public view and the public place", func(t *testing.T) {
		for _, id := range []string{shown.ID, laterHidden.ID} {
			if othersSee(t, a, id, onlooker) {
				t.Errorf("%s is still seen by others", id)
			}
		}
		for _, u := range []string{shown.ImageURL, shown.ThumbnailURL} {
			apptest.WaitFor(t, 60*time.Second, "the public URL to stop working", func() bool {
				res, _ := a.Download(t, u)
				return res.StatusCode == http.StatusNotFound
			})
		}
	})

	// An admin hides one of them while the user is banned.
	decide(t, a, adminToken, laterHidden.ID, "hide")

	t.Run("unbanning restores what the ban hid and nothing else", func(t *testing.T) {
		res := a.API.Do(http.MethodPost, "/api/v1/admin/users/"+bad.User.ID+"/unban", map[string]string{"note": "appeal"}, apitest.Bearer(adminToken))
		var u httpapi.AdminUser
		res.JSON(t, &u)
		if res.Status != http.StatusOK || u.Banned || u.Ban != nil {
			t.Fatalf("unban: %d %+v", res.Status, u)
		}
		waitSeen(t, a, shown.ID, onlooker, true)
		if othersSee(t, a, private.ID, onlooker) || othersSee(t, a, laterHidden.ID, onlooker) {
			t.Error("unbanning showed a private or admin-hidden wallpaper")
		}
		again := a.Login(t, "bad")
		if got := reviewOf(t, a, again.AccessToken, laterHidden.ID); got != "held" {
			t.Errorf("the hidden wallpaper's review %q, want held", got)
		}
		apptest.WaitFor(t, 60*time.Second, "the other replica to accept the token again", func() bool {
			return b.API.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(again.AccessToken)).Status == http.StatusOK
		})
		if res := a.API.Do(http.MethodPost, "/api/v1/admin/users/"+bad.User.ID+"/unban", map[string]string{}, apitest.Bearer(adminToken)); res.Status != http.StatusConflict {
			t.Errorf("unbanning again: %d, want 409", res.Status)
		}
	})

	t.Run("the audit log shows the ban, the decision and the unban", func(t *testing.T) {
		var page httpapi.AuditPage
		a.API.Do(http.MethodGet, "/api/v1/admin/audit", nil, apitest.Bearer(adminToken)).JSON(t, &page)
		var got []string
		for _, e := range page.Items {
			got = append(got, e.Action+":"+e.Note)
		}
		want := []string{"user.unban:appeal", "wallpaper.hide:test hide", "user.ban:spam", "admin.add:"}
		if len(got) != len(want) {
			t.Fatalf("audit %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("audit %v, want %v", got, want)
				break
			}
		}
	})
}

// TestBanCancelsGenerations: a ban ends the user's running and queued
// generations as failed with the code cancelled, each unit returned once,
// even when the running attempt ends afterwards.
func TestBanCancelsGenerations(t *testing.T) {
	t.Parallel()
	// One worker: the first generation hangs at the image model (running),
	// the second waits behind it (queued).
	s := apptest.New(t, apptest.Options{OpenAI: true, Vars: map[string]string{"WORKERS": "1", "JOB_TIMEOUT": "5s"}})
	adminToken := s.AdminToken(t, "ops")
	bad := s.Login(t, "bad")
	s.OpenAI.Enqueue(imagegentest.Hang())
	running := s.Generate(t, bad.AccessToken, "a hanging picture")
	apptest.WaitFor(t, 60*time.Second, "the image model to be asked", func() bool { return s.OpenAI.Calls() == 1 })
	queued := s.Generate(t, bad.AccessToken, "a waiting picture")
	used := func() (n int) {
		t.Helper()
		if err := s.Pool.QueryRow(t.Context(), `SELECT COALESCE(sum(used), 0) FROM quota_usage WHERE user_id = $1`, bad.User.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := used(); n != 2 {
		t.Fatalf("quota used %d before the ban, want 2", n)
	}

	ban(t, s, adminToken, bad.User.ID, "abuse")
	check := func(when string) {
		t.Helper()
		for _, id := range []string{running, queued} {
			var status, code string
			var refunded bool
			if err := s.Pool.QueryRow(t.Context(), `SELECT status, COALESCE(error_code, ''), refunded FROM generations WHERE id = $1`, id).
				Scan(&status, &code, &refunded); err != nil {
				t.Fatal(err)
			}
			if status != "failed" || code != "cancelled" || !refunded {
				t.Errorf("%s, generation %s: %s %q refunded=%v; want failed, cancelled, refunded", when, id, status, code, refunded)
			}
		}
		if n := used(); n != 0 {
			t.Errorf("%s, quota used %d, want 0 (each unit returned once)", when, n)
		}
	}
	check("right after the ban")

	// The hanging attempt times out, its retry finds the generation
	// finished, and the queued one's job finds it finished too.
	apptest.WaitFor(t, 120*time.Second, "the generation jobs to end", func() bool {
		var live int
		if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'generate_wallpaper'
			AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&live); err != nil {
			t.Fatal(err)
		}
		return live == 0
	})
	check("after the jobs ended")
	var wallpapers int
	if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM wallpapers WHERE user_id = $1`, bad.User.ID).Scan(&wallpapers); err != nil || wallpapers != 0 {
		t.Errorf("%d wallpapers (%v) from cancelled generations", wallpapers, err)
	}
}
