// Command wallpaperd-bench measures the gallery at a million wallpapers.
//
// It creates a fresh database on a Postgres server (dropped at the end),
// migrates it, seeds users and wallpapers with COPY, builds and starts the
// real wallpaperd binary against it, and drives it over loopback at a fixed
// concurrency: the first feed page, a page 50,000 items deep, a detail and
// a user's own list. It runs the same SQL through pgx at the same
// concurrency (the database's own ceiling) and prints one table with both.
// Then one wallpaper liked by many users at once (likes.go), every answer
// checked.
//
// Usage (make bench runs it with the defaults):
//
//	go run ./cmd/wallpaperd-bench [-wallpapers 1000000] [-users 10000] [-c 32] [-d 10s] [-like-users 2000] [-likes-only]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wallpaperd-bench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	adminURL    string
	wallpapers  int
	users       int
	concurrency int
	depth       int // items behind the deep page
	duration    time.Duration
	warmup      time.Duration
	server      string // a built wallpaperd; empty: build one
	likes       likeOptions
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("wallpaperd-bench", flag.ContinueOnError)
	admin := os.Getenv("BENCH_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	fs.StringVar(&o.adminURL, "admin-url", admin, "a database URL on the server to create the bench database on ($BENCH_DATABASE_URL)")
	fs.IntVar(&o.wallpapers, "wallpapers", 1_000_000, "wallpapers to seed")
	fs.IntVar(&o.users, "users", 10_000, "users owning them (the bench user is one of them)")
	fs.IntVar(&o.concurrency, "c", 32, "concurrent requests")
	fs.IntVar(&o.depth, "depth", 50_000, "items before the deep feed page")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measuring time of each scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each scenario")
	fs.StringVar(&o.server, "server", "", "a wallpaperd binary to run (default: go build ./cmd/wallpaperd)")
	o.likes.register(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.users < 1 || o.wallpapers < o.users || o.concurrency < 1 || o.duration <= 0 || o.depth < 1 || o.depth > o.wallpapers*8/10 {
		return o, errors.New("need users >= 1, wallpapers >= users, c >= 1, d > 0, 1 <= depth <= 80 % of wallpapers (9 in 10 are public)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	machine, err := describeMachine(ctx, o.adminURL)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, machine)

	db, err := createDatabase(ctx, o.adminURL)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.drop(); err != nil {
			fmt.Fprintln(os.Stderr, "wallpaperd-bench: dropping the bench database:", err)
		}
	}()
	fmt.Fprintf(out, "database %s created and migrated\n", db.name)
	if o.likes.only {
		return runLikesOnly(ctx, o, db, out)
	}

	seedStart := time.Now()
	fixture, err := seed(ctx, db, o.users, o.wallpapers, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d wallpapers across %d users in %v\n", o.wallpapers, o.users, time.Since(seedStart).Round(100*time.Millisecond))

	// The table against raw SQL is the server asking Postgres every time.
	srv, err := startServer(ctx, o, db.url, "FEED_CACHE_TTL=0")
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintf(out, "wallpaperd serving at %s (log, removed at the end: %s)\n", srv.base, srv.logPath)

	results, err := measure(ctx, o, db, srv, fixture, out)
	if err != nil {
		return err
	}
	cached, err := startServer(ctx, o, db.url) // FEED_CACHE_TTL at its default
	if err != nil {
		return err
	}
	defer cached.stop()
	cacheRows, err := measureCache(ctx, o, db, cached, srv, out)
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	report(out, o, machine, results)
	reportCache(out, o, cacheRows)
	fmt.Fprintln(out)
	return runLikes(ctx, o, db, srv, out)
}
