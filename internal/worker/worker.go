// Package worker runs wallpaperd's background jobs on River (a Postgres
// queue that survives restarts and runs on every replica): painting
// generations, deleting objects of deleted wallpapers, sweeping up
// generations whose jobs River gave up on, and pruning refresh tokens
// nobody can use any more.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Painter runs one attempt of a generation (wallpaper.Painter).
type Painter interface {
	Paint(ctx context.Context, id uuid.UUID, attempt int, lastAttempt bool) error
}

// ObjectDeleter removes stored objects.
type ObjectDeleter interface {
	Delete(ctx context.Context, key string) error
}

// OrphanSweeper fails generations left without a live job.
type OrphanSweeper interface {
	FailOrphans(ctx context.Context, jobKind string, olderThan time.Duration, f wallpaper.Failure) (int, error)
}

// Moderator runs the image check of a wallpaper (wallpaper.Moderation).
type Moderator interface {
	Check(ctx context.Context, id uuid.UUID, attempt int) error
	Timeout(ctx context.Context, id uuid.UUID, attempt int) error
}

// Publisher moves a wallpaper's objects where its state says
// (wallpaper.Publisher).
type Publisher interface {
	Sync(ctx context.Context, id uuid.UUID) error
}

// UnsettledFinder lists wallpapers whose objects are not where their state
// says.
type UnsettledFinder interface {
	Unsettled(ctx context.Context, limit int) ([]uuid.UUID, error)
}

// Notifier sends a settled generation's subscribe message
// (wallpaper.Notifications).
type Notifier interface {
	Send(ctx context.Context, generationID uuid.UUID) error
}

// Deps do the jobs' work.
type Deps struct {
	Notifier   Notifier
	Painter    Painter
	Objects    ObjectDeleter
	Orphans    OrphanSweeper
	Moderation Moderator
	Publisher  Publisher
	Unsettled  UnsettledFinder
	Likes      LikeFolder // nil: likes are not folded (likes.go)
}

// SessionPruner deletes refresh tokens nobody can use any more
// (postgres.RefreshTokens).
type SessionPruner interface {
	PruneRefreshTokens(ctx context.Context, maxAge, rotatedFor time.Duration) (int64, error)
}

// Config tunes the queue.
type Config struct {
	Workers         int           // concurrent jobs on this replica
	JobTimeout      time.Duration // one attempt of a generation
	RetryBase       time.Duration // first retry delay, doubling; 0: 5s
	RescueAfter     time.Duration // a job running this long is presumed dead and retried; 0: JobTimeout + 1m
	SweepInterval   time.Duration // how often orphans are looked for; 0: 1m
	SoftStopTimeout time.Duration // how long Stop lets running jobs finish before cancelling them
	Logger          *slog.Logger

	// ReplicaID names this process among the replicas (REPLICA_ID; River's
	// client id); ReplicaDeadAfter is REPLICA_DEAD_AFTER (0: 30s). See
	// Replica.
	ReplicaID        string
	ReplicaDeadAfter time.Duration

	// Sessions, when set, is pruned every PruneInterval (0: 1h) of
	// refresh tokens that are expired, belong to sessions older than
	// SessionMaxAge, or were rotated more than RotatedRetention ago (0: 7
	// days).
	Sessions         SessionPruner
	SessionMaxAge    time.Duration
	RotatedRetention time.Duration
	PruneInterval    time.Duration
}

// Jobs inserts wallpaperd's jobs inside a caller's transaction, so that a
// row and the job working on it commit or vanish together. It is an
// insert-only River client: it exists before the stores that enqueue, and
// the Queue that works the jobs is built after them.
type Jobs struct {
	client      *river.Client[pgx.Tx]
	maxAttempts int
}

