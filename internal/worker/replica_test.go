package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

// replicaEnv is one database with generations, painted by queues that
// play replicas of one service: the real painter and stores, the offline
// image model, one local object store they share.
type replicaEnv struct {
	pool    *pgxpool.Pool
	jobs    *worker.Jobs
	store   *postgres.Generations
	gallery *postgres.Gallery
	objects *storage.Local
	dir     string
}

func newReplicaEnv(t *testing.T) *replicaEnv {
	t.Helper()
	e := &replicaEnv{pool: pgtest.NewPool(t), dir: t.TempDir()}
	var err error
	if e.jobs, err = worker.NewJobs(e.pool, 5); err != nil {
		t.Fatal(err)
	}
	e.store = postgres.NewGenerations(e.pool, e.jobs)
	e.gallery = postgres.NewGallery(e.pool, e.jobs)
	if e.objects, err = storage.NewLocal(e.dir, ""); err != nil {
		t.Fatal(err)
	}
	return e
}

// gate holds the image model's first answer until opened, whatever the
// attempt's context says: a process paused mid-job. Later calls pass.
type gate struct {
	entered chan uuid.UUID
	open    chan struct{}
	once    sync.Once
}

func (g *gate) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		g.entered <- req.GenerationID
		<-g.open
		ctx = context.WithoutCancel(ctx)
	}
	return imagegen.NewOffline().Generate(ctx, req)
}

// outcomes records what each attempt's Paint returned.
type outcomes struct {
	painter worker.Painter
	mu      sync.Mutex
	byTry   map[int]error
	started map[int]time.Time
}

func (o *outcomes) Paint(ctx context.Context, id uuid.UUID, attempt int, last bool) error {
	o.mu.Lock()
	o.started[attempt] = time.Now()
	o.mu.Unlock()
	err := o.painter.Paint(ctx, id, attempt, last)
	o.mu.Lock()
	o.byTry[attempt] = err
	o.mu.Unlock()
	return err
}

// queue starts a replica named id painting with images.
func (e *replicaEnv) queue(t *testing.T, id string, images wallpaper.ImageGenerator) (*worker.Queue, *outcomes) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("replica", id)
	}
	out := &outcomes{byTry: map[int]error{}, started: map[int]time.Time{}, painter: wallpaper.NewPainter(wallpaper.PainterConfig{
		Jobs: e.store, Images: images, Objects: e.objects, Labels: wallpaper.Labels{Producer: "TEST-PRODUCER"}, Logger: logger,
	})}
	q, err := worker.New(e.pool, worker.Config{
		Workers: 2, JobTimeout: 10 * time.Minute, RescueAfter: time.Hour, RetryBase: 50 * time.Millisecond,
		SoftStopTimeout: time.Second, Logger: logger, ReplicaID: id, ReplicaDeadAfter: 3 * time.Second,
	}, worker.Deps{Painter: out, Objects: e.objects, Orphans: e.store, Unsettled: e.gallery})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	return q, out
}

// startedAfter is how long after since attempt began.
// (negative: it did not start here).
func (o *outcomes) startedAfter(attempt int, since time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	at, ok := o.started[attempt]
	if !ok {
		return -1
	}
	return at.Sub(since).Round(time.Millisecond)
}

// submit accepts a private generation (no image check) of a user of its
// own and queues its job.
func (e *replicaEnv) submit(t *testing.T) uuid.UUID {
	t.Helper()
	var user uuid.UUID
	if err := e.pool.QueryRow(context.Background(), `INSERT INTO users (openid) VALUES ('dev:' || gen_random_uuid()) RETURNING id`).Scan(&user); err != nil {
		t.Fatal(err)
	}
	g, created, err := e.store.CreateGeneration(context.Background(), wallpaper.NewGeneration{
		Generation: wallpaper.Generation{ID: uuid.New(), UserID: user, Prompt: "a lighthouse",
			Options: wallpaper.Options{Size: wallpaper.SizeSquare, Style: wallpaper.StyleVivid, Quality: wallpaper.QualityStandard}},
		QuotaDay: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), DailyLimit: 10, RequestHash: []byte("hash-of-the-request-0123456789ab"),
	})
	if err != nil || !created {
		t.Fatalf("CreateGeneration = %v, %v", created, err)
	}
	return g.ID
}

