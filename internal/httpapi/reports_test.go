package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
)

// paintedWallpaper submits a generation (public unless the body says
// otherwise), waits until it succeeded and returns its wallpaper; a public
// one is returned once others see it.
func paintedWallpaper(t *testing.T, s *apptest.Service, token string, body map[string]any) httpapi.Wallpaper {
	t.Helper()
	if _, ok := body["size"]; !ok {
		body["size"] = "1024x1024"
	}
	res := s.Submit(t, token, body)
	if res.Status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", res.Status, res.Body)
	}
	var g httpapi.Generation
	res.JSON(t, &g)
	g = s.Wait(t, token, g.ID, 120*time.Second)
	if g.Status != "succeeded" || g.Wallpaper == nil {
		t.Fatalf("generation %s: %+v", g.Status, g.Error)
	}
	if public, ok := body["public"].(bool); ok && !public {
		return *g.Wallpaper
	}
	if !strings.Contains(fmt.Sprint(body["prompt"]), "[moderation:") {
		apptest.WaitFor(t, 60*time.Second, "the wallpaper to be public", func() bool {
			return s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+g.Wallpaper.ID, nil).Status == http.StatusOK
		})
	}
	return *g.Wallpaper
}

// othersSee says whether anyone but the owner finds the wallpaper: in the
// feed, its detail without a token and with other's, a like by other. They
// must agree; while the wallpaper's state is changing (a storage sync)
// they may straddle the change, so they are asked again.
func othersSee(t *testing.T, s *apptest.Service, id, other string) bool {
	t.Helper()
	for try := 0; ; try++ {
		var feed httpapi.WallpaperPage
		s.API.Do(http.MethodGet, "/api/v1/wallpapers?limit=50", nil).JSON(t, &feed)
		inFeed := false
		for _, w := range feed.Items {
			inFeed = inFeed || w.ID == id
		}
		anon := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil).Status == http.StatusOK
		theirs := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, apitest.Bearer(other)).Status == http.StatusOK
		like := s.API.Do(http.MethodPut, "/api/v1/wallpapers/"+id+"/like", nil, apitest.Bearer(other)).Status == http.StatusOK
		if inFeed == anon && anon == theirs && theirs == like {
			return inFeed
		}
		if try == 5 {
			t.Fatalf("visibility of %s disagrees: feed %v, anonymous detail %v, other's detail %v, like %v", id, inFeed, anon, theirs, like)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitSeen waits until others see the wallpaper (or no longer do): a
// release becomes visible once the storage sync has published its
// objects.
func waitSeen(t *testing.T, s *apptest.Service, id, other string, seen bool) {
	t.Helper()
	apptest.WaitFor(t, 60*time.Second, fmt.Sprintf("others to see %s: %v", id, seen), func() bool {
		return othersSee(t, s, id, other) == seen
	})
}

// reviewOf is the review state its owner sees.
func reviewOf(t *testing.T, s *apptest.Service, owner, id string) string {
	t.Helper()
	res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, apitest.Bearer(owner))
	if res.Status != http.StatusOK {
		t.Fatalf("the owner's detail of %s: %d %s", id, res.Status, res.Body)
	}
	var w httpapi.Wallpaper
	res.JSON(t, &w)
	return w.Review
}

func report(s *apptest.Service, token, id string, body any, opts ...apitest.Option) *apitest.Response {
	return s.API.Do(http.MethodPost, "/api/v1/wallpapers/"+id+"/reports", body, append(opts, apitest.Bearer(token))...)
}

// decide posts an admin decision and ends the test unless it is 200.
func decide(t *testing.T, s *apptest.Service, adminToken, id, decision string) httpapi.DecisionResult {
	t.Helper()
	res := s.API.Do(http.MethodPost, "/api/v1/admin/wallpapers/"+id+"/decision",
		map[string]string{"decision": decision, "note": "test " + decision}, apitest.Bearer(adminToken))
	if res.Status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", decision, id, res.Status, res.Body)
	}
	var out httpapi.DecisionResult
	res.JSON(t, &out)
	return out
}

