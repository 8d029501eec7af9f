//go:build replicas

package main

// The replica test (make test-replicas): three wallpaperd processes on one
// Postgres and one S3 server behind the nginx site of deploy/, with an
// upstream of three. Users log in, submit, like and read the feed through
// nginx while one replica is killed (SIGKILL) in the middle of its jobs.
// It takes about a minute per variant; it is kept small (three users, nine
// generations) because it runs in make test.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/storage/storagetest"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
	"github.com/wallpaperd/wallpaperd/internal/tlscert/tlscerttest"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

const (
	replicaUsers = 3
	// What the fake image model takes per image: long enough that a
	// replica is killed while it waits for one.
	replicaModelLatency = 4 * time.Second
	// The generations to finish this long after the kill (or the restart):
	// REPLICA_DEAD_AFTER is 3s here, its default 30s.
	replicaRecoveryWithin = 60 * time.Second
)

// TestReplicas: every accepted generation finishes exactly once, quota
// and like counts are exact, nothing but the requests in flight on the
// killed replica fails, and the survivors' feeds agree. JOB_RESCUE_AFTER is
// an hour: River's rescuer never acts, the replicas' own reclaiming does.
//
//   - survivors: the killed replica stays dead; the others take its jobs
//     once its heartbeat is REPLICA_DEAD_AFTER (3s) old.
//   - restart: the killed replica comes back under the same REPLICA_ID
//     (the others would wait ten minutes): its orphaned jobs finish within
//     a minute of its restart.
func TestReplicas(t *testing.T) {
	nginx := testenv.Program(t, "nginx", "REQUIRE_NGINX", "/usr/sbin/nginx")
	for _, variant := range []string{"survivors", "restart"} {
		t.Run(variant, func(t *testing.T) { runReplicas(t, nginx, variant == "restart") })
	}
}

// replicaCluster is the three processes, nginx in front, and the database
// behind.
type replicaCluster struct {
	t      *testing.T
	env    func(id string) map[string]string
	ids    []string
	procs  map[string]*apptest.Process
	https  string
	client *http.Client
	pool   *pgxpool.Pool
	s3     *storagetest.Server
	model  *imagegentest.Fake
	calls  callLog
	// The kill was sent at killAt and the process was gone at killedAt.
	killAt, killedAt time.Time
	victim           string
	restarted        bool
	settled          time.Duration
}

