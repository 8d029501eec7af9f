package httpapi_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

// console is a browser's view of the console at /admin/: form posts and
// page loads with the session cookie, straight to the handler.
type console struct {
	t       *testing.T
	handler http.Handler
	cookie  *http.Cookie
}

func (c *console) do(method, path string, form url.Values, headers ...string) *httptest.ResponseRecorder {
	c.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	if method != http.MethodGet {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, req)
	return rec
}

// signIn posts the admin token to the sign-in form and keeps the session
// cookie.
func (c *console) signIn(token string) *http.Cookie {
	c.t.Helper()
	rec := c.do(http.MethodPost, "/admin/login", url.Values{"token": {token}})
	if rec.Code != http.StatusSeeOther {
		c.t.Fatalf("sign in: %d %s", rec.Code, rec.Body)
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "wallpaperd_admin" {
			c.cookie = ck
			return ck
		}
	}
	c.t.Fatal("sign in set no session cookie")
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a console page.
func (c *console) csrf(path string) string {
	c.t.Helper()
	rec := c.do(http.MethodGet, path, nil)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		c.t.Fatalf("GET %s: %d, no CSRF token in the page", path, rec.Code)
	}
	return m[1]
}

func TestAdminAuthentication(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{})
	adminToken := s.AdminToken(t, "ops")
	revokedToken := s.AdminToken(t, "former")
	if err := admin.NewAdmins(postgres.NewAdmins(s.Pool, nil), time.Hour).Revoke(t.Context(), "former"); err != nil {
		t.Fatal(err)
	}
	session := s.Login(t, "alice")
	userToken := session.AccessToken

	adminCalls := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/admin/queue"},
		{http.MethodGet, "/api/v1/admin/users?q=alice"},
		{http.MethodGet, "/api/v1/admin/users/" + session.User.ID},
		{http.MethodGet, "/api/v1/admin/audit"},
	}
	credentials := []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a user's access token", userToken, http.StatusUnauthorized},
		{"a user's refresh token", session.RefreshToken, http.StatusUnauthorized},
		{"a revoked admin's token", revokedToken, http.StatusUnauthorized},
		{"a made-up admin token", admin.TokenPrefix + strings.Repeat("A", 43), http.StatusUnauthorized},
		{"a live admin's token", adminToken, http.StatusOK},
	}
	for _, cr := range credentials {
		for _, call := range adminCalls {
			t.Run(cr.name+": "+call.method+" "+call.path, func(t *testing.T) {
				var opts []apitest.Option
				if cr.token != "" {
					opts = append(opts, apitest.Bearer(cr.token))
				}
				if res := s.API.For(t).Do(call.method, call.path, nil, opts...); res.Status != cr.status {
					t.Errorf("%d %s, want %d", res.Status, res.Body, cr.status)
				}
			})
		}
	}
	t.Run("changes with a user's token change nothing", func(t *testing.T) {
		for _, call := range []struct{ path, body string }{
			{"/api/v1/admin/users/" + session.User.ID + "/ban", `{"reason":"x"}`},
			{"/api/v1/admin/wallpapers/00000000-0000-4000-8000-000000000000/decision", `{"decision":"approve"}`},
		} {
			if res := s.API.For(t).Do(http.MethodPost, call.path, []byte(call.body), apitest.Bearer(userToken)); res.Status != http.StatusUnauthorized {
				t.Errorf("POST %s with a user's token: %d", call.path, res.Status)
			}
		}
		var entries int
		if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action NOT LIKE 'admin.%'`).Scan(&entries); err != nil || entries != 0 {
			t.Errorf("%d audit entries (%v), want none", entries, err)
		}
	})

	c := &console{t: t, handler: s.App.Handler}
	cookie := c.signIn(adminToken)
	t.Run("an admin token or console cookie is refused on user endpoints", func(t *testing.T) {
		for _, path := range []string{"/api/v1/me", "/api/v1/me/wallpapers", "/api/v1/me/generations"} {
			if res := s.API.For(t).Do(http.MethodGet, path, nil, apitest.Bearer(adminToken)); res.Status != http.StatusUnauthorized {
				t.Errorf("GET %s with an admin token: %d, want 401", path, res.Status)
			}
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.AddCookie(cookie)
			if res := s.API.For(t).Raw(req); res.Status != http.StatusUnauthorized {
				t.Errorf("GET %s with the console cookie: %d, want 401", path, res.Status)
			}
		}
		res := s.API.For(t).Do(http.MethodPost, "/api/v1/generations", map[string]string{"prompt": "x"}, apitest.Bearer(adminToken))
		if res.Status != http.StatusUnauthorized {
			t.Errorf("POST /generations with an admin token: %d, want 401", res.Status)
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/admin/queue", nil)
		req.AddCookie(cookie)
		if res := s.API.For(t).Raw(req); res.Status != http.StatusUnauthorized {
			t.Errorf("the admin API with the console cookie (not a bearer token): %d, want 401", res.Status)
		}
	})

	t.Run("the session cookie is HttpOnly, SameSite=Strict, scoped to /admin", func(t *testing.T) {
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/admin" || cookie.MaxAge <= 0 {
			t.Errorf("cookie %+v", cookie)
		}
		if cookie.Value == adminToken || !strings.HasPrefix(cookie.Value, admin.SessionPrefix) {
			t.Errorf("the cookie holds %q: want a session token, not the admin token", cookie.Value)
		}
	})

	t.Run("tokens are stored only as SHA-256 hashes", func(t *testing.T) {
		for _, table := range []struct {
			name, query string
			secret      string
		}{
			{"admins", `SELECT to_jsonb(a)::text, a.token_hash FROM admins a WHERE a.name = 'ops'`, adminToken},
			{"admin_sessions", `SELECT to_jsonb(s)::text, s.token_hash FROM admin_sessions s`, cookie.Value},
		} {
			var row string
			var hash []byte
			if err := s.Pool.QueryRow(t.Context(), table.query).Scan(&row, &hash); err != nil {
				t.Fatalf("%s: %v", table.name, err)
			}
			want := sha256.Sum256([]byte(table.secret))
			if string(hash) != string(want[:]) {
				t.Errorf("%s: the stored hash is not SHA-256 of the token", table.name)
			}
			secret := strings.SplitN(table.secret, "_", 2)[1]
			raw, _ := base64.RawURLEncoding.DecodeString(secret)
			if strings.Contains(row, secret) || strings.Contains(row, base64.StdEncoding.EncodeToString(raw)) ||
				strings.Contains(row, strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(table.secret)), "=")) {
				t.Errorf("%s holds the token itself: %s", table.name, row)
			}
		}
	})

	t.Run("the console refuses forged and cross-site changes", func(t *testing.T) {
		page := "/admin/users/" + session.User.ID
		token := c.csrf(page)
		ban := "/admin/users/" + session.User.ID + "/ban"
		for _, tt := range []struct {
			name    string
			form    url.Values
			headers []string
		}{
			{"no CSRF token", url.Values{"reason": {"spam"}}, nil},
			{"a wrong CSRF token", url.Values{"reason": {"spam"}, "csrf": {token + "x"}}, nil},
			{"from another site", url.Values{"reason": {"spam"}, "csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"from another origin (no Sec-Fetch-Site)", url.Values{"reason": {"spam"}, "csrf": {token}},
				[]string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
		} {
			rec := c.do(http.MethodPost, ban, tt.form, tt.headers...)
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", tt.name, rec.Code)
			}
		}
		signedOut := &console{t: t, handler: s.App.Handler}
		if rec := signedOut.do(http.MethodPost, ban, url.Values{"reason": {"spam"}, "csrf": {token}}); rec.Code != http.StatusSeeOther ||
			rec.Header().Get("Location") != "/admin/" {
			t.Errorf("without the session: %d %s, want a redirect to the sign-in", rec.Code, rec.Header().Get("Location"))
		}
		if s.API.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(userToken)).Status != http.StatusOK {
			t.Fatal("a refused console change banned the user")
		}
		if rec := c.do(http.MethodPost, ban, url.Values{"reason": {"spam"}, "csrf": {token}}); rec.Code != http.StatusSeeOther {
			t.Fatalf("the console's own form: %d %s", rec.Code, rec.Body)
		}
		if res := s.API.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(userToken)); res.Status != http.StatusForbidden || res.ErrorCode() != "banned" {
			t.Errorf("after the console's ban: %d %s, want 403 banned", res.Status, res.Body)
		}
	})

	t.Run("a wrong token does not sign in", func(t *testing.T) {
		other := &console{t: t, handler: s.App.Handler}
		for _, tok := range []string{"", userToken, revokedToken, adminToken + "x"} {
			rec := other.do(http.MethodPost, "/admin/login", url.Values{"token": {tok}})
			if rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
				t.Errorf("sign in with %.12q…: %d, cookies %v; want 401 and none", tok, rec.Code, rec.Result().Cookies())
			}
		}
	})

	t.Run("River UI only for a signed-in admin", func(t *testing.T) {
		anon := &console{t: t, handler: s.App.Handler}
		for _, path := range []string{"/admin/river/", "/admin/river/api/jobs?state=completed"} {
			if rec := anon.do(http.MethodGet, path, nil); rec.Code != http.StatusUnauthorized {
				t.Errorf("GET %s without a session: %d, want 401", path, rec.Code)
			}
		}
		rec := c.do(http.MethodGet, "/admin/river/", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "/admin/river") {
			t.Errorf("River UI: %d %.300s", rec.Code, rec.Body)
		}
		rec = c.do(http.MethodGet, "/admin/river/api/jobs?state=completed&limit=5", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"data"`) {
			t.Errorf("River UI's API: %d %.300s", rec.Code, rec.Body)
		}
	})

	t.Run("revoking an admin ends its console session at once", func(t *testing.T) {
		token := s.AdminToken(t, "leaving")
		other := &console{t: t, handler: s.App.Handler}
		other.signIn(token)
		if rec := other.do(http.MethodGet, "/admin/audit", nil); rec.Code != http.StatusOK {
			t.Fatalf("signed in: %d", rec.Code)
		}
		if err := admin.NewAdmins(postgres.NewAdmins(s.Pool, nil), time.Hour).Revoke(t.Context(), "leaving"); err != nil {
			t.Fatal(err)
		}
		if rec := other.do(http.MethodGet, "/admin/audit", nil); rec.Code != http.StatusSeeOther {
			t.Errorf("after the revocation: %d, want a redirect to the sign-in", rec.Code)
		}
		if rec := other.do(http.MethodGet, "/admin/river/", nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("River UI after the revocation: %d, want 401", rec.Code)
		}
	})
}