// jobRow is the River row of a generation's job.
type jobRow struct {
	State       string
	Attempt     int
	AttemptedBy []string
	Errors      []string
}

func (e *replicaEnv) job(t *testing.T, gen uuid.UUID) jobRow {
	t.Helper()
	var j jobRow
	err := e.pool.QueryRow(context.Background(), `SELECT state::text, attempt, COALESCE(attempted_by, '{}'),
			COALESCE(ARRAY(SELECT e ->> 'error' FROM unnest(errors) e), '{}')
		FROM river_job WHERE kind = $1 AND args ->> 'generation_id' = $2`, worker.GenerateKind, gen.String()).
		Scan(&j.State, &j.Attempt, &j.AttemptedBy, &j.Errors)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (e *replicaEnv) waitJob(t *testing.T, gen uuid.UUID, state string) {
	t.Helper()
	apptest.WaitFor(t, 30*time.Second, "the job to be "+state, func() bool { return e.job(t, gen).State == state })
}

func (e *replicaEnv) status(t *testing.T, gen uuid.UUID) string {
	t.Helper()
	g, err := e.store.Generation(context.Background(), gen)
	if err != nil {
		t.Fatal(err)
	}
	return g.Status
}

// forgeRunning puts a generation's job in the state River's fetch leaves
// it in, attempted by replica: what a process killed mid-job leaves.
func (e *replicaEnv) forgeRunning(t *testing.T, gen uuid.UUID, replica string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
		attempted_by = ARRAY[$3::text] WHERE kind = $1 AND args ->> 'generation_id' = $2`,
		worker.GenerateKind, gen.String(), replica); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.StartGeneration(ctx, gen, 1); err != nil {
		t.Fatal(err)
	}
}

// assertOneWallpaper: the generation succeeded once, with the objects of
// attempt, and spent one unit.
func (e *replicaEnv) assertOneWallpaper(t *testing.T, gen uuid.UUID, attempt int) {
	t.Helper()
	ctx := context.Background()
	var n int
	var imageKey string
	if err := e.pool.QueryRow(ctx, `SELECT count(*), min(image_key) FROM wallpapers WHERE generation_id = $1`, gen).Scan(&n, &imageKey); err != nil {
		t.Fatal(err)
	}
	if want := wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, gen, attempt, "image.jpg"); n != 1 || imageKey != want {
		t.Errorf("%d wallpapers for the generation, image %q; want one, %q", n, imageKey, want)
	}
	if _, err := os.Stat(filepath.Join(e.dir, filepath.FromSlash(imageKey))); err != nil {
		t.Errorf("the recorded image: %v", err)
	}
	var used int
	var refunded bool
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT used FROM quota_usage WHERE user_id = g.user_id), g.refunded
		FROM generations g WHERE g.id = $1`, gen).Scan(&used, &refunded); err != nil {
		t.Fatal(err)
	}
	if used != 1 || refunded {
		t.Errorf("quota used %d, refunded %v; want 1 unit spent, none refunded", used, refunded)
	}
}

// TestRestartedReplicaReclaimsItsJobs: a job left running by a replica
// that was killed is run again as soon as the replica starts under the
// same REPLICA_ID, not after JOB_RESCUE_AFTER (an hour here).
func TestRestartedReplicaReclaimsItsJobs(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t)
	gen := e.submit(t)
	e.forgeRunning(t, gen, "replica-1")

	start := time.Now()
	_, out := e.queue(t, "replica-1", imagegen.NewOffline())
	apptest.WaitFor(t, 60*time.Second, "the orphaned job to finish after the restart", func() bool {
		return e.status(t, gen) == wallpaper.StatusSucceeded
	})
	t.Logf("orphaned job started again %s after the restart, finished after %s", out.startedAfter(2, start), time.Since(start).Round(time.Millisecond))
	e.waitJob(t, gen, "completed")
	j := e.job(t, gen)
	if j.State != "completed" || j.Attempt != 2 || strings.Join(j.AttemptedBy, ",") != "replica-1,replica-1" ||
		len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "restarted") {
		t.Errorf("job %+v; want completed by a second attempt, the first's end recorded", j)
	}
	e.assertOneWallpaper(t, gen, 2)
}