// NewJobs returns the inserter; maxAttempts bounds a generation's attempts
// (0: 5).
func NewJobs(pool *pgxpool.Pool, maxAttempts int) (*Jobs, error) {
	if maxAttempts == 0 {
		maxAttempts = 5
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &Jobs{client: client, maxAttempts: maxAttempts}, nil
}

// GenerateWallpaper inserts the job painting generation id inside tx.
func (j *Jobs) GenerateWallpaper(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := j.client.InsertTx(ctx, tx, GenerateArgs{GenerationID: id}, &river.InsertOpts{MaxAttempts: j.maxAttempts})
	return err
}

// DeleteObjects inserts the job removing keys from storage inside tx: it
// runs only if the row that referenced them is really gone.
func (j *Jobs) DeleteObjects(ctx context.Context, tx pgx.Tx, keys []string) error {
	_, err := j.client.InsertTx(ctx, tx, DeleteObjectsArgs{Keys: keys}, nil)
	return err
}

// ModerateWallpaper inserts, inside tx, the job asking the image check
// about a wallpaper that became pending.
func (j *Jobs) ModerateWallpaper(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := j.client.InsertTx(ctx, tx, ModerateArgs{WallpaperID: id, Attempt: 1}, nil)
	return err
}

// SyncObjects inserts, inside tx, the job moving a wallpaper's objects
// where its new state says.
func (j *Jobs) SyncObjects(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := j.client.InsertTx(ctx, tx, SyncObjectsArgs{WallpaperID: id}, nil)
	return err
}

// NotifyGeneration inserts, inside tx, the job sending a settled
// generation's subscribe message.
func (j *Jobs) NotifyGeneration(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := j.client.InsertTx(ctx, tx, NotifyArgs{GenerationID: id}, &river.InsertOpts{MaxAttempts: 3})
	return err
}

// ModerationTimeout schedules the follow-up of the check of wallpaper id
// (its attempt-th ask) at the given time.
func (j *Jobs) ModerationTimeout(ctx context.Context, id uuid.UUID, attempt int, at time.Time) error {
	_, err := j.client.Insert(ctx, ModerationTimeoutArgs{WallpaperID: id, Attempt: attempt}, &river.InsertOpts{ScheduledAt: at})
	return err
}

// Queue is the River client with wallpaperd's workers.
type Queue struct {
	client  *river.Client[pgx.Tx]
	cfg     Config
	replica *Replica
	stopRun context.CancelFunc
	running sync.WaitGroup
}

// New builds the queue; d does the work.
func New(pool *pgxpool.Pool, cfg Config, d Deps) (*Queue, error) {
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.RescueAfter == 0 {
		cfg.RescueAfter = cfg.JobTimeout + time.Minute
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Minute
	}
	replica, err := NewReplica(pool, ReplicaConfig{ID: cfg.ReplicaID, DeadAfter: cfg.ReplicaDeadAfter, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	retry := backoff{base: cfg.RetryBase, max: 5 * time.Minute}
	workers := river.NewWorkers()
	for _, add := range []func() error{
		func() error {
			return river.AddWorkerSafely(workers, &generateWorker{painter: d.Painter, timeout: cfg.JobTimeout, backoff: retry,
				fence: replica, logger: cfg.Logger})
		},
		func() error { return river.AddWorkerSafely(workers, &deleteObjectsWorker{objects: d.Objects}) },
		func() error {
			return river.AddWorkerSafely(workers, &sweepWorker{sweeper: d.Orphans, olderThan: cfg.RescueAfter + cfg.JobTimeout, logger: cfg.Logger})
		},
		func() error { return river.AddWorkerSafely(workers, &moderateWorker{moderation: d.Moderation}) },
		func() error {
			return river.AddWorkerSafely(workers, &moderationTimeoutWorker{moderation: d.Moderation})
		},
		func() error { return river.AddWorkerSafely(workers, &syncObjectsWorker{publisher: d.Publisher}) },
		func() error { return river.AddWorkerSafely(workers, &notifyWorker{notifier: d.Notifier}) },
		func() error {
			return river.AddWorkerSafely(workers, &storageSweepWorker{unsettled: d.Unsettled, logger: cfg.Logger})
		},
	} {
		if err := add(); err != nil {
			return nil, err
		}
	}
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return StorageSweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
	if cfg.Sessions != nil {
		if cfg.PruneInterval == 0 {
			cfg.PruneInterval = time.Hour
		}
		if cfg.RotatedRetention == 0 {
			cfg.RotatedRetention = 7 * 24 * time.Hour
		}
		if err := river.AddWorkerSafely(workers, &pruneSessionsWorker{sessions: cfg.Sessions,
			maxAge: cfg.SessionMaxAge, rotatedFor: cfg.RotatedRetention, logger: cfg.Logger}); err != nil {
			return nil, err
		}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(cfg.PruneInterval),
			func() (river.JobArgs, *river.InsertOpts) { return PruneSessionsArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	periodic, err = addFoldLikes(workers, periodic, d)
	if err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   replica.ID(),
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		RetryPolicy:          retry,
		Logger:               slog.New(quieter{cfg.Logger.Handler()}),
		PeriodicJobs:         periodic,
	})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &Queue{client: client, cfg: cfg, replica: replica}, nil
}

// Start takes the replica's identity (handing back the jobs a previous
// process under it left running), then runs the workers and the
// heartbeat until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if _, err := q.replica.Join(ctx); err != nil {
		return err
	}
	if err := q.client.Start(ctx); err != nil {
		_ = q.replica.Leave(context.WithoutCancel(ctx))
		return fmt.Errorf("worker: starting: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	q.stopRun = stop
	q.running.Go(func() { q.replica.Run(runCtx) })
	return nil
}

// Replica is this process's identity among the replicas.
func (q *Queue) Replica() *Replica { return q.replica }

// Stop lets running jobs finish until ctx ends, then cancels the rest;
// cancelled jobs are retried by whichever replica runs next.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.stopClient(ctx)
	if q.stopRun != nil {
		q.stopRun()
		q.running.Wait()
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return errors.Join(err, q.replica.Leave(lctx))
}

func (q *Queue) stopClient(ctx context.Context) error {
	softCtx, cancel := context.WithTimeout(ctx, q.cfg.SoftStopTimeout)
	defer cancel()
	err := q.client.Stop(softCtx)
	if err == nil {
		return nil
	}
	q.cfg.Logger.Warn("jobs still running after the soft stop timeout: cancelling them", "timeout", q.cfg.SoftStopTimeout)
	hardCtx, cancel2 := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel2()
	return q.client.StopAndCancel(hardCtx)
}

// Client exposes the River client (for tests and subscriptions).
func (q *Queue) Client() *river.Client[pgx.Tx] { return q.client }

// GenerateKind is the River kind of generation jobs.
const GenerateKind = "generate_wallpaper"

// GenerateArgs are the arguments of a generation job.
type GenerateArgs struct {
	GenerationID uuid.UUID `json:"generation_id"`
}

// Kind implements river.JobArgs.
func (GenerateArgs) Kind() string { return GenerateKind }

type generateWorker struct {
	river.WorkerDefaults[GenerateArgs]
	painter Painter
	timeout time.Duration
	backoff backoff
	fence   *Replica // nil in unit tests
	logger  *slog.Logger
	// hints holds, by job id, the image provider's Retry-After from the
	// attempt that just failed; NextRetry, called right after Work in the
	// same process, takes it out.
	hints sync.Map
}

// maxRetryAfter caps a provider's Retry-After hint.
const maxRetryAfter = 10 * time.Minute

func (w *generateWorker) Timeout(*river.Job[GenerateArgs]) time.Duration { return w.timeout }

func (w *generateWorker) Work(ctx context.Context, job *river.Job[GenerateArgs]) error {
	if w.fence != nil {
		// An attempt of a replica that learns it was presumed dead stops:
		// its jobs run elsewhere now.
		var stop context.CancelFunc
		ctx, stop = w.fence.Watch(ctx)
		defer stop()
	}
	err := w.painter.Paint(ctx, job.Args.GenerationID, job.Attempt, job.Attempt >= job.MaxAttempts)
	if errors.Is(err, wallpaper.ErrSuperseded) || errors.Is(context.Cause(ctx), errFenced) {
		// Taken over by a later attempt, which owns the generation (and the
		// job row) now, or about to, this replica having been presumed
		// dead: nothing to record, nothing to retry. River may mark
		// the job completed while that attempt runs; the generation's own
		// row stays the truth, and the orphan sweep ends it if needed.
		if w.logger != nil {
			w.logger.WarnContext(ctx, "attempt superseded: its work is thrown away", "generation_id", job.Args.GenerationID, "attempt", job.Attempt, "err", err)
		}
		return nil
	}
	if errors.Is(err, wallpaper.ErrFinished) {
		return river.JobCancel(err) // finished as failed: never retried
	}
	var ie *wallpaper.ImageError
	if errors.As(err, &ie) && ie.RetryAfter > 0 {
		w.hints.Store(job.ID, min(ie.RetryAfter, maxRetryAfter))
	}
	return err
}

// NextRetry waits the usual back-off, or longer when the image provider
// said when to come back (a 429's Retry-After). Attempts still count, so a
// provider that always says "later" ends in a failure with a refund.
func (w *generateWorker) NextRetry(job *river.Job[GenerateArgs]) time.Time {
	next := w.backoff.NextRetry(job.JobRow)
	if hint, ok := w.hints.LoadAndDelete(job.ID); ok {
		if at := time.Now().Add(hint.(time.Duration)); at.After(next) {
			return at
		}
	}
	return next
}

// DeleteObjectsArgs are the arguments of an object-deletion job.
type DeleteObjectsArgs struct {
	Keys []string `json:"keys"`
}

// Kind implements river.JobArgs.
func (DeleteObjectsArgs) Kind() string { return "delete_objects" }

type deleteObjectsWorker struct {
	river.WorkerDefaults[DeleteObjectsArgs]
	objects ObjectDeleter
}

func (w *deleteObjectsWorker) Work(ctx context.Context, job *river.Job[DeleteObjectsArgs]) error {
	var errs []error
	for _, k := range job.Args.Keys {
		if err := w.objects.Delete(ctx, k); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", k, err))
		}
	}
	return errors.Join(errs...) // River retries; deleting twice is harmless
}

// SweepArgs are the arguments of the periodic orphan sweep.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "sweep_generations" }

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	sweeper   OrphanSweeper
	olderThan time.Duration
	logger    *slog.Logger
}

var orphanFailure = wallpaper.Failure{Code: "internal_error", Message: "the generation was interrupted; your quota unit is returned"}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	n, err := w.sweeper.FailOrphans(ctx, GenerateKind, w.olderThan, orphanFailure)
	if n > 0 {
		w.logger.WarnContext(ctx, "failed generations whose jobs were lost", "count", n)
	}
	return err
}

