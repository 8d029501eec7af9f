package worker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A replica is one wallpaperd process among those sharing the database.
// Its identity (REPLICA_ID) is stable across restarts and is River's client
// id, so River's attempted_by says which replica runs a job. The identity
// is held by a session advisory lock on a connection of its own: at most
// one live process holds an id (River requires it), and Postgres lets the
// lock go as soon as a killed process's connection closes, so a restarting
// replica knows at once that the jobs still marked running under its id
// are orphans and hands them back to the queue before its workers start.
// A replica that dies and does not come back stops beating its row in
// replicas; a survivor that sees the row older than REPLICA_DEAD_AFTER
// deletes it and hands back its running jobs in the same statement.
//
// Handing back a running job has no River API: JobRetry leaves running jobs
// alone and River's rescuer waits RescueStuckJobsAfter for every job. The
// statement in reclaimSQL does what the rescuer's JobRescueMany does
// (append an error, count the rescue in metadata, cancel a job whose
// cancellation was asked), to the jobs whose last attempt is the dead
// replica's, making them available at once.
//
// A replica presumed dead may be alive (paused, cut off from the database):
// its attempts are fenced by the generation's lease (wallpaper.JobStore),
// and when it notices (its row gone) it cancels them.

// DefaultReplicaDeadAfter is REPLICA_DEAD_AFTER's default.
const DefaultReplicaDeadAfter = 30 * time.Second

var replicaIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidReplicaID says why id cannot name a replica, or nil.
func ValidReplicaID(id string) error {
	if !replicaIDPattern.MatchString(id) {
		return errors.New("must be 1 to 100 characters, letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// ReplicaConfig names and tunes a Replica.
type ReplicaConfig struct {
	// ID is the replica's stable identity (ValidReplicaID).
	ID string
	// DeadAfter is how long a replica may go without a heartbeat before
	// the others take its jobs; it beats every third of it. 0: 30s.
	DeadAfter time.Duration
	Logger    *slog.Logger
}

// Replica is this process's identity, heartbeat and reclaiming of dead
// replicas' jobs.
type Replica struct {
	pool      *pgxpool.Pool
	id        string
	deadAfter time.Duration
	logger    *slog.Logger
	lockKey   int64

	mu          sync.Mutex
	conn        *pgx.Conn // holds the identity lock; nil when lost
	incarnation uuid.UUID
	fenced      chan struct{} // closed when this incarnation is presumed dead
}

// NewReplica checks the configuration; nothing runs until Join.
func NewReplica(pool *pgxpool.Pool, cfg ReplicaConfig) (*Replica, error) {
	if err := ValidReplicaID(cfg.ID); err != nil {
		return nil, fmt.Errorf("worker: replica id %q %w", cfg.ID, err)
	}
	if cfg.DeadAfter == 0 {
		cfg.DeadAfter = DefaultReplicaDeadAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := fnv.New64a()
	h.Write([]byte("wallpaperd/replica/" + cfg.ID))
	return &Replica{pool: pool, id: cfg.ID, deadAfter: cfg.DeadAfter, logger: cfg.Logger,
		lockKey: int64(h.Sum64()), fenced: make(chan struct{})}, nil
}

// ID is the replica's identity.
func (r *Replica) ID() string { return r.id }

// errFenced is the cause of the attempts' contexts cancelled because this
// replica was presumed dead.
var errFenced = errors.New("this replica was presumed dead: its jobs run elsewhere")

// Watch returns ctx, cancelled with cause errFenced should this replica
// learn it was presumed dead (its jobs handed to others) while the attempt
// runs.
func (r *Replica) Watch(ctx context.Context) (context.Context, context.CancelFunc) {
	r.mu.Lock()
	fenced := r.fenced
	r.mu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-fenced:
			cancel(errFenced)
		case <-done:
		case <-ctx.Done():
		}
	}()
	return ctx, func() { close(done); cancel(context.Canceled) }
}

// Join takes the identity, registers a new incarnation and hands back to
// the queue the jobs a previous process under this identity left running.
// Call it before the workers start. A live process holding the identity
// makes it fail after DeadAfter and a few seconds; one whose heartbeat is
// older than DeadAfter (a crashed host whose connection Postgres has not
// dropped yet) has its connection terminated.
func (r *Replica) Join(ctx context.Context) (reclaimed int, err error) {
	conn, err := r.lock(ctx, time.Now().Add(r.deadAfter+5*time.Second))
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conn = conn
	r.incarnation = uuid.New()
	err = pgx.BeginFunc(ctx, r.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO replicas (id, incarnation) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET incarnation = EXCLUDED.incarnation, started_at = now(), heartbeat_at = now()`,
			r.id, r.incarnation); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `WITH jobs AS (`+reclaimSQL("= $1")+`) SELECT count(*) FROM jobs`,
			r.id, "restarted").Scan(&reclaimed)
	})
	if err != nil {
		return 0, fmt.Errorf("worker: registering replica %s: %w", r.id, err)
	}
	if reclaimed > 0 {
		r.logger.WarnContext(ctx, "jobs this replica left running when it stopped are queued again", "replica", r.id, "jobs", reclaimed)
	}
	return reclaimed, nil
}

// reclaimSQL hands back the running jobs whose last attempt is by a
// replica that match (an SQL condition on the replica's id) accepts ($2
// says why), as River's rescuer would: the attempt
// counts, its error is appended, a job whose cancellation was asked is
// cancelled, one out of attempts is discarded (the orphan sweep then fails
// its generation with a refund), the others become available now.
// Checked against River v0.51.1's river_job (internal/worker tests run it
// with real River clients).
func reclaimSQL(match string) string {
	return `UPDATE river_job j SET
		state = (CASE WHEN j.metadata ? 'cancel_attempted_at' THEN 'cancelled'
			WHEN j.attempt < j.max_attempts THEN 'available' ELSE 'discarded' END)::river_job_state,
		scheduled_at = CASE WHEN j.metadata ? 'cancel_attempted_at' OR j.attempt >= j.max_attempts
			THEN j.scheduled_at ELSE now() END,
		finalized_at = CASE WHEN j.metadata ? 'cancel_attempted_at' OR j.attempt >= j.max_attempts
			THEN now() END,
		errors = array_append(j.errors, jsonb_build_object('at', now(), 'attempt', j.attempt,
			'error', 'replica ' || j.attempted_by[array_length(j.attempted_by, 1)] || ' ' || $2::text || ': job reclaimed',
			'trace', '')),
		metadata = j.metadata || jsonb_build_object('river:rescue_count', COALESCE(CASE
			WHEN jsonb_typeof(j.metadata -> 'river:rescue_count') = 'number'
			THEN (j.metadata ->> 'river:rescue_count')::int END, 0) + 1)
	WHERE j.state = 'running' AND j.attempted_by[array_length(j.attempted_by, 1)] ` + match + `
	RETURNING j.id`
}

// lock takes the identity's advisory lock on a connection of its own,
// retrying until deadline.
func (r *Replica) lock(ctx context.Context, deadline time.Time) (*pgx.Conn, error) {
	pc, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("worker: replica %s: %w", r.id, err)
	}
	conn := pc.Hijack()
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, r.lockKey).Scan(&got); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("worker: replica %s: taking its identity: %w", r.id, err)
		}
		if got {
			return conn, nil
		}
		// Held: by a live process with this id, or by one that died where
		// Postgres cannot see its connection close (a host lost). Its
		// heartbeat tells them apart: stale, or its row already removed by
		// a survivor that reclaimed its jobs.
		var stale []int32
		rows, err := conn.Query(ctx, `SELECT l.pid FROM pg_locks l
			WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
			AND l.classid::bigint = $1 AND l.objid::bigint = $2
			AND NOT EXISTS (SELECT 1 FROM replicas r
				WHERE r.id = $3 AND r.heartbeat_at >= now() - make_interval(secs => $4))`,
			int64(uint64(r.lockKey)>>32), int64(uint32(r.lockKey)), r.id, r.deadAfter.Seconds())
		if err == nil {
			stale, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		}
		if err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("worker: replica %s: looking at its identity's holder: %w", r.id, err)
		}
		for _, pid := range stale {
			r.logger.WarnContext(ctx, "the identity is held by a process that stopped beating: terminating its connection", "replica", r.id, "pid", pid)
			if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
				r.logger.WarnContext(ctx, "terminating the connection", "replica", r.id, "pid", pid, "err", err)
			}
		}
		if time.Now().After(deadline) {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("worker: REPLICA_ID %q is in use by another running wallpaperd: give every replica its own REPLICA_ID", r.id)
		}
		select {
		case <-ctx.Done():
			conn.Close(context.WithoutCancel(ctx))
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Run beats the heartbeat and reclaims dead replicas' jobs every third of
// DeadAfter until ctx ends.
func (r *Replica) Run(ctx context.Context) {
	t := time.NewTicker(r.deadAfter / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.beat(ctx); err != nil && ctx.Err() == nil {
			r.logger.WarnContext(ctx, "replica heartbeat", "replica", r.id, "err", err)
		}
		if _, err := r.ReclaimDead(ctx); err != nil && ctx.Err() == nil {
			r.logger.WarnContext(ctx, "reclaiming dead replicas' jobs", "replica", r.id, "err", err)
		}
	}
}

// beat renews the heartbeat. A replica that finds its row taken (it was
// presumed dead and its jobs handed to others) cancels its attempts and
// registers again. One that merely cannot reach the database keeps its
// attempts: they cannot record anything meanwhile, and once back they
// record only if no later attempt took their generations over.
func (r *Replica) beat(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil || r.conn.IsClosed() {
		// The identity's connection broke: take the lock again, once.
		conn, err := r.lock(ctx, time.Now())
		if err != nil {
			r.conn = nil
			return err
		}
		r.conn = conn
	}
	bctx, cancel := context.WithTimeout(ctx, r.deadAfter/3)
	defer cancel()
	tag, err := r.conn.Exec(bctx, `UPDATE replicas SET heartbeat_at = now() WHERE id = $1 AND incarnation = $2`, r.id, r.incarnation)
	if err != nil {
		r.conn.Close(context.WithoutCancel(ctx))
		return err
	}
	if tag.RowsAffected() == 0 {
		r.fenceLocked(ctx, "its heartbeat row was taken: another replica presumed it dead")
		r.incarnation = uuid.New()
		if _, err := r.conn.Exec(bctx, `INSERT INTO replicas (id, incarnation) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET incarnation = EXCLUDED.incarnation, started_at = now(), heartbeat_at = now()`,
			r.id, r.incarnation); err != nil {
			return err
		}
	}
	return nil
}

// fenceLocked cancels the attempts running now; later ones are watched
// anew.
func (r *Replica) fenceLocked(ctx context.Context, why string) {
	r.logger.ErrorContext(ctx, "replica presumed dead: cancelling its running attempts", "replica", r.id, "why", why)
	close(r.fenced)
	r.fenced = make(chan struct{})
}

// ReclaimDead removes the replicas whose heartbeat is older than DeadAfter
// and hands their running jobs back to the queue, in one statement (two
// survivors cannot both take a job: the second finds the row gone). It
// returns the number of jobs handed back.
func (r *Replica) ReclaimDead(ctx context.Context) (int, error) {
	var dead []string
	var jobs int
	err := r.pool.QueryRow(ctx, `WITH dead AS (
			DELETE FROM replicas WHERE heartbeat_at < now() - make_interval(secs => $3) AND id <> $1 RETURNING id
		), jobs AS (`+reclaimSQL("IN (SELECT id FROM dead WHERE id <> $1)")+`)
		SELECT COALESCE((SELECT array_agg(id) FROM dead), '{}'), (SELECT count(*) FROM jobs)`,
		r.id, "stopped beating", r.deadAfter.Seconds()).Scan(&dead, &jobs)
	if err != nil {
		return 0, fmt.Errorf("worker: reclaiming dead replicas: %w", err)
	}
	if len(dead) > 0 {
		r.logger.WarnContext(ctx, "replicas stopped beating: their running jobs are queued again", "dead", dead, "jobs", jobs)
	}
	return jobs, nil
}

// Leave marks this replica gone (the others hand back at once whatever
// its stopped workers left running) and lets its identity go.
func (r *Replica) Leave(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil
	}
	_, err := r.conn.Exec(ctx, `UPDATE replicas SET heartbeat_at = '-infinity' WHERE id = $1 AND incarnation = $2`, r.id, r.incarnation)
	r.conn.Close(context.WithoutCancel(ctx))
	r.conn = nil
	if err != nil {
		return fmt.Errorf("worker: replica %s leaving: %w", r.id, err)
	}
	return nil
}
