package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

// stats are one measured run.
type stats struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      time.Duration // the server's CPU time over the measured phase (HTTP only)
}

// cpuPerRequest is the server's CPU time per request.
func (s stats) cpuPerRequest() time.Duration {
	if s.requests == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.requests)
}

func (s stats) rps() float64 { return float64(s.requests) / s.elapsed.Seconds() }

// result is one scenario over HTTP and as raw SQL.
type result struct {
	name      string
	http, sql stats
}

// drive runs op from c goroutines for warmup (unmeasured), then for d,
// and returns the latencies. i numbers the calls, for cycling inputs.
// cpu, when not nil, reads the server's CPU time used so far.
func drive(ctx context.Context, c int, warmup, d time.Duration, cpu func() time.Duration, op func(ctx context.Context, i int) error) (stats, error) {
	var counter atomic.Int64
	phase := func(d time.Duration, record bool) (stats, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		lat := make([][]time.Duration, c)
		errs := make([]error, c)
		var wg sync.WaitGroup
		start := time.Now()
		end := start.Add(d)
		for g := range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, 4096)
				for time.Now().Before(end) {
					t0 := time.Now()
					if err := op(ctx, int(counter.Add(1))); err != nil {
						errs[g] = err
						cancel()
						return
					}
					if record {
						local = append(local, time.Since(t0))
					}
				}
				lat[g] = local
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		for _, err := range errs {
			if err != nil {
				return stats{}, err
			}
		}
		all := slices.Concat(lat...)
		if len(all) == 0 {
			return stats{elapsed: elapsed}, nil
		}
		slices.Sort(all)
		return stats{requests: len(all), elapsed: elapsed, p50: all[len(all)*50/100], p99: all[len(all)*99/100]}, nil
	}
	if _, err := phase(warmup, false); err != nil {
		return stats{}, err
	}
	if cpu == nil {
		return phase(d, true)
	}
	before := cpu()
	st, err := phase(d, true)
	st.cpu = cpu() - before
	return st, err
}

// client is the load generator's HTTP side: enough idle connections for
// every worker, no compression (loopback).
func newClient(c int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: 2 * c, MaxIdleConnsPerHost: 2 * c, DisableCompression: true,
			IdleConnTimeout: time.Minute,
		},
	}
}

func get(ctx context.Context, hc *http.Client, u, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return nil
}

