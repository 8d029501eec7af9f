package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// RevocationSource lists the accounts whose access tokens must be
// refused: the banned ones, and those deleted within the last window.
type RevocationSource interface {
	Revoked(ctx context.Context, deletedWithin time.Duration) (banned, deleted []uuid.UUID, err error)
}

// Revocations is this replica's set of accounts whose access tokens are
// refused although they verify: banned accounts (403 banned) and deleted
// ones (401). Access tokens are stateless, so the set is what stops them
// before they expire. It is reloaded from Postgres every interval by Run,
// and changed at once by the bans and deletions made on this replica: a
// ban or a deletion made elsewhere takes effect here within the interval
// (while Postgres answers; a failed reload keeps the last set and is
// retried at the next tick).
type Revocations struct {
	source   RevocationSource
	interval time.Duration
	window   time.Duration // how long a deleted account's tokens can live
	logger   *slog.Logger
	now      func() time.Time

	mu      sync.RWMutex
	banned  map[uuid.UUID]bool
	deleted map[uuid.UUID]bool
	// local are the changes made on this replica lately: a reload that
	// started before one of them cannot have seen it, so they are applied
	// again on top of it.
	local []localChange
}

type localChange struct {
	at      time.Time
	id      uuid.UUID
	banned  *bool // set: banned or unbanned
	deleted bool
}

// NewRevocations returns an empty set reloaded from source every interval;
// window is the access token TTL (a deleted account's tokens live no
// longer).
func NewRevocations(source RevocationSource, interval, window time.Duration, logger *slog.Logger) *Revocations {
	return &Revocations{source: source, interval: interval, window: window, logger: logger, now: time.Now,
		banned: map[uuid.UUID]bool{}, deleted: map[uuid.UUID]bool{}}
}

// Interval is the bound on how late a ban or deletion made on another
// replica takes effect here.
func (r *Revocations) Interval() time.Duration { return r.interval }

// Reload replaces the set with the database's.
func (r *Revocations) Reload(ctx context.Context) error {
	start := r.now()
	banned, deleted, err := r.source.Revoked(ctx, r.window)
	if err != nil {
		return err
	}
	b := make(map[uuid.UUID]bool, len(banned))
	for _, id := range banned {
		b[id] = true
	}
	d := make(map[uuid.UUID]bool, len(deleted))
	for _, id := range deleted {
		d[id] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.local[:0]
	for _, c := range r.local {
		// A change is recorded after its commit: one recorded before this
		// reload began was committed before its query, which saw it.
		if c.at.Before(start) {
			continue
		}
		kept = append(kept, c)
		if c.banned != nil {
			b[c.id] = *c.banned
		}
		if c.deleted {
			d[c.id] = true
		}
	}
	r.local = kept
	r.banned, r.deleted = b, d
	return nil
}

// Run reloads the set every interval until ctx ends.
func (r *Revocations) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
				r.logger.WarnContext(ctx, "reloading banned and deleted accounts: keeping the last set", "err", err)
			}
		}
	}
}

// Banned records a ban made on this replica.
func (r *Revocations) Banned(id uuid.UUID) { r.change(localChange{id: id, banned: ptr(true)}) }

// Unbanned records an unban made on this replica.
func (r *Revocations) Unbanned(id uuid.UUID) { r.change(localChange{id: id, banned: ptr(false)}) }

// Deleted records an account deleted on this replica.
func (r *Revocations) Deleted(id uuid.UUID) { r.change(localChange{id: id, deleted: true}) }

func (r *Revocations) change(c localChange) {
	c.at = r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.local = append(r.local, c)
	if c.banned != nil {
		r.banned[c.id] = *c.banned
	}
	if c.deleted {
		r.deleted[c.id] = true
	}
}

// Check is nil for an account in good standing, ErrBanned for a banned
// one and ErrUnauthenticated for a deleted one.
func (r *Revocations) Check(id uuid.UUID) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch {
	case r.deleted[id]:
		return ErrUnauthenticated.With("the account has been deleted", nil)
	case r.banned[id]:
		return ErrBanned
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
