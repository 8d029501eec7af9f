package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/likecheck"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

// The hot-like scenario (docs/benchmarks.md, "Hot likes"): one wallpaper
// liked and unliked by many users at once, o.concurrency calls in flight,
// each user's calls one after another and few enough to stay under the
// per-user like limit the server runs with (LIKE_RATE_PER_MINUTE, its
// default). It runs in passes: everyone likes, then everyone unlikes,
// and so on for o.duration, then a pass of random likes and unlikes
// (repeats included). Every answer is checked, not just timed: each pass
// exactly (likecheck.CheckPhase), the whole history in its windows
// (likecheck.History.Check), and the final count against the likes rows
// and what the calls leave. The same passes run as raw SQL at the same
// concurrency twice: the statements wallpaperd now sends (the database's
// ceiling for them) and the row-lock transaction likes were before (the
// baseline), each on a wallpaper of its own and checked the same way.

// likeOptions are the scenario's flags.
type likeOptions struct {
	users int
	only  bool
}

func (lo *likeOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&lo.users, "like-users", 2000, "users liking the hot wallpaper (each under the per-user like limit)")
	fs.BoolVar(&lo.only, "likes-only", false, "run only the hot-like scenario (no million-wallpaper seed)")
}

// likeLimitPerMinute is the server's per-user like limit in the bench:
// LIKE_RATE_PER_MINUTE's default, which startServer does not change.
const likeLimitPerMinute = 120

// liker is one bench user.
type liker struct {
	id    uuid.UUID
	token string
}

// likeResult is one measured run of the scenario.
type likeResult struct {
	name      string
	calls     int // measured calls (the first two passes warm up)
	elapsed   time.Duration
	p50, p99  time.Duration
	answers   int // answers checked, warm-up included
	passes    int
	final     int // the count read at the end
	maxPerMin int // most calls of one user in any minute
}

func (r likeResult) rps() float64 { return float64(r.calls) / r.elapsed.Seconds() }

// likeCall makes one like (or unlike) and returns the count answered.
type likeCall func(ctx context.Context, u liker, like bool) (int, error)

// runLikesOnly starts wallpaperd on the empty database and runs the
// scenario alone (-likes-only).
func runLikesOnly(ctx context.Context, o options, db *benchDB, out io.Writer) error {
	srv, err := startServer(ctx, o, db.url)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintf(out, "wallpaperd serving at %s (log, removed at the end: %s)\n", srv.base, srv.logPath)
	return runLikes(ctx, o, db, srv, out)
}

// runLikes runs the scenario, every variant, and prints its table.
func runLikes(ctx context.Context, o options, db *benchDB, srv *server, out io.Writer) error {
	hc := newClient(o.concurrency)
	start := time.Now()
	users, err := loginLikers(ctx, hc, srv.base, o.likes.users, o.concurrency)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "hot likes: %d users logged in in %v\n", len(users), time.Since(start).Round(100*time.Millisecond))
	owner := users[0].id
	newWallpaper := func() (uuid.UUID, error) {
		id := uuid.New()
		_, err := db.pool.Exec(ctx, `INSERT INTO wallpapers (id, user_id, prompt, size, width, height, model, params,
			image_key, thumbnail_key, public, published) VALUES ($1, $2, 'a comet over a harbour', '1024x1792', 1024, 1792,
			'offline', '{}', $3, $4, true, true)`, id, owner, "public/w/"+id.String()+"/image.jpg", "public/w/"+id.String()+"/thumb.jpg")
		return id, err
	}
	sqlPool, err := postgres.Open(ctx, db.url, postgres.PoolConfig{MaxConns: int32(o.concurrency)})
	if err != nil {
		return err
	}
	defer sqlPool.Close()

	variants := []struct {
		name  string
		call  func(id uuid.UUID) likeCall
		count func(id uuid.UUID) (int, error)
	}{
		{
			name: "HTTP, wallpaperd",
			call: func(id uuid.UUID) likeCall {
				return func(ctx context.Context, u liker, like bool) (int, error) {
					return httpLike(ctx, hc, srv.base, id, u, like)
				}
			},
			count: func(id uuid.UUID) (int, error) { return httpCount(ctx, hc, srv.base, id) },
		},
		{
			name: "SQL, striped counts (wallpaperd's statements)",
			call: func(id uuid.UUID) likeCall {
				return func(ctx context.Context, u liker, like bool) (int, error) {
					return stripedLike(ctx, sqlPool, id, u.id, like)
				}
			},
			count: func(id uuid.UUID) (int, error) { return sqlCount(ctx, sqlPool, id) },
		},
		{
			name: "SQL, row lock (the design before)",
			call: func(id uuid.UUID) likeCall {
				return func(ctx context.Context, u liker, like bool) (int, error) {
					return rowLockLike(ctx, sqlPool, id, u.id, like)
				}
			},
			count: func(id uuid.UUID) (int, error) { return sqlCount(ctx, sqlPool, id) },
		},
	}
	var results []likeResult
	for _, v := range variants {
		id, err := newWallpaper()
		if err != nil {
			return err
		}
		r, err := hotLikes(ctx, o, db.pool, users, id, v.call(id), v.count)
		if err != nil {
			return fmt.Errorf("hot likes, %s: %w", v.name, err)
		}
		r.name = v.name
		fmt.Fprintf(out, "%-46s %7.0f calls/s  %d answers checked\n", v.name, r.rps(), r.answers)
		results = append(results, r)
	}
	fmt.Fprintln(out)
	reportLikes(out, o, results)
	return nil
}