// TestDeadReplicaJobsAreReclaimed: a survivor runs the jobs of a replica
// whose heartbeat stopped, once REPLICA_DEAD_AFTER has passed, and a
// replica that merely does not know the dead one is not touched.
func TestDeadReplicaJobsAreReclaimed(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t)
	ctx := context.Background()
	dead, alive := e.submit(t), e.submit(t)
	e.forgeRunning(t, dead, "gone")
	e.forgeRunning(t, alive, "busy")
	// "gone" beat last a moment ago; "busy" beats on (its row is renewed
	// below, as its own heartbeat would).
	if _, err := e.pool.Exec(ctx, `INSERT INTO replicas (id, incarnation) VALUES ('gone', $1), ('busy', $2)`, uuid.New(), uuid.New()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
				_, _ = e.pool.Exec(ctx, `UPDATE replicas SET heartbeat_at = now() WHERE id = 'busy'`)
			}
		}
	}()
	defer func() { close(stop); <-beating }()

	start := time.Now()
	_, out := e.queue(t, "survivor", imagegen.NewOffline())
	apptest.WaitFor(t, 60*time.Second, "the dead replica's job to finish on the survivor", func() bool {
		return e.status(t, dead) == wallpaper.StatusSucceeded
	})
	t.Logf("dead replica's job started again %s after the survivor started (REPLICA_DEAD_AFTER 3s), finished after %s",
		out.startedAfter(2, start), time.Since(start).Round(time.Millisecond))
	e.waitJob(t, dead, "completed")
	j := e.job(t, dead)
	if j.State != "completed" || strings.Join(j.AttemptedBy, ",") != "gone,survivor" || len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "stopped beating") {
		t.Errorf("dead replica's job %+v; want completed by the survivor, the first attempt's end recorded", j)
	}
	e.assertOneWallpaper(t, dead, 2)
	if j := e.job(t, alive); j.State != "running" || strings.Join(j.AttemptedBy, ",") != "busy" {
		t.Errorf("a live replica's job was touched: %+v", j)
	}
	var rows []string
	r, err := e.pool.Query(ctx, `SELECT id FROM replicas ORDER BY id`)
	if err == nil {
		rows, err = pgx.CollectRows(r, pgx.RowTo[string])
	}
	if err != nil || strings.Join(rows, ",") != "busy,survivor" {
		t.Errorf("replicas %v (%v); want the dead one gone", rows, err)
	}
}