func runReplicas(t *testing.T, nginx string, restart bool) {
	began := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(began).Seconds(), what) }
	c := &replicaCluster{t: t, procs: map[string]*apptest.Process{}, ids: []string{"replica-1", "replica-2", "replica-3"}}
	c.s3 = storagetest.Start(t)
	c.model = imagegentest.NewFakeOpenAI(t)
	c.model.SetLatency(replicaModelLatency)
	dbURL := pgtest.NewURL(t)
	var err error
	if c.pool, err = pgxpool.New(context.Background(), dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.pool.Close)
	deadAfter := "3s"
	if d := os.Getenv("REPLICA_DEAD_AFTER"); d != "" {
		deadAfter = d // to measure the default (docs/benchmarks.md)
	}
	if restart {
		deadAfter = "10m" // the survivors must not get there first
	}
	addrs := map[string]string{}
	for _, id := range c.ids {
		addrs[id] = testenv.FreeAddr(t) // fixed: a restarted replica is where nginx expects it
	}
	s3cfg := c.s3.Config
	c.env = func(id string) map[string]string {
		e := map[string]string{
			"DATABASE_URL": dbURL, "HTTP_ADDR": addrs[id], "REPLICA_ID": id,
			"REPLICA_DEAD_AFTER": deadAfter, "JOB_RESCUE_AFTER": "1h", "WORKERS": "2",
			"TRUSTED_PROXIES": "127.0.0.1", "LOGIN_RATE_PER_MINUTE": "1000",
			"S3_BUCKET": s3cfg.Bucket, "S3_REGION": s3cfg.Region, "S3_ENDPOINT": s3cfg.Endpoint, "S3_FORCE_PATH_STYLE": "true",
			"S3_ACCESS_KEY_ID": s3cfg.AccessKeyID, "S3_SECRET_ACCESS_KEY": s3cfg.SecretAccessKey,
			"OPENAI_API_KEY": imagegentest.APIKey, "OPENAI_BASE_URL": c.model.BaseURL(), "IMAGE_FETCH_ALLOW_PRIVATE": "true",
		}
		if ttl := os.Getenv("FEED_CACHE_TTL"); ttl != "" {
			e["FEED_CACHE_TTL"] = ttl
		}
		return e
	}
	for _, id := range c.ids {
		c.procs[id] = apptest.Start(t, c.env(id))
	}
	phase("three replicas serve")
	pair := tlscerttest.Write(t, t.TempDir(), 1)
	upstream := addrs["replica-1"] + "; server " + addrs["replica-2"] + "; server " + addrs["replica-3"]
	c.https, _ = startNginx(t, nginx, upstream, pair)
	c.client = clientFrom(t, "127.0.0.1", pair)
	c.settled = 2 * time.Second
	if ttl, err := time.ParseDuration(os.Getenv("FEED_CACHE_TTL")); err == nil && 2*ttl > c.settled {
		c.settled = 2 * ttl
	}

	// Round one: a wallpaper per user, finished, for the likes.
	tokens := make([]string, replicaUsers)
	for u := range tokens {
		tokens[u] = c.login(fmt.Sprintf("user%d", u))
	}
	var gens []string
	owner := map[string]int{}
	submit := func(u int) {
		id := c.submit(tokens[u], fmt.Sprintf("a lighthouse, user %d, take %d", u, len(gens)))
		gens = append(gens, id)
		owner[id] = u
	}
	for u := range tokens {
		submit(u)
	}
	c.waitGenerations(tokens, gens, owner, 90*time.Second)
	likeable := c.visibleWallpapers(len(gens))
	phase("round one painted and public")

	// Round two: two more each, while everyone likes, unlikes and reads;
	// one replica is killed holding a job.
	for u := range tokens {
		submit(u)
		submit(u)
	}
	traffic := c.startTraffic(tokens, likeable)
	c.victim = c.killHolder()
	recoveredFrom := time.Now()
	if restart {
		// Back after a moment, under the same REPLICA_ID.
		time.Sleep(time.Second)
		recoveredFrom = time.Now()
		c.procs[c.victim] = apptest.Start(t, c.env(c.victim))
		c.restarted = true
		phase("the killed replica serves again")
	}
	time.Sleep(2 * time.Second) // some traffic after the kill
	liked := traffic.stop()

	c.waitGenerations(tokens, gens, owner, replicaRecoveryWithin)
	t.Logf("%s: %s killed at a job; every generation finished %s after the %s",
		map[bool]string{false: "survivors", true: "restart"}[restart], c.victim,
		time.Since(recoveredFrom).Round(time.Millisecond), map[bool]string{false: "kill", true: "restart (starting the process included)"}[restart])

	phase("round two painted")
	c.checkJobs(gens, restart)
	c.checkWallpapersAndQuota(tokens, gens, owner)
	c.checkLikes(tokens, likeable, liked)
	c.checkStatuses()
	c.visibleWallpapers(len(gens))
	c.checkFeedsAgree()
	phase("checked")
}

// callLog is every request sent through nginx, with its timing.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	method, path string
	status       int // 0: no answer
	start, end   time.Time
}

func (l *callLog) add(c call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// do sends a request through nginx and decodes a 2xx answer into out; it
// returns the status (0 when no answer came).
func (c *replicaCluster) do(method, path, token string, body, out any) int {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.https+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.client.Do(req)
	cl := call{method: method, path: path, start: start}
	if err == nil {
		var data []byte
		data, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		cl.status = resp.StatusCode
		if err == nil && out != nil && resp.StatusCode < 300 {
			err = json.Unmarshal(data, out)
		}
	}
	cl.end = time.Now()
	c.calls.add(cl)
	if err != nil {
		c.t.Logf("%s %s: %v", method, path, err)
	}
	return cl.status
}

func (c *replicaCluster) login(name string) string {
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if st := c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"code": "dev-" + name}, &s); st != http.StatusOK {
		c.t.Fatalf("login %s: %d", name, st)
	}
	return s.AccessToken
}