func TestReports(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{Vars: map[string]string{"REPORT_HOLD_THRESHOLD": "3"}})
	owner := s.Token(t, "owner")
	reporters := []string{s.Token(t, "r1"), s.Token(t, "r2"), s.Token(t, "r3"), s.Token(t, "r4")}
	onlooker := s.Token(t, "onlooker")
	adminToken := s.AdminToken(t, "moderator")
	w := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a lighthouse in fog"})
	private := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a private garden", "public": false})
	porn := map[string]string{"reason": "porn", "detail": "  不适合公开  "}

	refusals := []struct {
		name   string
		token  string
		id     string
		body   any
		skip   bool // the body breaks the spec on purpose
		status int
	}{
		{name: "one's own wallpaper", token: owner, id: w.ID, body: porn, status: http.StatusBadRequest},
		{name: "another's private wallpaper", token: reporters[0], id: private.ID, body: porn, status: http.StatusNotFound},
		{name: "a wallpaper that does not exist", token: reporters[0], id: "00000000-0000-4000-8000-000000000000", body: porn, status: http.StatusNotFound},
		{name: "an unknown reason", token: reporters[0], id: w.ID, body: map[string]string{"reason": "boring"}, skip: true, status: http.StatusBadRequest},
		{name: "no reason", token: reporters[0], id: w.ID, body: map[string]string{"detail": "x"}, skip: true, status: http.StatusBadRequest},
		{name: "a detail over 200 characters", token: reporters[0], id: w.ID,
			body: map[string]string{"reason": "other", "detail": strings.Repeat("长", 201)}, skip: true, status: http.StatusBadRequest},
		{name: "without a token", token: "", id: w.ID, body: porn, status: http.StatusUnauthorized},
	}
	for _, tt := range refusals {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			var opts []apitest.Option
			if tt.skip {
				opts = append(opts, apitest.SkipRequestValidation)
			}
			if tt.token != "" {
				opts = append(opts, apitest.Bearer(tt.token))
			}
			res := s.API.For(t).Do(http.MethodPost, "/api/v1/wallpapers/"+tt.id+"/reports", tt.body, opts...)
			if res.Status != tt.status {
				t.Errorf("%d %s, want %d", res.Status, res.Body, tt.status)
			}
		})
	}
	var count int
	if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM reports`).Scan(&count); err != nil || count != 0 {
		t.Fatalf("refused reports left %d rows (%v)", count, err)
	}

	var first httpapi.Report
	t.Run("a report is accepted, the same user's second answers the first", func(t *testing.T) {
		res := report(s, reporters[0], w.ID, porn)
		if res.Status != http.StatusAccepted {
			t.Fatalf("%d %s, want 202", res.Status, res.Body)
		}
		res.JSON(t, &first)
		if first.Reason != "porn" || first.Detail != "不适合公开" {
			t.Errorf("report %+v: want the reason and the trimmed detail", first)
		}
		again := report(s, reporters[0], w.ID, map[string]string{"reason": "other"})
		var second httpapi.Report
		again.JSON(t, &second)
		if again.Status != http.StatusOK || second != first {
			t.Errorf("second report: %d %+v, want 200 with the first %+v", again.Status, second, first)
		}
	})

	t.Run("below the threshold the wallpaper stays public", func(t *testing.T) {
		if res := report(s, reporters[1], w.ID, map[string]string{"reason": "violence"}); res.Status != http.StatusAccepted {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if !othersSee(t, s, w.ID, onlooker) {
			t.Fatal("two reports (the threshold is 3) hid the wallpaper")
		}
		var q httpapi.ReviewQueue
		s.API.Do(http.MethodGet, "/api/v1/admin/queue", nil, apitest.Bearer(adminToken)).JSON(t, &q)
		if len(q.Items) != 1 || q.Items[0].Wallpaper.ID != w.ID || q.Items[0].OpenReports != 2 || q.Items[0].Wallpaper.Review != "approved" {
			t.Errorf("queue %+v: want the reported (still public) wallpaper with its 2 reports", q.Items)
		}
	})

	t.Run("the third reporter holds it out of every public view", func(t *testing.T) {
		if res := report(s, reporters[2], w.ID, map[string]string{"reason": "abuse"}); res.Status != http.StatusAccepted {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if othersSee(t, s, w.ID, onlooker) {
			t.Fatal("three reports did not hide the wallpaper")
		}
		if got := reviewOf(t, s, owner, w.ID); got != "held" {
			t.Errorf("review %q, want held", got)
		}
		if res := report(s, reporters[3], w.ID, porn); res.Status != http.StatusNotFound {
			t.Errorf("reporting a held wallpaper: %d, want 404 (nobody else sees it)", res.Status)
		}
		if res := report(s, reporters[0], w.ID, porn); res.Status != http.StatusOK {
			t.Errorf("the first reporter again: %d, want 200 with the first report", res.Status)
		}
		if res := s.API.Do(http.MethodPatch, "/api/v1/wallpapers/"+w.ID, map[string]bool{"public": true}, apitest.Bearer(owner)); res.Status != http.StatusConflict {
			t.Errorf("the owner making it public: %d, want 409 (only an admin releases it)", res.Status)
		}
	})

	t.Run("the queue shows it most reported first, with its reports", func(t *testing.T) {
		res := s.API.Do(http.MethodGet, "/api/v1/admin/queue", nil, apitest.Bearer(adminToken))
		var q httpapi.ReviewQueue
		res.JSON(t, &q)
		if res.Status != http.StatusOK || len(q.Items) == 0 || q.Items[0].Wallpaper.ID != w.ID {
			t.Fatalf("queue %d %+v: want the reported wallpaper first", res.Status, q.Items)
		}
		if it := q.Items[0]; it.OpenReports != 3 || len(it.Reports) != 3 || it.Wallpaper.Review != "held" || it.Check == nil || it.Check.Suggest != "pass" {
			t.Errorf("queue item %+v: want 3 open reports, held, the image check's pass", it)
		}
	})

	t.Run("reports before an approval do not hold it again; new ones count", func(t *testing.T) {
		decide(t, s, adminToken, w.ID, "approve")
		waitSeen(t, s, w.ID, onlooker, true)
		var q httpapi.ReviewQueue
		s.API.Do(http.MethodGet, "/api/v1/admin/queue", nil, apitest.Bearer(adminToken)).JSON(t, &q)
		if len(q.Items) != 0 {
			t.Errorf("queue after the approval %+v, want empty", q.Items)
		}
		for _, r := range reporters[:2] {
			if res := report(s, r, w.ID, porn); res.Status != http.StatusOK {
				t.Fatalf("an earlier reporter: %d, want 200", res.Status)
			}
		}
		if res := report(s, reporters[3], w.ID, porn); res.Status != http.StatusAccepted {
			t.Fatalf("a new reporter: %d", res.Status)
		}
		if !othersSee(t, s, w.ID, onlooker) || reviewOf(t, s, owner, w.ID) != "approved" {
			t.Fatal("one report after the approval held the wallpaper again")
		}
		var open int
		if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM reports r JOIN wallpapers w ON w.id = r.wallpaper_id
			WHERE r.created_at > w.decided_at`).Scan(&open); err != nil || open != 1 {
			t.Errorf("open reports %d (%v), want 1", open, err)
		}
	})
}