// login logs in as the bench user with a dev code.
func login(ctx context.Context, hc *http.Client, base string) (string, error) {
	body := strings.NewReader(`{"code":"dev-` + strings.TrimPrefix(benchOpenID, "dev:") + `"}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/auth/login", body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var s struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login: %d %v", resp.StatusCode, err)
	}
	return s.AccessToken, nil
}

type feedPage struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// deepCursor walks the feed by pages of 50 until depth items are behind,
// as a client scrolling that far would, and returns the cursor there.
func deepCursor(ctx context.Context, hc *http.Client, base string, depth int) (string, error) {
	cursor := ""
	for seen := 0; seen < depth; {
		u := base + "/api/v1/wallpapers?limit=50"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		var p feedPage
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || p.NextCursor == nil {
			return "", fmt.Errorf("walking the feed at %d: %d %v", seen, resp.StatusCode, err)
		}
		seen += len(p.Items)
		cursor = *p.NextCursor
	}
	return cursor, nil
}

// sqlOp runs statements as the handler does, reading every row without
// decoding it: the database's side of the request and nothing else.
func sqlOp(pool *pgxpool.Pool, stmts ...func(i int) (string, []any)) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		for _, st := range stmts {
			sql, args := st(i)
			rows, err := pool.Query(ctx, sql, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				_ = rows.RawValues()
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	}
}

// measure runs every scenario, over HTTP and as raw SQL.
func measure(ctx context.Context, o options, db *benchDB, srv *server, fx *fixture, out io.Writer) ([]result, error) {
	hc := newClient(o.concurrency)
	token, err := login(ctx, hc, srv.base)
	if err != nil {
		return nil, err
	}
	depth := o.depth
	walkStart := time.Now()
	cursor, err := deepCursor(ctx, hc, srv.base, depth)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "walked %d items deep in pages of 50 in %v\n", depth, time.Since(walkStart).Round(100*time.Millisecond))
	var deepAt time.Time
	var deepID uuid.UUID
	if err := db.pool.QueryRow(ctx, `SELECT created_at, id FROM wallpapers WHERE public
		ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`, depth-1).Scan(&deepAt, &deepID); err != nil {
		return nil, err
	}
	// The page limit is 20 (the default); the store asks for one more to
	// know whether there is a next page.
	const limit = 20 + 1
	sqlPool, err := postgres.Open(ctx, db.url, postgres.PoolConfig{MaxConns: int32(o.concurrency)})
	if err != nil {
		return nil, err
	}
	defer sqlPool.Close()

	detailIDs := fx.details
	ownIDs, err := firstIDs(ctx, db.pool, postgres.ListSQL.MineFirst, limit-1, fx.benchUser)
	if err != nil {
		return nil, err
	}
	likedAmong := func(ids []uuid.UUID) func(int) (string, []any) {
		return func(int) (string, []any) { return postgres.ItemSQL.LikedAmong, []any{fx.benchUser, ids} }
	}
	scenarios := []struct {
		name string
		url  func(i int) string
		auth bool
		sql  []func(i int) (string, []any)
	}{
		{
			name: "feed, first page",
			url:  func(int) string { return srv.base + "/api/v1/wallpapers" },
			sql:  []func(int) (string, []any){func(int) (string, []any) { return postgres.ListSQL.FeedFirst, []any{limit} }},
		},
		{
			name: fmt.Sprintf("feed, %d deep", depth),
			url:  func(int) string { return srv.base + "/api/v1/wallpapers?cursor=" + url.QueryEscape(cursor) },
			sql: []func(int) (string, []any){func(int) (string, []any) {
				return postgres.ListSQL.FeedAfter, []any{limit, deepAt, deepID}
			}},
		},
		{
			name: "detail",
			url:  func(i int) string { return srv.base + "/api/v1/wallpapers/" + detailIDs[i%len(detailIDs)].String() },
			auth: true,
			sql: []func(int) (string, []any){
				func(i int) (string, []any) { return postgres.ItemSQL.Wallpaper, []any{detailIDs[i%len(detailIDs)]} },
				func(i int) (string, []any) {
					return postgres.ItemSQL.LikedAmong, []any{fx.benchUser, []uuid.UUID{detailIDs[i%len(detailIDs)]}}
				},
			},
		},
		{
			name: "own list, first page",
			url:  func(int) string { return srv.base + "/api/v1/me/wallpapers" },
			auth: true,
			sql: []func(int) (string, []any){
				func(int) (string, []any) { return postgres.ListSQL.MineFirst, []any{limit, fx.benchUser} },
				likedAmong(ownIDs),
			},
		},
	}
	var results []result
	for _, sc := range scenarios {
		tok := ""
		if sc.auth {
			tok = token
		}
		h, err := drive(ctx, o.concurrency, o.warmup, o.duration, srv.cpuTime, func(ctx context.Context, i int) error {
			return get(ctx, hc, sc.url(i), tok)
		})
		if err != nil {
			return nil, fmt.Errorf("%s over HTTP: %w", sc.name, err)
		}
		s, err := drive(ctx, o.concurrency, o.warmup, o.duration, nil, sqlOp(sqlPool, sc.sql...))
		if err != nil {
			return nil, fmt.Errorf("%s as SQL: %w", sc.name, err)
		}
		fmt.Fprintf(out, "%-22s HTTP %7.0f rps  SQL %7.0f rps\n", sc.name, h.rps(), s.rps())
		results = append(results, result{name: sc.name, http: h, sql: s})
	}
	return results, nil
}

// firstIDs returns the ids of a listing's first page, for the liked-flags
// statement that follows it.
func firstIDs(ctx context.Context, pool *pgxpool.Pool, sql string, limit int, args ...any) ([]uuid.UUID, error) {
	rows, err := pool.Query(ctx, sql, append([]any{limit}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (uuid.UUID, error) {
		vals, err := r.Values()
		if err != nil {
			return uuid.Nil, err
		}
		switch v := vals[0].(type) {
		case [16]byte:
			return uuid.UUID(v), nil
		default:
			return uuid.Nil, fmt.Errorf("id of type %T", v)
		}
	})
}

// machine is what the run ran on.
type machine struct {
	cpus     int
	memory   string
	postgres string
	goVer    string
	load     string
	when     time.Time
}

func (m machine) String() string {
	return fmt.Sprintf("machine: %d CPUs, %s memory, load average %s; %s; %s; %s",
		m.cpus, m.memory, m.load, m.postgres, m.goVer, m.when.Format(time.RFC3339))
}

func describeMachine(ctx context.Context, adminURL string) (machine, error) {
	m := machine{cpus: runtime.NumCPU(), goVer: runtime.Version(), memory: "?", when: time.Now().UTC()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
				m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	m.load = loadAverage()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return m, fmt.Errorf("connecting to Postgres: %w", err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, `SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers ' || current_setting('shared_buffers')`).Scan(&m.postgres); err != nil {
		return m, err
	}
	return m, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// report prints the table and which goals were met.
func report(out io.Writer, o options, m machine, rs []result) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d wallpapers, %d users, %d concurrent, %v per scenario after %v warm-up\n\n",
		o.wallpapers, o.users, o.concurrency, o.duration, o.warmup)
	fmt.Fprintln(&b, "| scenario | HTTP rps | HTTP p50 ms | HTTP p99 ms | SQL rps | SQL p50 ms | SQL p99 ms | HTTP/SQL rps | wallpaperd CPU ms/req |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.0f | %s | %s | %.0f %% | %s |\n", r.name,
			r.http.rps(), ms(r.http.p50), ms(r.http.p99), r.sql.rps(), ms(r.sql.p50), ms(r.sql.p99),
			100*r.http.rps()/r.sql.rps(), ms(r.http.cpuPerRequest()))
	}
	first, deep := rs[0], rs[1]
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	deepRatio := first.http.rps() / deep.http.rps()
	feedShare := first.http.rps() / first.sql.rps()
	fmt.Fprintf(&b, "\ngoals:\n")
	fmt.Fprintf(&b, "- deep page within 1.5x of the first: %s (first/deep rps %.2f, deep/first p50 %.2f)\n",
		verdict(deepRatio <= 1.5 && float64(deep.http.p50) <= 1.5*float64(first.http.p50)), deepRatio, float64(deep.http.p50)/float64(first.http.p50))
	fmt.Fprintf(&b, "- feed at >= 50 %% of raw SQL: %s (%.0f %%)\n", verdict(feedShare >= 0.5), 100*feedShare)
	fmt.Fprintf(&b, "- feed p99 < 20 ms at %d concurrent: %s (%s ms first page, %s ms deep)\n", o.concurrency,
		verdict(first.http.p99 < 20*time.Millisecond && deep.http.p99 < 20*time.Millisecond), ms(first.http.p99), ms(deep.http.p99))
	fmt.Fprintf(&b, "\nload average at the end: %s\n", loadAverage())
	_, _ = out.Write(b.Bytes())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