func (c *replicaCluster) submit(token, prompt string) string {
	var g httpapi.Generation
	if st := c.do(http.MethodPost, "/api/v1/generations", token, map[string]any{"prompt": prompt, "size": "1024x1024"}, &g); st != http.StatusAccepted {
		c.t.Fatalf("submitting: %d", st)
	}
	return g.ID
}

// waitGenerations polls every generation through nginx until it
// succeeded; a failed one fails the test.
func (c *replicaCluster) waitGenerations(tokens []string, gens []string, owner map[string]int, within time.Duration) {
	c.t.Helper()
	pending := slices.Clone(gens)
	apptest.WaitFor(c.t, within, "every generation to succeed", func() bool {
		left := pending[:0]
		for _, id := range pending {
			var g httpapi.Generation
			if st := c.do(http.MethodGet, "/api/v1/generations/"+id, tokens[owner[id]], nil, &g); st != http.StatusOK || g.Status != "succeeded" {
				if g.Status == "failed" {
					c.t.Fatalf("generation %s failed: %+v", id, g.Error)
				}
				left = append(left, id)
			}
		}
		pending = left
		return len(pending) == 0
	}, func() string { return fmt.Sprintf("still pending: %v", pending) })
}

// visibleWallpapers waits until n wallpapers are in the public feed (their
// image check done) and returns their ids.
func (c *replicaCluster) visibleWallpapers(n int) []string {
	c.t.Helper()
	var ids []string
	apptest.WaitFor(c.t, 60*time.Second, "the wallpapers to be public", func() bool {
		var page httpapi.WallpaperPage
		if c.do(http.MethodGet, "/api/v1/wallpapers?limit=50", "", nil, &page) != http.StatusOK {
			return false
		}
		ids = ids[:0]
		for _, w := range page.Items {
			ids = append(ids, w.ID)
		}
		return len(ids) >= n
	})
	return ids
}

// traffic is users liking, unliking and reading through nginx until
// stopped; it remembers each user's last known like of each wallpaper.
type traffic struct {
	stopCh chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	liked  map[[2]int]bool // (user, wallpaper) → liked, as last answered
	fix    func() map[[2]int]bool
}

func (c *replicaCluster) startTraffic(tokens []string, wallpapers []string) *traffic {
	tr := &traffic{stopCh: make(chan struct{}), liked: map[[2]int]bool{}}
	unknown := map[[2]int]bool{} // a like whose answer was lost
	for u := range tokens {
		tr.done.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-tr.stopCh:
					return
				default:
				}
				w := i % len(wallpapers)
				key := [2]int{u, w}
				tr.mu.Lock()
				want := !tr.liked[key]
				tr.mu.Unlock()
				method := map[bool]string{true: http.MethodPut, false: http.MethodDelete}[want]
				var st httpapi.LikeState
				status := c.do(method, "/api/v1/wallpapers/"+wallpapers[w]+"/like", tokens[u], nil, &st)
				tr.mu.Lock()
				if status == http.StatusOK {
					tr.liked[key] = st.Liked
					delete(unknown, key)
				} else {
					unknown[key] = want
				}
				tr.mu.Unlock()
				c.do(http.MethodGet, "/api/v1/wallpapers?limit=20", "", nil, nil)
				c.do(http.MethodGet, "/api/v1/me", tokens[u], nil, nil)
				if i%5 == 0 {
					c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"code": fmt.Sprintf("dev-user%d", u)}, nil)
				}
				// Under LIKE_RATE_PER_MINUTE (120 per replica).
				time.Sleep(300 * time.Millisecond)
			}
		})
	}
	// A like whose answer was lost is set once more, so that the expected
	// state is known.
	tr.fix = func() map[[2]int]bool {
		for key, want := range unknown {
			method := map[bool]string{true: http.MethodPut, false: http.MethodDelete}[want]
			var st httpapi.LikeState
			if status := c.do(method, "/api/v1/wallpapers/"+wallpapers[key[1]]+"/like", tokens[key[0]], nil, &st); status != http.StatusOK {
				c.t.Fatalf("setting a like again: %d", status)
			}
			tr.liked[key] = st.Liked
		}
		return tr.liked
	}
	return tr
}