// hotLikes runs the passes on wallpaper id and checks every answer.
func hotLikes(ctx context.Context, o options, pool *pgxpool.Pool, users []liker, id uuid.UUID, call likeCall, count func(uuid.UUID) (int, error)) (likeResult, error) {
	c := min(o.concurrency, len(users))
	own := make([][]liker, c) // each worker's users: one user's calls never overlap
	for i, u := range users {
		own[i%c] = append(own[i%c], u)
	}
	var (
		res     likeResult
		history likecheck.History
		lat     []time.Duration
		perUser = map[uuid.UUID][]time.Time{}
	)
	liked := map[uuid.UUID]bool{}
	base := 0
	// pass runs one call per (worker, pick) at o.concurrency and checks
	// it; mixed picks users and directions at random.
	pass := func(like bool, mixed bool, measured bool) error {
		calls := make([][]likecheck.Call, c)
		lats := make([][]time.Duration, c)
		starts := make([][]time.Time, c)
		errs := make([]error, c)
		var wg sync.WaitGroup
		for w := range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(w), uint64(res.passes)))
				for i := range own[w] {
					u, l := own[w][i], like
					if mixed {
						u, l = own[w][rnd.IntN(len(own[w]))], rnd.IntN(2) == 0
					}
					t0 := time.Now()
					n, err := call(ctx, u, l)
					t1 := time.Now()
					if err != nil {
						errs[w] = err
						return
					}
					calls[w] = append(calls[w], likecheck.Call{User: u.id.String(), Like: l, Start: t0, End: t1, Count: n})
					lats[w] = append(lats[w], t1.Sub(t0))
					starts[w] = append(starts[w], t0)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		all := slices.Concat(calls...)
		if !mixed {
			if err := likecheck.CheckPhase(base, like, all); err != nil {
				return fmt.Errorf("pass %d (%s): %w", res.passes+1, map[bool]string{true: "likes", false: "unlikes"}[like], err)
			}
		}
		for w := range c {
			for i, call := range calls[w] {
				id := uuid.MustParse(call.User)
				perUser[id] = append(perUser[id], starts[w][i])
				liked[id] = call.Like
			}
		}
		base = 0
		for _, l := range liked {
			if l {
				base++
			}
		}
		history.Calls = append(history.Calls, all...)
		res.answers += len(all)
		res.passes++
		if measured {
			lat = append(lat, slices.Concat(lats...)...)
		}
		return nil
	}

	// Two passes unmeasured (connections, prepared statements), then
	// passes for o.duration, then the mixed one.
	for _, like := range []bool{true, false} {
		if err := pass(like, false, false); err != nil {
			return res, err
		}
	}
	start := time.Now()
	for like := true; time.Since(start) < o.duration; like = !like {
		if err := pass(like, false, true); err != nil {
			return res, err
		}
	}
	if err := pass(false, true, true); err != nil {
		return res, err
	}
	res.elapsed = time.Since(start)
	res.calls = len(lat)
	slices.Sort(lat)
	res.p50, res.p99 = lat[len(lat)*50/100], lat[len(lat)*99/100]

	if err := history.Check(); err != nil {
		return res, err
	}
	final, err := count(id)
	if err != nil {
		return res, err
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM likes WHERE wallpaper_id = $1`, id).Scan(&rows); err != nil {
		return res, err
	}
	if want := history.Final(); final != want || rows != want {
		return res, fmt.Errorf("the calls leave %d likes, but the count reads %d and there are %d likes rows", want, final, rows)
	}
	res.final = final
	for _, ts := range perUser {
		for i := range ts {
			j := i
			for j < len(ts) && ts[j].Sub(ts[i]) < time.Minute {
				j++
			}
			res.maxPerMin = max(res.maxPerMin, j-i)
		}
	}
	return res, nil
}

// loginLikers logs in n users (dev codes dev-likes-I), c at a time.
func loginLikers(ctx context.Context, hc *http.Client, base string, n, c int) ([]liker, error) {
	users := make([]liker, n)
	errs := make([]error, c)
	var wg sync.WaitGroup
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += c {
				body := strings.NewReader(fmt.Sprintf(`{"code":"dev-likes-%d"}`, i))
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/auth/login", body)
				if err != nil {
					errs[w] = err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					errs[w] = err
					return
				}
				var s struct {
					AccessToken string `json:"access_token"`
					User        struct {
						ID uuid.UUID `json:"id"`
					} `json:"user"`
				}
				err = json.NewDecoder(resp.Body).Decode(&s)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					errs[w] = fmt.Errorf("login %d: %d %v", i, resp.StatusCode, err)
					return
				}
				users[i] = liker{id: s.User.ID, token: s.AccessToken}
			}
		}()
	}
	wg.Wait()
	return users, errors.Join(errs...)
}

// httpLike is PUT or DELETE /wallpapers/{id}/like; anything but a 200
// that says what was asked (a 429 included) fails the scenario.
func httpLike(ctx context.Context, hc *http.Client, base string, id uuid.UUID, u liker, like bool) (int, error) {
	method := http.MethodPut
	if !like {
		method = http.MethodDelete
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/api/v1/wallpapers/"+id.String()+"/like", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s like: %d %s", method, resp.StatusCode, bytes.TrimSpace(body))
	}
	var st struct {
		Liked     bool `json:"liked"`
		LikeCount int  `json:"like_count"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return 0, err
	}
	if st.Liked != like {
		return 0, fmt.Errorf("%s like answered liked %v", method, st.Liked)
	}
	return st.LikeCount, nil
}