// TestPausedReplicaIsFenced: a replica that stops beating mid-job (paused,
// cut off) has its job run by another; when it wakes up and finishes, it
// records nothing: one wallpaper (the survivor's), one unit spent, none
// refunded, and its own images deleted.
func TestPausedReplicaIsFenced(t *testing.T) {
	t.Parallel()
	e := newReplicaEnv(t)
	g := &gate{entered: make(chan uuid.UUID, 1), open: make(chan struct{})}
	paused, stale := e.queue(t, "paused", g)
	gen := e.submit(t)
	select {
	case <-g.entered:
	case <-time.After(60 * time.Second):
		t.Fatal("the job did not start on the first replica")
	}
	paused.PauseHeartbeat()
	start := time.Now()

	// The paused replica's workers may fetch the job again too (only its
	// heartbeat is paused here): the second attempt runs on either.
	_, survivor := e.queue(t, "survivor", imagegen.NewOffline())
	apptest.WaitFor(t, 60*time.Second, "the paused replica's job to finish in a second attempt", func() bool {
		return e.status(t, gen) == wallpaper.StatusSucceeded
	})
	second := survivor.startedAfter(2, start)
	if second < 0 {
		second = stale.startedAfter(2, start)
	}
	t.Logf("paused replica's job started again %s after its heartbeat stopped (REPLICA_DEAD_AFTER 3s), finished after %s",
		second, time.Since(start).Round(time.Millisecond))
	if j := e.job(t, gen); j.Attempt != 2 || len(j.AttemptedBy) != 2 || j.AttemptedBy[0] != "paused" {
		t.Errorf("job %+v; want a second attempt after the paused one", j)
	}

	// The paused one wakes up and finishes its attempt.
	close(g.open)
	var staleErr error
	apptest.WaitFor(t, 60*time.Second, "the stale attempt to end", func() bool {
		stale.mu.Lock()
		defer stale.mu.Unlock()
		var ended bool
		staleErr, ended = stale.byTry[1]
		return ended
	})
	if !errors.Is(staleErr, wallpaper.ErrSuperseded) {
		t.Errorf("the stale attempt returned %v, want ErrSuperseded", staleErr)
	}
	e.assertOneWallpaper(t, gen, 2)
	if s := e.status(t, gen); s != wallpaper.StatusSucceeded {
		t.Errorf("after the stale attempt the generation is %s", s)
	}
	// What the stale attempt stored is deleted (a job it queued when its
	// record was refused); the survivor's stays.
	staleImage := filepath.Join(e.dir, filepath.FromSlash(wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, gen, 1, "image.jpg")))
	apptest.WaitFor(t, 60*time.Second, "the stale attempt's images to be deleted", func() bool {
		_, err := os.Stat(staleImage)
		return errors.Is(err, os.ErrNotExist)
	})
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'delete_objects'
		AND args -> 'keys' ? $1`, wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, gen, 2, "image.jpg")).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d deletions of the survivor's image queued (%v)", n, err)
	}
}

// TestReplicaIdentity: two live processes cannot share a REPLICA_ID; one
// whose heartbeat is stale (a host lost, its connection not yet dropped)
// is taken over.
func TestReplicaIdentity(t *testing.T) {
	t.Parallel()
	t.Run("in use", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		cfg := worker.ReplicaConfig{ID: "twin", DeadAfter: 3 * time.Second}
		first, err := worker.NewReplica(pool, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Join(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = first.Leave(context.Background()) }()
		// The first one beats while the second tries.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go first.Run(ctx)
		second, _ := worker.NewReplica(pool, cfg)
		_, err = second.Join(context.Background())
		if err == nil || !strings.Contains(err.Error(), "REPLICA_ID") {
			t.Errorf("a second process under the same id: Join = %v, want it refused naming REPLICA_ID", err)
		}
	})
	for _, lost := range []struct{ name, sql string }{
		{"stale holder", `UPDATE replicas SET heartbeat_at = now() - interval '1 minute'`},
		{"holder reclaimed by a survivor", `DELETE FROM replicas`},
	} {
		t.Run(lost.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewPool(t)
			cfg := worker.ReplicaConfig{ID: "lost-host", DeadAfter: 3 * time.Second}
			first, err := worker.NewReplica(pool, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := first.Join(context.Background()); err != nil {
				t.Fatal(err)
			}
			// It never beats (its host is lost, its connection still open).
			if _, err := pool.Exec(context.Background(), lost.sql); err != nil {
				t.Fatal(err)
			}
			second, _ := worker.NewReplica(pool, cfg)
			if _, err := second.Join(context.Background()); err != nil {
				t.Errorf("taking over a lost holder: %v", err)
			}
			_ = second.Leave(context.Background())
			_ = first.Leave(context.Background())
		})
	}
	t.Run("invalid", func(t *testing.T) {
		for _, id := range []string{"", "-x", "a b", strings.Repeat("x", 101), "rep/1"} {
			if _, err := worker.NewReplica(nil, worker.ReplicaConfig{ID: id}); err == nil {
				t.Errorf("NewReplica(%q) accepted", id)
			}
		}
	})
}