func (tr *traffic) stop() map[[2]int]bool {
	close(tr.stopCh)
	tr.done.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.fix()
}

// killHolder waits until some replica runs a generation job and kills it.
func (c *replicaCluster) killHolder() string {
	c.t.Helper()
	var victim string
	apptest.WaitFor(c.t, 60*time.Second, "a replica to run a generation", func() bool {
		err := c.pool.QueryRow(context.Background(), `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
			WHERE kind = $1 AND state = 'running' ORDER BY attempted_at LIMIT 1`, worker.GenerateKind).Scan(&victim)
		return err == nil
	})
	c.killAt = time.Now()
	c.procs[victim].Kill()
	c.killedAt = time.Now()
	c.t.Logf("killed %s while it ran a generation", victim)
	return victim
}

// checkJobs: a job that ran twice ran first on the killed replica and
// again only after it was dead (reclaimed after the kill, by the restarted
// replica in the restart variant); River's rescuer never acted.
func (c *replicaCluster) checkJobs(gens []string, restart bool) {
	c.t.Helper()
	rows, err := c.pool.Query(context.Background(), `SELECT args ->> 'generation_id', state::text, attempted_by,
			ARRAY(SELECT e ->> 'error' FROM unnest(errors) e), ARRAY(SELECT (e ->> 'at')::timestamptz FROM unnest(errors) e)
		FROM river_job WHERE kind = $1`, worker.GenerateKind)
	if err != nil {
		c.t.Fatal(err)
	}
	type jobRow struct {
		gen, state  string
		attemptedBy []string
		errs        []string
		errAt       []time.Time
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (j jobRow, err error) {
		err = r.Scan(&j.gen, &j.state, &j.attemptedBy, &j.errs, &j.errAt)
		return j, err
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if len(jobs) != len(gens) {
		c.t.Errorf("%d generation jobs for %d generations", len(jobs), len(gens))
	}
	reclaimed := 0
	var after time.Duration
	for _, j := range jobs {
		if len(j.attemptedBy) == 1 {
			continue
		}
		reclaimed++
		if len(j.errAt) > 0 {
			after = max(after, j.errAt[0].Sub(c.killedAt))
		}
		why := "stopped beating"
		if restart {
			why = "restarted"
		}
		if len(j.attemptedBy) != 2 || j.attemptedBy[0] != c.victim || len(j.errs) != 1 || !strings.Contains(j.errs[0], why) ||
			j.errAt[0].Before(c.killAt) {
			c.t.Errorf("job of %s: attempted by %v, errors %v at %v; want the killed %s's attempt ended after the kill (%s) with %q",
				j.gen, j.attemptedBy, j.errs, j.errAt, c.victim, c.killAt.Format(time.StampMilli), why)
		}
		if restart && j.attemptedBy[1] != c.victim {
			c.t.Errorf("job of %s: run again by %s, want the restarted %s", j.gen, j.attemptedBy[1], c.victim)
		}
	}
	if reclaimed == 0 {
		c.t.Errorf("no job was run again after %s was killed holding one", c.victim)
	}
	c.t.Logf("%d of %d generation jobs were reclaimed from %s, the last %s after it died", reclaimed, len(jobs), c.victim, after.Round(time.Millisecond))
	if restart {
		c.t.Logf("(the restart was started 1s after the kill)")
	}
}

// checkWallpapersAndQuota: one wallpaper per generation, with one
// attempt's objects in storage, and each user charged exactly their
// generations.
func (c *replicaCluster) checkWallpapersAndQuota(tokens []string, gens []string, owner map[string]int) {
	c.t.Helper()
	ctx := context.Background()
	for _, id := range gens {
		var n int
		var imageKey string
		if err := c.pool.QueryRow(ctx, `SELECT count(*), COALESCE(min(image_key), '') FROM wallpapers WHERE generation_id = $1`, id).Scan(&n, &imageKey); err != nil {
			c.t.Fatal(err)
		}
		if n != 1 {
			c.t.Errorf("generation %s has %d wallpapers", id, n)
			continue
		}
		// Whatever an interrupted attempt stored is deleted once another
		// succeeds: one attempt's objects remain.
		_, rest, _ := strings.Cut(imageKey, "/w/"+id+"/")
		attempt, _, _ := strings.Cut(rest, "/")
		apptest.WaitFor(c.t, 30*time.Second, "one attempt's objects per generation", func() bool {
			for _, prefix := range []string{"private/w/" + id + "/", "public/w/" + id + "/"} {
				out, err := c.s3.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &c.s3.Config.Bucket, Prefix: &prefix})
				if err != nil {
					return false
				}
				for _, o := range out.Contents {
					if !strings.HasPrefix(*o.Key, prefix+attempt+"/") {
						return false
					}
				}
			}
			return true
		}, func() string { return "generation " + id + ", recorded " + imageKey })
	}
	want := make([]int, len(tokens))
	for _, id := range gens {
		want[owner[id]]++
	}
	for u, token := range tokens {
		var me httpapi.Me
		if st := c.do(http.MethodGet, "/api/v1/me", token, nil, &me); st != http.StatusOK || me.Quota.UsedToday != want[u] {
			c.t.Errorf("user%d: quota used %d (%d), want %d", u, me.Quota.UsedToday, st, want[u])
		}
	}
}