// TestReportsHoldConcurrently: many users reporting at once hold the
// wallpaper once, with every report kept.
func TestReportsHoldConcurrently(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{Vars: map[string]string{"REPORT_HOLD_THRESHOLD": "3"}})
	owner := s.Token(t, "owner")
	w := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a crowded square"})
	const n = 8
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = s.Token(t, fmt.Sprintf("crowd%d", i))
	}
	statuses := make(chan int, n)
	for _, tok := range tokens {
		go func() {
			statuses <- s.API.Do(http.MethodPost, "/api/v1/wallpapers/"+w.ID+"/reports",
				map[string]string{"reason": "other"}, apitest.Bearer(tok)).Status
		}()
	}
	accepted := 0
	for range n {
		switch st := <-statuses; st {
		case http.StatusAccepted:
			accepted++
		case http.StatusNotFound: // came after the hold
		default:
			t.Errorf("a concurrent report: %d", st)
		}
	}
	var rows int
	if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM reports WHERE wallpaper_id = $1`, w.ID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != accepted || accepted < 3 {
		t.Errorf("%d reports stored, %d accepted; want equal and at least the threshold", rows, accepted)
	}
	if got := reviewOf(t, s, owner, w.ID); got != "held" {
		t.Errorf("review %q, want held", got)
	}
}

func TestReportRateLimit(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{Vars: map[string]string{"REPORT_RATE_PER_HOUR": "2"}})
	owner := s.Token(t, "owner")
	w := paintedWallpaper(t, s, owner, map[string]any{"prompt": "a busy street"})
	eager, calm := s.Token(t, "eager"), s.Token(t, "calm")
	body := map[string]string{"reason": "other"}
	for i, want := range []int{http.StatusAccepted, http.StatusOK, http.StatusTooManyRequests} {
		res := report(s, eager, w.ID, body)
		if res.Status != want {
			t.Fatalf("report %d: %d %s, want %d", i+1, res.Status, res.Body, want)
		}
		if want == http.StatusTooManyRequests && (res.ErrorCode() != "rate_limited" || res.Header.Get("Retry-After") == "") {
			t.Errorf("over the limit: code %q, Retry-After %q", res.ErrorCode(), res.Header.Get("Retry-After"))
		}
	}
	if res := report(s, calm, w.ID, body); res.Status != http.StatusAccepted {
		t.Errorf("another user: %d, want 202 (the limit is per user)", res.Status)
	}
}