// httpCount is the count the detail shows.
func httpCount(ctx context.Context, hc *http.Client, base string, id uuid.UUID) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/wallpapers/"+id.String(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var w struct {
		LikeCount int `json:"like_count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("detail: %d %v", resp.StatusCode, err)
	}
	return w.LikeCount, nil
}

// stripedLike sends what postgres.Gallery.SetLike sends after its check:
// the change in a transaction of its own and the count after it, in one
// round trip.
func stripedLike(ctx context.Context, pool *pgxpool.Pool, id, user uuid.UUID, like bool) (int, error) {
	change := postgres.LikeSQL.Like
	if !like {
		change = postgres.LikeSQL.Unlike
	}
	var n int
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(change, user, id, postgres.LikeStripe(user))
	b.Queue(`COMMIT`)
	b.Queue(postgres.LikeSQL.Count, id).QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	return n, pool.SendBatch(ctx, b).Close()
}

// rowLockLike is a like as it was before hot likes: the wallpaper's row
// locked, the likes row and like_count changed, the lock held to the
// commit. It keeps like_count + like_deltas = likes rows, so the count
// reads the same way.
func rowLockLike(ctx context.Context, pool *pgxpool.Pool, id, user uuid.UUID, like bool) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var visible bool
		if err := tx.QueryRow(ctx, `SELECT w.visible FROM wallpapers w JOIN users u ON u.id = w.user_id
			WHERE w.id = $1 FOR NO KEY UPDATE OF w`, id).Scan(&visible); err != nil {
			return err
		}
		q := `WITH changed AS (INSERT INTO likes (user_id, wallpaper_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1)
			UPDATE wallpapers SET like_count = like_count + (SELECT count(*) FROM changed) WHERE id = $2 RETURNING like_count`
		if !like {
			q = `WITH changed AS (DELETE FROM likes WHERE user_id = $1 AND wallpaper_id = $2 RETURNING 1)
			UPDATE wallpapers SET like_count = like_count - (SELECT count(*) FROM changed) WHERE id = $2 RETURNING like_count`
		}
		return tx.QueryRow(ctx, q, user, id).Scan(&n)
	})
	return n, err
}

func sqlCount(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID) (n int, err error) {
	return n, pool.QueryRow(ctx, postgres.LikeSQL.Count, id).Scan(&n)
}

// reportLikes prints the table and the goal.
func reportLikes(out io.Writer, o options, rs []likeResult) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "hot likes: one wallpaper, %d users, %d concurrent, passes for %v after two unmeasured\n\n", o.likes.users, o.concurrency, o.duration)
	fmt.Fprintln(&b, "| variant | calls/s | p50 ms | p99 ms | answers checked | passes | final count | most calls of one user in a minute |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %d | %d | %d | %d |\n", r.name, r.rps(), ms(r.p50), ms(r.p99), r.answers, r.passes, r.final, r.maxPerMin)
	}
	h := rs[0]
	verdict := "met"
	if h.rps() < 1000 {
		verdict = "MISSED"
	}
	fmt.Fprintf(&b, "\ngoals:\n- at least 1,000 likes a second on one wallpaper over HTTP: %s (%.0f)\n", verdict, h.rps())
	fmt.Fprintf(&b, "- every answer's like_count exact at its moment and the final count exact: met (checked, %d answers; a failure stops the bench)\n", h.answers)
	limit := "met"
	if h.maxPerMin > likeLimitPerMinute {
		limit = "MISSED"
	}
	fmt.Fprintf(&b, "- each user under the per-user limit (%d a minute): %s (at most %d)\n", likeLimitPerMinute, limit, h.maxPerMin)
	if len(rs) == 3 {
		fmt.Fprintf(&b, "- striped statements against the row lock, as raw SQL: %.1fx\n", rs[1].rps()/rs[2].rps())
	}
	_, _ = out.Write(b.Bytes())
}