// ModerateArgs are the arguments of an image check job.
type ModerateArgs struct {
	WallpaperID uuid.UUID `json:"wallpaper_id"`
	Attempt     int       `json:"attempt"`
}

// Kind implements river.JobArgs.
func (ModerateArgs) Kind() string { return "moderate_wallpaper" }

type moderateWorker struct {
	river.WorkerDefaults[ModerateArgs]
	moderation Moderator
}

func (w *moderateWorker) Work(ctx context.Context, job *river.Job[ModerateArgs]) error {
	return w.moderation.Check(ctx, job.Args.WallpaperID, max(job.Args.Attempt, 1))
}

// ModerationTimeoutArgs are the arguments of the follow-up of an
// unanswered image check.
type ModerationTimeoutArgs struct {
	WallpaperID uuid.UUID `json:"wallpaper_id"`
	Attempt     int       `json:"attempt"`
}

// Kind implements river.JobArgs.
func (ModerationTimeoutArgs) Kind() string { return "moderation_timeout" }

type moderationTimeoutWorker struct {
	river.WorkerDefaults[ModerationTimeoutArgs]
	moderation Moderator
}

func (w *moderationTimeoutWorker) Work(ctx context.Context, job *river.Job[ModerationTimeoutArgs]) error {
	return w.moderation.Timeout(ctx, job.Args.WallpaperID, job.Args.Attempt)
}

