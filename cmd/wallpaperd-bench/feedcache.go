package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

// The feed cache (docs/benchmarks.md, "The feed cache"): the anonymous
// first page of 50 items from a wallpaperd with FEED_CACHE_TTL at its
// default, against two baselines measured in the same run: the raw SQL of
// that page (the database's ceiling, which an uncached server cannot
// pass) and a bare net/http handler writing the very same bytes from
// memory (what a server that asks nothing can do). Then the same page
// with a token against the uncached server's, and revalidation (304).

// cachePageSize is the page the cache scenarios read: the mini-program's
// first screen, 50 items (about 25 KB).
const cachePageSize = 50

// cacheRow is one measured scenario of the cache table.
type cacheRow struct {
	name string
	st   stats
}

// getWant GETs u with headers and wants status; the body is read and
// dropped, as a client would.
func getWant(ctx context.Context, hc *http.Client, u string, headers map[string]string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %d, want %d", u, resp.StatusCode, want)
	}
	return nil
}

// fetch GETs u and returns the body and headers.
func fetch(ctx context.Context, hc *http.Client, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return body, resp.Header, nil
}

// bareServer serves body with header's Content-Type on every request, on
// a loopback port of this process: a handler with nothing to do.
func bareServer(body []byte, contentType string) (base string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// measureCache runs the cache scenarios: cached is a wallpaperd with the
// feed cache on, uncached one with FEED_CACHE_TTL=0, both on db.
func measureCache(ctx context.Context, o options, db *benchDB, cached, uncached *server, out io.Writer) ([]cacheRow, error) {
	hc := newClient(o.concurrency)
	page := fmt.Sprintf("/api/v1/wallpapers?limit=%d", cachePageSize)
	body, header, err := fetch(ctx, hc, cached.base+page)
	if err != nil {
		return nil, err
	}
	tag := header.Get("ETag")
	if tag == "" || header.Get("Cache-Control") == "" {
		return nil, fmt.Errorf("the cached feed page has no ETag or Cache-Control: %v", header)
	}
	// The bare handler writes the very bytes wallpaperd answers (same
	// host and port in the URLs, since the load generator asks both on
	// 127.0.0.1).
	bare, stop, err := bareServer(body, header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	defer stop()
	if again, _, err := fetch(ctx, hc, bare+page); err != nil || !bytes.Equal(again, body) {
		return nil, fmt.Errorf("the bare handler does not answer the page's bytes (%v)", err)
	}
	fmt.Fprintf(out, "cache scenarios: the first page of %d items is %d bytes, ETag %s, Cache-Control %q\n",
		cachePageSize, len(body), tag, header.Get("Cache-Control"))

	// Each server has its own JWT secret (in its DATA_DIR): a token each.
	cachedToken, err := login(ctx, hc, cached.base)
	if err != nil {
		return nil, err
	}
	uncachedToken, err := login(ctx, hc, uncached.base)
	if err != nil {
		return nil, err
	}
	sqlPool, err := postgres.Open(ctx, db.url, postgres.PoolConfig{MaxConns: int32(o.concurrency)})
	if err != nil {
		return nil, err
	}
	defer sqlPool.Close()

	bearer := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }
	scenarios := []struct {
		name string
		cpu  func() time.Duration
		op   func(ctx context.Context, i int) error
	}{
		{"bare net/http handler, same bytes from memory", nil, func(ctx context.Context, _ int) error {
			return getWant(ctx, hc, bare+page, nil, http.StatusOK)
		}},
		{"raw SQL of the page (the database's ceiling)", nil,
			sqlOp(sqlPool, func(int) (string, []any) { return postgres.ListSQL.FeedFirst, []any{cachePageSize + 1} })},
		{"wallpaperd, cache off (FEED_CACHE_TTL=0)", uncached.cpuTime, func(ctx context.Context, _ int) error {
			return getWant(ctx, hc, uncached.base+page, nil, http.StatusOK)
		}},
		{"wallpaperd, cached", cached.cpuTime, func(ctx context.Context, _ int) error {
			return getWant(ctx, hc, cached.base+page, nil, http.StatusOK)
		}},
		{"wallpaperd, cached, revalidated (304)", cached.cpuTime, func(ctx context.Context, _ int) error {
			return getWant(ctx, hc, cached.base+page, map[string]string{"If-None-Match": tag}, http.StatusNotModified)
		}},
		{"wallpaperd, with a token, cache off", uncached.cpuTime, func(ctx context.Context, _ int) error {
			return getWant(ctx, hc, uncached.base+page, bearer(uncachedToken), http.StatusOK)
		}},
		{"wallpaperd, with a token, cached page + liked flags", cached.cpuTime, func(ctx context.Context, _ int) error {
			return getWant(ctx, hc, cached.base+page, bearer(cachedToken), http.StatusOK)
		}},
	}
	var rows []cacheRow
	for _, sc := range scenarios {
		st, err := drive(ctx, o.concurrency, o.warmup, o.duration, sc.cpu, sc.op)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Fprintf(out, "%-52s %7.0f rps  p50 %s ms  p99 %s ms\n", sc.name, st.rps(), ms(st.p50), ms(st.p99))
		rows = append(rows, cacheRow{name: sc.name, st: st})
	}
	return rows, nil
}

// reportCache prints the cache table and which goals were met.
func reportCache(out io.Writer, o options, rows []cacheRow) {
	if len(rows) < 7 {
		return
	}
	bare, sqlRow, off, hit, notModified, tokenOff, tokenHit := rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6]
	var b bytes.Buffer
	fmt.Fprintf(&b, "\nthe feed cache: anonymous first page of %d items, %d concurrent, %v per scenario after %v warm-up\n\n",
		cachePageSize, o.concurrency, o.duration, o.warmup)
	fmt.Fprintln(&b, "| scenario | rps | p50 ms | p99 ms | × bare handler | wallpaperd CPU ms/req |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		cpu := "–"
		if r.st.cpu > 0 {
			cpu = fmt.Sprintf("%.3f", float64(r.st.cpuPerRequest())/float64(time.Millisecond))
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.2f | %s |\n", r.name, r.st.rps(), ms(r.st.p50), ms(r.st.p99),
			r.st.rps()/bare.st.rps(), cpu)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	ratio := hit.st.rps() / bare.st.rps()
	fmt.Fprintf(&b, "\ngoals:\n")
	fmt.Fprintf(&b, "- cached anonymous page >= 0.5x the bare handler: %s (%.2fx; %.1fx the raw SQL, %.1fx the uncached server)\n",
		verdict(ratio >= 0.5), ratio, hit.st.rps()/sqlRow.st.rps(), hit.st.rps()/off.st.rps())
	fmt.Fprintf(&b, "- cached anonymous page p99 < 10 ms at %d concurrent: %s (%s ms)\n", o.concurrency,
		verdict(hit.st.p99 < 10*time.Millisecond), ms(hit.st.p99))
	fmt.Fprintf(&b, "- with a token >= the uncached rate: %s (%.0f vs %.0f rps, %.2fx)\n",
		verdict(tokenHit.st.rps() >= tokenOff.st.rps()), tokenHit.st.rps(), tokenOff.st.rps(), tokenHit.st.rps()/tokenOff.st.rps())
	fmt.Fprintf(&b, "- revalidation (304): %.0f rps, p99 %s ms (%.2fx the full cached page)\n",
		notModified.st.rps(), ms(notModified.st.p99), notModified.st.rps()/hit.st.rps())
	_, _ = out.Write(b.Bytes())
}
