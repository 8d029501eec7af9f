package app_test

// Fault tests: the promise is that every accepted generation ends as a
// wallpaper or as a failure with its quota unit returned, and that a
// fault in a dependency degrades the service without corrupting it. Each
// test runs the whole service (app.New, through apptest) on its own
// database, against a real dependency that is made to fail: the fake
// OpenAI scripted to answer badly, a real S3 server (versitygw) killed and
// restarted, real Postgres connections terminated. The process tests
// (cmd/wallpaperd) kill and stop the real binary.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// startFaultService is the whole service with the fault tests' defaults:
// a few attempts, a large quota, the fake OpenAI painting.
func startFaultService(t *testing.T, o apptest.Options) *apptest.Service {
	t.Helper()
	vars := map[string]string{"JOB_MAX_ATTEMPTS": "3", "DAILY_QUOTA": "50"}
	maps.Copy(vars, o.Vars)
	o.Vars, o.OpenAI = vars, true
	return apptest.New(t, o)
}

const (
	quotaSpent    = `wallpaperd_quota_units_total{event="spent"}`
	quotaRefunded = `wallpaperd_quota_units_total{event="refunded"}`
)

// TestFaultImageModel: each way the image model misbehaves ends the
// generation in the right state with the right quota, on the API, in the
// database and in the metrics.
func TestFaultImageModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		vars     map[string]string
		replies  func(t *testing.T) []imagegentest.Reply
		status   string
		code     string // of a failure
		attempts int
		calls    int // image requests the model received
	}{
		{
			name:    "500 then success",
			replies: func(*testing.T) []imagegentest.Reply { return []imagegentest.Reply{imagegentest.ServerError()} },
			status:  "succeeded", attempts: 2, calls: 2,
		},
		{
			name: "429 with Retry-After, then success",
			replies: func(*testing.T) []imagegentest.Reply {
				return []imagegentest.Reply{imagegentest.RateLimited("1")}
			},
			status: "succeeded", attempts: 2, calls: 2,
		},
		{
			name: "429 on every attempt: fails after the bounded attempts, refunded",
			replies: func(*testing.T) []imagegentest.Reply {
				r := imagegentest.RateLimited("1")
				return []imagegentest.Reply{r, r, r}
			},
			status: "failed", code: "upstream_rate_limited", attempts: 3, calls: 3,
		},
		{
			name: "a hang past the job timeout, then success",
			vars: map[string]string{"JOB_TIMEOUT": "30s"},
			replies: func(*testing.T) []imagegentest.Reply {
				return []imagegentest.Reply{imagegentest.Hang()}
			},
			status: "succeeded", attempts: 2, calls: 2,
		},
		{
			name: "hangs on every attempt: fails with a timeout, refunded",
			vars: map[string]string{"JOB_TIMEOUT": "30s", "JOB_MAX_ATTEMPTS": "2"},
			replies: func(*testing.T) []imagegentest.Reply {
				return []imagegentest.Reply{imagegentest.Hang(), imagegentest.Hang()}
			},
			status: "failed", code: "upstream_timeout", attempts: 2, calls: 2,
		},
		{
			name: "content policy: fails at once, refunded",
			replies: func(*testing.T) []imagegentest.Reply {
				return []imagegentest.Reply{imagegentest.ContentPolicy()}
			},
			status: "failed", code: "content_policy", attempts: 1, calls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"OPENAI_TIMEOUT": "30s"}
			maps.Copy(vars, tt.vars)
			s := startFaultService(t, apptest.Options{Vars: vars})
			fake := s.OpenAI
			fake.Enqueue(tt.replies(t)...)
			token := s.Token(t, "model")
			id := s.Generate(t, token, "a lighthouse in a storm")
			if used := s.Me(t, token).Quota.UsedToday; used != 1 {
				t.Fatalf("after acceptance used_today = %d, want 1", used)
			}

			g := s.Wait(t, token, id, 120*time.Second)
			if g.Status != tt.status || g.Attempts != tt.attempts {
				t.Fatalf("generation %s after %d attempts, want %s after %d (error %+v)", g.Status, g.Attempts, tt.status, tt.attempts, g.Error)
			}
			if got := fake.Calls(); got != tt.calls {
				t.Errorf("the model got %d requests, want %d", got, tt.calls)
			}
			wantUsed, wantRefunded := 1, 0.0
			if tt.status == "failed" {
				if g.Error == nil || g.Error.Code != tt.code {
					t.Errorf("error %+v, want code %s", g.Error, tt.code)
				}
				if g.Wallpaper != nil {
					t.Errorf("a failed generation has a wallpaper: %+v", g.Wallpaper)
				}
				wantUsed, wantRefunded = 0, 1
			} else if g.Wallpaper == nil || g.Error != nil {
				t.Errorf("succeeded with wallpaper %+v and error %+v", g.Wallpaper, g.Error)
			}
			if used := s.Me(t, token).Quota.UsedToday; used != wantUsed {
				t.Errorf("used_today = %d, want %d", used, wantUsed)
			}
			var refunded bool
			if err := s.Pool.QueryRow(context.Background(), `SELECT refunded FROM generations WHERE id = $1`, id).Scan(&refunded); err != nil {
				t.Fatal(err)
			}
			if refunded != (tt.status == "failed") {
				t.Errorf("generations.refunded = %v", refunded)
			}
			if got := s.Metric(t, quotaSpent); got != 1 {
				t.Errorf("quota spent metric = %v, want 1", got)
			}
			if got := s.Metric(t, quotaRefunded); got != wantRefunded {
				t.Errorf("quota refunded metric = %v, want %v", got, wantRefunded)
			}
			// The job metrics (from River's events, delivered a moment
			// later): each failed attempt retried, then how it ended.
			end := "completed"
			if tt.status == "failed" {
				end = "cancelled" // a generation failed for good is never retried
			}
			jobs := func(outcome string) float64 {
				return s.Metric(t, `wallpaperd_jobs_total{kind="generate_wallpaper",outcome="`+outcome+`"}`)
			}
			apptest.WaitFor(t, 30*time.Second, "the job metrics", func() bool {
				return jobs(end) == 1 && jobs("retryable") == float64(tt.attempts-1)
			}, func() string {
				return fmt.Sprintf("completed %v, cancelled %v, retryable %v", jobs("completed"), jobs("cancelled"), jobs("retryable"))
			})
			if got := s.Metric(t, `wallpaperd_dependency_calls_total{dependency="image_model",operation="generate",outcome="ok"}`); got != float64(boolInt(tt.status == "succeeded")) {
				t.Errorf("image model ok calls = %v", got)
			}
		})
	}
}