func TestAdminDecisions(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{})
	adminToken := s.AdminToken(t, "ops")
	owner, onlooker := s.Token(t, "owner"), s.Token(t, "onlooker")
	quota := func() int { return s.Me(t, owner).Quota.UsedToday }

	held := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a quiet harbour " + "[moderation:review]"})
	apptest.WaitFor(t, 60*time.Second, "the image check to hold it", func() bool { return reviewOf(t, s, owner, held.ID) == "held" })

	t.Run("approve releases a held wallpaper to the feed", func(t *testing.T) {
		out := decide(t, s, adminToken, held.ID, "approve")
		if out.Wallpaper == nil || out.Wallpaper.Review != "approved" || out.Wallpaper.DecidedAt == nil || out.Wallpaper.ApprovedAt == nil {
			t.Fatalf("decision %+v", out)
		}
		waitSeen(t, s, held.ID, onlooker, true)
	})
	t.Run("approving a private wallpaper never checked is a conflict", func(t *testing.T) {
		private := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a diary page", "public": false})
		res := s.API.Do(http.MethodPost, "/api/v1/admin/wallpapers/"+private.ID+"/decision", map[string]string{"decision": "approve"}, apitest.Bearer(adminToken))
		if res.Status != http.StatusConflict {
			t.Errorf("%d %s, want 409", res.Status, res.Body)
		}
		if got := reviewOf(t, s, owner, private.ID); got != "unchecked" {
			t.Errorf("review %q, want unchecked (it must go through the image check)", got)
		}
	})
	t.Run("hide takes it out of every public view", func(t *testing.T) {
		decide(t, s, adminToken, held.ID, "hide")
		waitSeen(t, s, held.ID, onlooker, false)
		if got := reviewOf(t, s, owner, held.ID); got != "held" {
			t.Errorf("review %q, want held", got)
		}
	})
	t.Run("rejecting a once-approved wallpaper removes it without a refund", func(t *testing.T) {
		before := quota()
		out := decide(t, s, adminToken, held.ID, "reject")
		if out.Wallpaper != nil {
			t.Errorf("a rejected wallpaper is still returned: %+v", out.Wallpaper)
		}
		if res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+held.ID, nil, apitest.Bearer(owner)); res.Status != http.StatusNotFound {
			t.Errorf("the owner's detail after the rejection: %d, want 404", res.Status)
		}
		if got := quota(); got != before {
			t.Errorf("quota used %d, want %d (no refund for a wallpaper that was public)", got, before)
		}
	})
	t.Run("rejecting a never-approved wallpaper removes it and refunds once", func(t *testing.T) {
		w := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a stormy cape [moderation:review]"})
		apptest.WaitFor(t, 60*time.Second, "the image check to hold it", func() bool { return reviewOf(t, s, owner, w.ID) == "held" })
		before := quota()
		decide(t, s, adminToken, w.ID, "reject")
		if got := quota(); got != before-1 {
			t.Errorf("quota used %d, want %d (refunded once)", got, before-1)
		}
		var g struct {
			status, code string
			refunded     bool
		}
		if err := s.Pool.QueryRow(t.Context(), `SELECT status, error_code, refunded FROM generations WHERE id = (
			SELECT generation_id FROM moderation_checks WHERE wallpaper_id = $1 LIMIT 1)`, w.ID).Scan(&g.status, &g.code, &g.refunded); err != nil {
			t.Fatal(err)
		}
		if g.status != "failed" || g.code != "content_rejected" || !g.refunded {
			t.Errorf("generation %+v, want failed, content_rejected, refunded", g)
		}
		res := s.API.Do(http.MethodPost, "/api/v1/admin/wallpapers/"+w.ID+"/decision", map[string]string{"decision": "reject"}, apitest.Bearer(adminToken))
		if res.Status != http.StatusNotFound || quota() != before-1 {
			t.Errorf("rejecting again: %d, quota %d; want 404 and no second refund", res.Status, quota())
		}
	})
	t.Run("bad decisions change nothing", func(t *testing.T) {
		w := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a calm bay"})
		for _, body := range []map[string]string{
			{"decision": "delete"},
			{"decision": "hide", "note": strings.Repeat("长", 501)},
		} {
			res := s.API.Do(http.MethodPost, "/api/v1/admin/wallpapers/"+w.ID+"/decision", body, apitest.Bearer(adminToken), apitest.SkipRequestValidation)
			if res.Status != http.StatusBadRequest {
				t.Errorf("%v: %d, want 400", body, res.Status)
			}
		}
		if !othersSee(t, s, w.ID, onlooker) {
			t.Error("a refused decision hid the wallpaper")
		}
	})

	t.Run("the audit log has every decision, newest first, and cannot be changed", func(t *testing.T) {
		var page httpapi.AuditPage
		res := s.API.Do(http.MethodGet, "/api/v1/admin/audit?limit=2", nil, apitest.Bearer(adminToken))
		res.JSON(t, &page)
		if res.Status != http.StatusOK || len(page.Items) != 2 || page.NextCursor == nil {
			t.Fatalf("audit page %d %+v", res.Status, page)
		}
		all := page.Items
		for page.NextCursor != nil {
			next := *page.NextCursor
			page = httpapi.AuditPage{}
			s.API.Do(http.MethodGet, "/api/v1/admin/audit?limit=2&cursor="+next, nil, apitest.Bearer(adminToken)).JSON(t, &page)
			all = append(all, page.Items...)
		}
		var actions []string
		for _, e := range all {
			actions = append(actions, e.Action+" by "+e.Admin)
		}
		want := []string{"wallpaper.reject by ops", "wallpaper.reject by ops", "wallpaper.hide by ops", "wallpaper.approve by ops", "admin.add by (command line)"}
		if strings.Join(actions, ", ") != strings.Join(want, ", ") {
			t.Errorf("audit log %v, want %v", actions, want)
		}
		if all[3].TargetID != held.ID || all[3].Note != "test approve" {
			t.Errorf("the approval's entry %+v", all[3])
		}
		if _, err := s.Pool.Exec(t.Context(), `UPDATE audit_log SET note = 'forged'`); err == nil {
			t.Error("the audit log could be changed")
		}
		if res := s.API.Do(http.MethodGet, "/api/v1/admin/audit?cursor=abc", nil, apitest.Bearer(adminToken)); res.Status != http.StatusBadRequest {
			t.Errorf("a bad cursor: %d, want 400", res.Status)
		}
	})
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{})
	adminToken := s.AdminToken(t, "ops")
	alice := s.Login(t, "alice")
	bob := s.Token(t, "bob")
	if res := s.API.Do(http.MethodPatch, "/api/v1/me", map[string]string{"nickname": "Alice_100%"}, apitest.Bearer(alice.AccessToken)); res.Status != http.StatusOK {
		t.Fatalf("rename: %d", res.Status)
	}
	public := paintedWallpaper(t, s, alice.AccessToken, map[string]any{"prompt": "a red kite"})
	paintedWallpaper(t, s, alice.AccessToken, map[string]any{"prompt": "a secret", "public": false})
	if res := report(s, bob, public.ID, map[string]string{"reason": "copyright", "detail": "我的作品"}); res.Status != http.StatusAccepted {
		t.Fatalf("report: %d", res.Status)
	}

	for _, tt := range []struct {
		name, q string
		want    int
	}{
		{"by a part of the nickname", "lice_1", 1},
		{"case-insensitively", "ALICE", 1},
		{"% and _ are literal", "e_100%", 1},
		{"a wildcard matches nothing", "A%e", 0},
		{"by id", alice.User.ID, 1},
		{"nobody", "zelda", 0},
	} {
		t.Run("find "+tt.name, func(t *testing.T) {
			var list httpapi.AdminUserList
			res := s.API.For(t).Do(http.MethodGet, "/api/v1/admin/users?q="+url.QueryEscape(tt.q), nil, apitest.Bearer(adminToken))
			res.JSON(t, &list)
			if res.Status != http.StatusOK || len(list.Items) != tt.want || (tt.want == 1 && list.Items[0].ID != alice.User.ID) {
				t.Errorf("%d %+v, want %d (alice)", res.Status, list.Items, tt.want)
			}
		})
	}
	if res := s.API.Do(http.MethodGet, "/api/v1/admin/users", nil, apitest.Bearer(adminToken), apitest.SkipRequestValidation); res.Status != http.StatusBadRequest {
		t.Errorf("no q: %d, want 400", res.Status)
	}

	var d httpapi.AdminUserDetail
	res := s.API.Do(http.MethodGet, "/api/v1/admin/users/"+alice.User.ID, nil, apitest.Bearer(adminToken))
	res.JSON(t, &d)
	if res.Status != http.StatusOK || d.User.Nickname != "Alice_100%" || d.User.Banned || len(d.Wallpapers) != 2 || len(d.Generations) != 2 ||
		len(d.ReportsReceived) != 1 || d.ReportsReceived[0].Reason != "copyright" || len(d.ReportsFiled) != 0 {
		t.Errorf("alice's detail %d %+v", res.Status, d)
	}
	if res := s.API.Do(http.MethodGet, "/api/v1/admin/users/00000000-0000-4000-8000-000000000000", nil, apitest.Bearer(adminToken)); res.Status != http.StatusNotFound {
		t.Errorf("an unknown user: %d, want 404", res.Status)
	}
}