// SyncObjectsArgs are the arguments of a storage sync job.
type SyncObjectsArgs struct {
	WallpaperID uuid.UUID `json:"wallpaper_id"`
}

// Kind implements river.JobArgs.
func (SyncObjectsArgs) Kind() string { return "sync_objects" }

type syncObjectsWorker struct {
	river.WorkerDefaults[SyncObjectsArgs]
	publisher Publisher
}

func (w *syncObjectsWorker) Work(ctx context.Context, job *river.Job[SyncObjectsArgs]) error {
	return w.publisher.Sync(ctx, job.Args.WallpaperID)
}

// NotifyArgs are the arguments of a subscribe message job.
type NotifyArgs struct {
	GenerationID uuid.UUID `json:"generation_id"`
}

// Kind implements river.JobArgs.
func (NotifyArgs) Kind() string { return "notify_generation" }

type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	notifier Notifier
}

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	return w.notifier.Send(ctx, job.Args.GenerationID)
}

// StorageSweepArgs are the arguments of the periodic storage sweep.
type StorageSweepArgs struct{}

// Kind implements river.JobArgs.
func (StorageSweepArgs) Kind() string { return "sweep_storage" }

type storageSweepWorker struct {
	river.WorkerDefaults[StorageSweepArgs]
	unsettled UnsettledFinder
	logger    *slog.Logger
}

