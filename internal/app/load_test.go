//go:build load

package app_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
)

// The load's size: make test runs it small, make bench large.
var (
	loadUsers       = flag.Int("load.users", 8, "simulated users")
	loadGenerations = flag.Int("load.generations", 2, "generations each user submits (their daily quota)")
	loadBrowse      = flag.Int("load.browse", 5, "feed pages each user reads per round")
	loadHeapMiB     = flag.Int("load.heap-mib", 512, "ceiling for the heap in use during the run, MiB")
	loadReport      = flag.String("load.report", "", "file to write the results to (markdown)")
	loadLabel       = flag.String("load.label", "", "how the run was built, for the report (e.g. -race)")
)

// modelLatency is what the fake image API takes per image: real models
// take 10-60 s, scaled down so the run stays short while requests still
// overlap.
const (
	modelMinLatency = 200 * time.Millisecond
	modelMaxLatency = 800 * time.Millisecond
)

// latencies records request durations by operation.
type latencies struct {
	mu  sync.Mutex
	ops map[string][]time.Duration
}

func (l *latencies) add(op string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ops == nil {
		l.ops = map[string][]time.Duration{}
	}
	l.ops[op] = append(l.ops[op], d)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// TestLoad: simulated users log in, browse the feed, submit generations
// against a fake image API with realistic latency and poll them until they
// finish, all at once over loopback. Afterwards every accepted generation
// is succeeded or failed with its unit refunded, every user's quota is
// exact, and no goroutine, database connection or heap has grown beyond
// its bound.
func TestLoad(t *testing.T) {
	users, perUser := *loadUsers, *loadGenerations
	fake := imagegentest.NewFakeOpenAI(t)
	// Some prompts are refused by the model: they must come back refunded.
	refusals := max(1, users/4)
	for range refusals {
		fake.Enqueue(imagegentest.ContentPolicy())
	}
	model := latencyProxy(t, fake)

	s := startFaultService(t, apptest.Options{Vars: map[string]string{
		// gpt-image-1 answers inline: no download connections to the fake.
		"OPENAI_API_KEY": imagegentest.APIKey, "OPENAI_BASE_URL": model + "/v1", "IMAGE_MODEL": "gpt-image-1",
		"DAILY_QUOTA": strconv.Itoa(perUser), "WORKERS": "8",
		"JOB_MAX_ATTEMPTS": "5", "JOB_RETRY_BASE": "100ms", "JOB_TIMEOUT": "60s",
		"LOGIN_RATE_PER_MINUTE": "100000",
	}})
	srv := httptest.NewServer(s.App.Handler)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: users}, Timeout: 60 * time.Second}

	dbName := databaseName(t, s.Config.DatabaseURL.Reveal())
	// Warm up (template statements, pool, workers), then take the
	// baseline the leaks are measured against.
	s.Token(t, "warmup")
	// River starts its maintenance goroutines once this client is elected
	// leader; its first periodic sweep having run says it is.
	apptest.WaitFor(t, 60*time.Second, "River to lead", func() bool {
		var n int
		_ = s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'sweep_generations' AND state = 'completed'`).Scan(&n)
		return n > 0
	})
	goroutinesBefore := settledGoroutines()
	connsBefore := backendCount(t, s, dbName)

	var (
		lat       latencies
		requests  atomic.Int64
		accepted  sync.Map // user → []string
		refused   atomic.Int64
		peakHeap  atomic.Uint64
		sampleCtx context.Context
		stop      context.CancelFunc
	)
	sampleCtx, stop = context.WithCancel(context.Background())
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		for sampleCtx.Err() == nil {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	call := func(op, method, path, token, body string, out any) int {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s: %v", op, err)
			return 0
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat.add(op, time.Since(start))
		requests.Add(1)
		if err != nil {
			t.Errorf("%s: %v", op, err)
		}
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		if out != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal(data, out); err != nil {
				t.Errorf("%s: %v", op, err)
			}
		}
		return resp.StatusCode
	}
	browse := func(token string) {
		path := "/api/v1/wallpapers?limit=20"
		for range *loadBrowse {
			var page struct {
				NextCursor *string `json:"next_cursor"`
			}
			if call("feed", http.MethodGet, path, token, "", &page) != http.StatusOK || page.NextCursor == nil {
				path = "/api/v1/wallpapers?limit=20"
				continue
			}
			path = "/api/v1/wallpapers?limit=20&cursor=" + url.QueryEscape(*page.NextCursor)
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			name := fmt.Sprintf("load%d", u)
			var sess httpapi.Session
			if st := call("login", http.MethodPost, "/api/v1/auth/login", "", `{"code":"dev-`+name+`"}`, &sess); st != http.StatusOK {
				t.Errorf("login %s: %d", name, st)
				return
			}
			token := sess.AccessToken
			browse("")
			var ids []string
			// One more than the quota: the last must be refused with 429.
			for i := range perUser + 1 {
				var g httpapi.Generation
				st := call("submit", http.MethodPost, "/api/v1/generations", token,
					fmt.Sprintf(`{"prompt":"load test %s %d","size":"1024x1024"}`, name, i), &g)
				switch st {
				case http.StatusAccepted:
					ids = append(ids, g.ID)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("submit %s %d: %d", name, i, st)
				}
			}
			accepted.Store(name, ids)
			for _, id := range ids {
				deadline := time.Now().Add(5 * time.Minute)
				for wait := 100 * time.Millisecond; ; wait = min(wait*2, time.Second) {
					var g httpapi.Generation
					if call("poll", http.MethodGet, "/api/v1/generations/"+id, token, "", &g) == http.StatusOK &&
						(g.Status == "succeeded" || g.Status == "failed") {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("generation %s unfinished after 5 minutes", id)
						break
					}
					time.Sleep(wait)
				}
			}
			browse(token)
			call("me", http.MethodGet, "/api/v1/me", token, "", nil)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	sampler.Wait()

	// Every accepted generation finished, succeeded or refunded; the
	// quota of every user is exactly their non-refunded generations.
	total := 0
	accepted.Range(func(k, v any) bool {
		name, ids := k.(string), v.([]string)
		total += len(ids)
		if len(ids) != perUser {
			t.Errorf("%s: %d accepted, want %d (the quota)", name, len(ids), perUser)
		}
		var succeeded, refundedFailed, other, kept int
		err := s.Pool.QueryRow(context.Background(), `SELECT
			count(*) FILTER (WHERE g.status = 'succeeded' AND NOT g.refunded),
			count(*) FILTER (WHERE g.status = 'failed' AND g.refunded),
			count(*) FILTER (WHERE g.status NOT IN ('succeeded', 'failed') OR (g.status = 'failed') <> g.refunded),
			count(*) FILTER (WHERE NOT g.refunded)
			FROM generations g JOIN users u ON u.id = g.user_id WHERE u.openid = $1`, "dev:"+name).Scan(&succeeded, &refundedFailed, &other, &kept)
		if err != nil {
			t.Fatal(err)
		}
		if other != 0 || succeeded+refundedFailed != len(ids) {
			t.Errorf("%s: %d succeeded, %d failed and refunded, %d otherwise, of %d accepted", name, succeeded, refundedFailed, other, len(ids))
		}
		var used int
		if err := s.Pool.QueryRow(context.Background(), `SELECT COALESCE(sum(q.used), 0) FROM quota_usage q
			JOIN users u ON u.id = q.user_id WHERE u.openid = $1`, "dev:"+name).Scan(&used); err != nil {
			t.Fatal(err)
		}
		if used != kept {
			t.Errorf("%s: used_today %d, non-refunded generations %d", name, used, kept)
		}
		return true
	})
	if got := int(refused.Load()); got != users {
		t.Errorf("%d submissions over the quota refused, want %d", got, users)
	}
	var failed int
	_ = s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM generations WHERE status = 'failed'`).Scan(&failed)
	if failed != refusals {
		t.Errorf("%d generations failed, want the %d the model refused", failed, refusals)
	}

	// No leaks: goroutines and database connections settle back to the
	// baseline once the clients' idle connections are closed.
	client.CloseIdleConnections()
	srv.CloseClientConnections()
	var goroutinesAfter, connsAfter int
	apptest.WaitFor(t, 30*time.Second, "goroutines and connections to settle", func() bool {
		runtime.GC()
		goroutinesAfter = runtime.NumGoroutine()
		connsAfter = backendCount(t, s, dbName)
		// The pool keeps idle connections (up to its 20) for their idle
		// time; two more live outside it (River's listener and the
		// replica identity's lock); more backends than that, or any still
		// acquired, is a leak.
		return goroutinesAfter <= goroutinesBefore+5 && connsAfter <= int(s.Pool.Stat().TotalConns())+2 &&
			connsAfter <= 22 && s.Pool.Stat().AcquiredConns() == 0
	}, func() string {
		var dump strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
		return fmt.Sprintf("%s\ngoroutines %d → %d, backends %d → %d, acquired %d", dump.String(),
			goroutinesBefore, goroutinesAfter, connsBefore, connsAfter, s.Pool.Stat().AcquiredConns())
	})
	if peak := peakHeap.Load(); peak > uint64(*loadHeapMiB)<<20 {
		t.Errorf("heap in use peaked at %d MiB, ceiling %d MiB", peak>>20, *loadHeapMiB)
	}

	// The figures.
	var b strings.Builder
	fmt.Fprintf(&b, "users %d, generations %d (%d refused by the model, %d over quota), model latency %v-%v %s\n",
		users, total, refusals, refused.Load(), modelMinLatency, modelMaxLatency, *loadLabel)
	fmt.Fprintf(&b, "wall time %.1fs, %d requests, %.0f requests/s, %.2f generations/s\n",
		elapsed.Seconds(), requests.Load(), float64(requests.Load())/elapsed.Seconds(), float64(total)/elapsed.Seconds())
	fmt.Fprintf(&b, "heap in use peak %d MiB; goroutines %d → %d; Postgres backends %d → %d\n\n",
		peakHeap.Load()>>20, goroutinesBefore, goroutinesAfter, connsBefore, connsAfter)
	fmt.Fprintf(&b, "| operation | requests | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|\n")
	for _, op := range []string{"login", "feed", "submit", "poll", "me"} {
		d := slices.Clone(lat.ops[op])
		slices.Sort(d)
		if len(d) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %v | %v | %v | %v |\n", op, len(d),
			percentile(d, .5).Round(100*time.Microsecond), percentile(d, .9).Round(100*time.Microsecond),
			percentile(d, .99).Round(100*time.Microsecond), d[len(d)-1].Round(100*time.Microsecond))
	}
	t.Logf("load test:\n%s", b.String())
	if *loadReport != "" {
		if err := os.WriteFile(*loadReport, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// latencyProxy puts a random 200-800 ms in front of every image request to
// the fake.
func latencyProxy(t *testing.T, fake *imagegentest.Fake) string {
	t.Helper()
	target, err := url.Parse(strings.TrimSuffix(fake.BaseURL(), "/v1"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	// No connection outlives its image: idle keep-alive connections would
	// read as leaked goroutines at the end.
	proxy.Transport = &http.Transport{DisableKeepAlives: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		d := modelMinLatency + rand.N(modelMaxLatency-modelMinLatency)
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// backendCount is the number of Postgres backends of the service's
// database.
func backendCount(t *testing.T, s *apptest.Service, dbName string) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, dbName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// settledGoroutines is the goroutine count once it holds still for a
// second (or after ten).
func settledGoroutines() int {
	last, same := -1, 0
	for range 100 {
		runtime.GC()
		n := runtime.NumGoroutine()
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		if same == 10 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}