// TestFaultStorage: with the S3 server down, jobs fail at storing and are
// retried; once it is back they succeed, and every wallpaper's image and
// thumbnail exist in the bucket.
func TestFaultStorage(t *testing.T) {
	t.Parallel()
	s := startFaultService(t, apptest.Options{S3: true, Vars: map[string]string{
		"JOB_MAX_ATTEMPTS": "10", "JOB_RETRY_BASE": "100ms", "WORKERS": "2",
	}})
	gw := s.S3
	token := s.Token(t, "storage")

	// One generation stored while S3 is up, then S3 goes away.
	before := s.Generate(t, token, "before the outage")
	if g := s.Wait(t, token, before, 120*time.Second); g.Status != "succeeded" {
		t.Fatalf("with S3 up: %s %+v", g.Status, g.Error)
	}
	gw.Stop()
	const n = 4
	ids := []string{before}
	for i := range n {
		ids = append(ids, s.Generate(t, token, fmt.Sprintf("during the outage %d", i)))
	}
	// Every first attempt meets the dead server; wait until they all have.
	apptest.WaitFor(t, 120*time.Second, "the jobs to fail at storing", func() bool {
		return s.Metric(t, `wallpaperd_dependency_calls_total{dependency="storage",operation="put",outcome="unavailable"}`) >= n
	}, func() string {
		rec := httptest.NewRecorder()
		s.App.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		var out []string
		for _, l := range strings.Split(rec.Body.String(), "\n") {
			if strings.Contains(l, "storage") && strings.Contains(l, "calls_total") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "; ")
	})
	gw.Restart(t)

	for _, id := range ids {
		if g := s.Wait(t, token, id, 120*time.Second); g.Status != "succeeded" {
			t.Errorf("generation %s: %s %+v", id, g.Status, g.Error)
		}
	}
	if used := s.Me(t, token).Quota.UsedToday; used != len(ids) {
		t.Errorf("used_today = %d, want %d", used, len(ids))
	}
	// Once the image check has passed them and the storage sync has
	// published them, nothing references a missing object.
	apptest.WaitFor(t, 120*time.Second, "every wallpaper to be published", func() bool {
		var unsettled int
		err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM wallpapers WHERE NOT visible`).Scan(&unsettled)
		return err == nil && unsettled == 0
	})
	rows, err := s.Pool.Query(context.Background(), `SELECT image_key, thumbnail_key, master_key FROM wallpapers`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]string, error) {
		var k [3]string
		err := r.Scan(&k[0], &k[1], &k[2])
		return k, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(ids) {
		t.Fatalf("%d wallpapers, want %d", len(keys), len(ids))
	}
	for _, pair := range keys {
		for _, key := range pair {
			if !gw.Exists(t, key) {
				t.Errorf("wallpaper object %s is missing", key)
			}
		}
	}
}

// TestFaultDatabase: the service's Postgres connections are terminated
// again and again under traffic. Requests answer 503 (never 500) while it
// happens, the service recovers by itself, and no accepted generation is
// lost: every one ends succeeded, with the quota exact.
func TestFaultDatabase(t *testing.T) {
	t.Parallel()
	s := startFaultService(t, apptest.Options{Vars: map[string]string{
		"JOB_MAX_ATTEMPTS": "10", "JOB_RETRY_BASE": "100ms", "WORKERS": "2",
	}})
	dbName := databaseName(t, s.Config.DatabaseURL.Reveal())
	users := []string{"db-a", "db-b", "db-c"}
	tokens := map[string]string{}
	for _, u := range users {
		tokens[u] = s.Token(t, u)
	}

	admin, err := pgx.Connect(context.Background(), pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		accepted = map[string][]string{} // user → generation ids answered 202
	)
	record := func(status int, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		statuses[status]++
		if status >= 500 {
			var e httpapi.ErrorBody
			if err := json.Unmarshal(body, &e); err != nil || status != http.StatusServiceUnavailable || e.Code != "unavailable" {
				t.Errorf("%d %s during the outage; want 503 unavailable", status, body)
			}
		}
	}
	ctx, stopTraffic := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				status, body := do(s.App.Handler, http.MethodGet, "/api/v1/me", tokens[u], "")
				record(status, body)
				status, body = do(s.App.Handler, http.MethodGet, "/api/v1/wallpapers?limit=5", "", "")
				record(status, body)
				if i < 3 {
					status, body = do(s.App.Handler, http.MethodPost, "/api/v1/generations", tokens[u], fmt.Sprintf(`{"prompt":"under fire %d","size":"1024x1024"}`, i))
					record(status, body)
					if status == http.StatusAccepted {
						var g httpapi.Generation
						if err := json.Unmarshal(body, &g); err != nil {
							t.Error(err)
						}
						mu.Lock()
						accepted[u] = append(accepted[u], g.ID)
						mu.Unlock()
					}
				}
			}
		}()
	}
	// Terminate every connection of the service, five times over.
	var killed int
	for range 5 {
		time.Sleep(300 * time.Millisecond)
		var n int
		err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = 'wallpaperd' AND pid <> pg_backend_pid()`, dbName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		killed += n
	}
	time.Sleep(300 * time.Millisecond)
	stopTraffic()
	wg.Wait()
	t.Logf("terminated %d connections; answers during the outage: %v", killed, statuses)
	if killed == 0 {
		t.Fatal("no connection of the service was terminated: the test tested nothing")
	}

	// The service recovers by itself: requests succeed again.
	apptest.WaitFor(t, 30*time.Second, "GET /me to answer 200 again", func() bool {
		status, _ := do(s.App.Handler, http.MethodGet, "/api/v1/me", tokens["db-a"], "")
		return status == http.StatusOK
	})
	// No accepted generation is lost, and the quota matches what exists:
	// a request whose commit raced a terminated connection may have
	// answered 503 after committing, so the database is the reference.
	for _, u := range users {
		for _, id := range accepted[u] {
			apptest.WaitFor(t, 120*time.Second, "generation "+id+" to finish", func() bool {
				var status string
				if err := s.Pool.QueryRow(context.Background(), `SELECT status FROM generations WHERE id = $1`, id).Scan(&status); err != nil {
					// A pooled connection the outage killed fails once; the
					// pool replaces it. Only an answer counts.
					return false
				}
				if status == "queued" || status == "running" {
					return false
				}
				if status != "succeeded" {
					t.Errorf("accepted generation %s ended %s", id, status)
				}
				return true
			}, func() string { return riverJobs(t, s.Pool, id) })
		}
		var total, unfinished int
		err := s.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE g.status <> 'succeeded')
			FROM generations g JOIN users u ON u.id = g.user_id WHERE u.openid = $1`, "dev:"+u).Scan(&total, &unfinished)
		if err != nil {
			t.Fatal(err)
		}
		apptest.WaitFor(t, 120*time.Second, "every generation of "+u+" to succeed", func() bool {
			_ = s.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE g.status <> 'succeeded')
				FROM generations g JOIN users u ON u.id = g.user_id WHERE u.openid = $1`, "dev:"+u).Scan(&unfinished)
			return unfinished == 0
		})
		if total < len(accepted[u]) {
			t.Errorf("%s: %d generations stored, %d accepted", u, total, len(accepted[u]))
		}
		if used := s.Me(t, tokens[u]).Quota.UsedToday; used != total {
			t.Errorf("%s: used_today = %d, %d generations stored", u, used, total)
		}
	}
}

// do sends one request to h and returns the status and body.
func do(h http.Handler, method, path, token, body string) (int, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func databaseName(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// riverJobs describes the River jobs of a generation, for a failure
// message.
func riverJobs(t *testing.T, pool *pgxpool.Pool, generationID string) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, state, attempt, max_attempts, attempted_at, scheduled_at, errors::text
		FROM river_job WHERE args->>'generation_id' = $1`, generationID)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var state string
		var attempt, maxAttempts int
		var attemptedAt, scheduledAt *time.Time
		var errs *string
		if err := rows.Scan(&id, &state, &attempt, &maxAttempts, &attemptedAt, &scheduledAt, &errs); err != nil {
			return err.Error()
		}
		out = append(out, fmt.Sprintf("job %d %s attempt %d/%d attempted %v scheduled %v errors %v", id, state, attempt, maxAttempts, attemptedAt, scheduledAt, errs))
	}
	return "river: " + strings.Join(out, " | ") + " (now " + time.Now().UTC().String() + ")"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