// Work queues a storage sync for each wallpaper whose objects are not
// where its state says: what a lost sync job left behind.
func (w *storageSweepWorker) Work(ctx context.Context, _ *river.Job[StorageSweepArgs]) error {
	ids, err := w.unsettled.Unsettled(ctx, 1000)
	if err != nil || len(ids) == 0 {
		return err
	}
	w.logger.WarnContext(ctx, "wallpapers whose objects are not where their state says: syncing", "count", len(ids))
	client := river.ClientFromContext[pgx.Tx](ctx)
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: SyncObjectsArgs{WallpaperID: id}}
	}
	_, err = client.InsertMany(ctx, params)
	return err
}

// PruneSessionsArgs are the arguments of the periodic refresh token
// cleanup.
type PruneSessionsArgs struct{}

// Kind implements river.JobArgs.
func (PruneSessionsArgs) Kind() string { return "prune_refresh_tokens" }

type pruneSessionsWorker struct {
	river.WorkerDefaults[PruneSessionsArgs]
	sessions   SessionPruner
	maxAge     time.Duration
	rotatedFor time.Duration
	logger     *slog.Logger
}

func (w *pruneSessionsWorker) Work(ctx context.Context, _ *river.Job[PruneSessionsArgs]) error {
	n, err := w.sessions.PruneRefreshTokens(ctx, w.maxAge, w.rotatedFor)
	if n > 0 {
		w.logger.InfoContext(ctx, "pruned refresh tokens", "count", n)
	}
	return err
}

// backoff retries after base, 2·base, 4·base… up to max, with ±20 %
// jitter so that a burst of failures does not retry in lockstep.
type backoff struct{ base, max time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base << min(max(job.Attempt-1, 0), 16)
	if d > b.max || d <= 0 {
		d = b.max
	}
	jitter := time.Duration(float64(d) * (rand.Float64()*0.4 - 0.2))
	return time.Now().Add(d + jitter)
}

// quieter passes on River's own log records from warnings up: its
// info-level chatter (producer counts every few seconds) drowns the
// service's logs.
type quieter struct{ slog.Handler }

func (h quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{h.Handler.WithAttrs(as)} }
func (h quieter) WithGroup(name string) slog.Handler    { return quieter{h.Handler.WithGroup(name)} }