// checkLikes: each wallpaper's count is the users whose last like stands.
func (c *replicaCluster) checkLikes(tokens []string, wallpapers []string, liked map[[2]int]bool) {
	c.t.Helper()
	for w, id := range wallpapers {
		want := 0
		for u := range tokens {
			if liked[[2]int{u, w}] {
				want++
			}
		}
		var got httpapi.Wallpaper
		if st := c.do(http.MethodGet, "/api/v1/wallpapers/"+id, "", nil, &got); st != http.StatusOK || got.LikeCount != want {
			c.t.Errorf("wallpaper %s: like_count %d (%d), want %d", id, got.LikeCount, st, want)
		}
		var rows int
		if err := c.pool.QueryRow(context.Background(), `SELECT count(*) FROM likes WHERE wallpaper_id = $1`, id).Scan(&rows); err != nil || rows != want {
			c.t.Errorf("wallpaper %s: %d likes rows (%v), want %d", id, rows, err, want)
		}
	}
}

// checkStatuses: no 5xx and no lost answer, except requests in flight on
// the killed replica when it died.
func (c *replicaCluster) checkStatuses() {
	c.t.Helper()
	c.calls.mu.Lock()
	defer c.calls.mu.Unlock()
	inFlight := 0
	for _, cl := range c.calls.calls {
		if cl.status != 0 && cl.status < 500 {
			continue
		}
		if !cl.start.After(c.killedAt) && !cl.end.Before(c.killAt) {
			inFlight++
			continue
		}
		c.t.Errorf("%s %s answered %d (%s to %s; the kill at %s)", cl.method, cl.path, cl.status,
			cl.start.Format(time.StampMilli), cl.end.Format(time.StampMilli), c.killAt.Format(time.StampMilli))
	}
	c.t.Logf("%d requests through nginx, %d failed while in flight on the killed replica", len(c.calls.calls), inFlight)
}

// checkFeedsAgree: after the feed cache's time to live (FEED_CACHE_TTL
// when set) the surviving replicas serve the same public feed.
func (c *replicaCluster) checkFeedsAgree() {
	c.t.Helper()
	time.Sleep(c.settled)
	var first []string
	for _, id := range c.ids {
		p := c.procs[id]
		if id == c.victim && !c.restarted {
			continue
		}
		var page httpapi.WallpaperPage
		if st := p.Call(c.t, http.MethodGet, "/api/v1/wallpapers?limit=50", "", "", &page); st != http.StatusOK {
			c.t.Fatalf("%s feed: %d", id, st)
		}
		var ids []string
		for _, w := range page.Items {
			ids = append(ids, w.ID)
		}
		if first == nil {
			first = ids
			continue
		}
		if !slices.Equal(ids, first) {
			c.t.Errorf("%s's feed %v differs from another replica's %v %s after the last change", id, ids, first, c.settled)
		}
	}
}