// TestRiverUIChanges: River UI's changes to jobs and queues pass only as
// River UI itself sends them, from its own page, and each is audited.
func TestRiverUIChanges(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{})
	c := &console{t: t, handler: s.App.Handler}
	c.signIn(s.AdminToken(t, "ops"))
	ctx := t.Context()

	// river is River UI's fetch: a JSON text body sent without a type
	// (the browser calls it text/plain), from its own origin.
	river := func(c *console, method, path, body string, headers ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		}
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		if c.cookie != nil {
			req.AddCookie(c.cookie)
		}
		rec := httptest.NewRecorder()
		c.handler.ServeHTTP(rec, req)
		return rec
	}
	// job inserts a job no worker takes (scheduled tomorrow).
	job := func() string {
		t.Helper()
		var id int64
		if err := s.Pool.QueryRow(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at)
			VALUES ('{}', 'audit_probe', 1, 'default', 'scheduled', now() + interval '1 day') RETURNING id`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return strconv.FormatInt(id, 10)
	}
	type entry struct{ admin, action, targetType, targetID, note string }
	entries := func() []entry {
		t.Helper()
		rows, err := s.Pool.Query(ctx, `SELECT admin_name, action, target_type, target_id, note FROM audit_log
			WHERE target_type IN ('job', 'queue') ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entry, error) {
			var e entry
			err := r.Scan(&e.admin, &e.action, &e.targetType, &e.targetID, &e.note)
			return e, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	jobState := func(id string) string {
		t.Helper()
		var state string
		if err := s.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&state); err != nil {
			return "(none)"
		}
		return state
	}

	kept := job()
	ids := `{"ids":["` + kept + `"]}`
	t.Run("refused changes change nothing and are not recorded", func(t *testing.T) {
		anon := &console{t: t, handler: s.App.Handler}
		for _, tt := range []struct {
			name         string
			c            *console
			method, path string
			headers      []string
			status       int
		}{
			{"without a session", anon, http.MethodPost, "/admin/river/api/jobs/cancel", nil, http.StatusUnauthorized},
			{"from another site", c, http.MethodPost, "/admin/river/api/jobs/cancel", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
			{"from a sibling site", c, http.MethodPost, "/admin/river/api/jobs/cancel", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
			{"from another origin", c, http.MethodPost, "/admin/river/api/jobs/cancel",
				[]string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, http.StatusForbidden},
			{"with no proof of origin", c, http.MethodPost, "/admin/river/api/jobs/cancel", []string{"Sec-Fetch-Site", ""}, http.StatusForbidden},
			{"as a form", c, http.MethodPost, "/admin/river/api/jobs/cancel",
				[]string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
			{"as a multipart form", c, http.MethodPost, "/admin/river/api/jobs/delete",
				[]string{"Content-Type", "multipart/form-data; boundary=x"}, http.StatusUnsupportedMediaType},
			{"an unknown path", c, http.MethodPost, "/admin/river/api/whatever", nil, http.StatusForbidden},
			{"a known path with a slash more", c, http.MethodPost, "/admin/river/api/jobs/cancel/", nil, http.StatusForbidden},
			{"a known path with another method", c, http.MethodDelete, "/admin/river/api/jobs/cancel", nil, http.StatusForbidden},
			{"outside River UI's API", c, http.MethodPost, "/admin/river/jobs/cancel", nil, http.StatusForbidden},
			{"an unknown queue change", c, http.MethodPut, "/admin/river/api/queues/default/drain", nil, http.StatusForbidden},
		} {
			if rec := river(tt.c, tt.method, tt.path, ids, tt.headers...); rec.Code != tt.status {
				t.Errorf("%s: %d %.200s, want %d", tt.name, rec.Code, rec.Body, tt.status)
			}
		}
		if rec := river(c, http.MethodPost, "/admin/river/api/jobs/cancel", `{"ids":["x"]}`); rec.Code != http.StatusBadRequest {
			t.Errorf("ids that are not job ids: %d, want 400", rec.Code)
		}
		if got := jobState(kept); got != "scheduled" {
			t.Errorf("the job is %s after refused changes, want scheduled", got)
		}
		if got := entries(); len(got) != 0 {
			t.Errorf("entries %v, want none", got)
		}
	})

	t.Run("River UI's own changes are made and recorded", func(t *testing.T) {
		a, b := job(), job()
		body := `{"ids":["` + a + `",` + b + `]}`
		if rec := river(c, http.MethodPost, "/admin/river/api/jobs/cancel", body); rec.Code != http.StatusOK {
			t.Fatalf("cancel as River UI sends it: %d %s", rec.Code, rec.Body)
		}
		if rec := river(c, http.MethodPost, "/admin/river/api/jobs/delete", `{"ids":["`+a+`"]}`,
			"Content-Type", "application/json"); rec.Code != http.StatusOK {
			t.Fatalf("delete as JSON: %d %s", rec.Code, rec.Body)
		}
		if got, want := jobState(a)+" "+jobState(b), "(none) cancelled"; got != want {
			t.Errorf("jobs %s, want %s", got, want)
		}
		for _, action := range []string{"pause", "resume"} {
			if rec := river(c, http.MethodPut, "/admin/river/api/queues/default/"+action, "",
				"Sec-Fetch-Site", "", "Origin", "http://example.com"); rec.Code != http.StatusOK {
				t.Fatalf("%s the queue (Origin, no Sec-Fetch-Site): %d %s", action, rec.Code, rec.Body)
			}
		}
		want := []entry{
			{"ops", admin.ActionJobCancel, admin.TargetJob, a, ""},
			{"ops", admin.ActionJobCancel, admin.TargetJob, b, ""},
			{"ops", admin.ActionJobDelete, admin.TargetJob, a, ""},
			{"ops", admin.ActionQueuePause, admin.TargetQueue, "default", ""},
			{"ops", admin.ActionQueueResume, admin.TargetQueue, "default", ""},
		}
		if got := entries(); !slices.Equal(got, want) {
			t.Errorf("entries\n%v\nwant\n%v", got, want)
		}
		page := c.do(http.MethodGet, "/admin/audit", nil).Body.String()
		for _, s := range []string{"取消任务", "删除任务", "暂停队列", "恢复队列", "任务 <code>" + a + "</code>", "队列 <code>default</code>"} {
			if !strings.Contains(page, s) {
				t.Errorf("the audit page lacks %q", s)
			}
		}
	})

	t.Run("a change River UI refuses is not recorded", func(t *testing.T) {
		before := len(entries())
		if rec := river(c, http.MethodPut, "/admin/river/api/queues/no_such_queue/pause", ""); rec.Code < 400 {
			t.Fatalf("pausing a queue that does not exist: %d", rec.Code)
		}
		if got := len(entries()); got != before {
			t.Errorf("%d entries, want %d", got, before)
		}
	})
}
