package wallpaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/uuid"
)

// PublishStore is what the storage sync needs from the database.
type PublishStore interface {
	// Wallpaper returns one wallpaper, or ErrNotFound.
	Wallpaper(ctx context.Context, id uuid.UUID) (*Wallpaper, error)
	// SetObjects records that the display image and thumbnail are now at
	// imageKey and thumbKey, published or not, if the wallpaper's state
	// still wants that (ShouldPublish == published), and says whether it
	// did.
	SetObjects(ctx context.Context, id uuid.UUID, published bool, imageKey, thumbKey string) (bool, error)
	// Serialize runs fn while no other sync of wallpaper id runs, on any
	// replica.
	Serialize(ctx context.Context, id uuid.UUID, fn func(context.Context) error) error
}

// ObjectMover copies and deletes stored objects.
type ObjectMover interface {
	Copy(ctx context.Context, from, to string) error
	Delete(ctx context.Context, key string) error
}

// Publisher keeps a wallpaper's objects where its state says: under the
// public prefix when anyone may see it, under the private prefix
// otherwise. A move copies first and deletes last, so that nothing is ever
// missing: objects become public before the state is committed visible,
// and are withdrawn after it is committed hidden. Every change of state
// queues a sync in its own transaction, so a crash in between is finished
// on restart; a periodic sweep finds what a lost job left behind.
type Publisher struct {
	store   PublishStore
	objects ObjectMover
	logger  *slog.Logger
}

// NewPublisher returns the storage sync.
func NewPublisher(store PublishStore, objects ObjectMover, logger *slog.Logger) *Publisher {
	return &Publisher{store: store, objects: objects, logger: logger}
}

// Sync moves wallpaper id's display objects where its state says.
func (p *Publisher) Sync(ctx context.Context, id uuid.UUID) error {
	return p.store.Serialize(ctx, id, func(ctx context.Context) error { return p.sync(ctx, id) })
}

func (p *Publisher) sync(ctx context.Context, id uuid.UUID) error {
	w, err := p.store.Wallpaper(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted: its objects went with it
	}
	if err != nil {
		return err
	}
	want := w.ShouldPublish()
	from := []string{w.ImageKey, w.ThumbnailKey}
	// Keys made before the prefixes (wallpapers/…) are served as public.
	atPublic := !strings.HasPrefix(w.ImageKey, PrivatePrefix)
	if w.Published == want && atPublic == want {
		// Settled. A crash between a copy and its commit can leave copies at
		// the other place: remove them (a no-op when there are none).
		return p.deleteAll(ctx, w, counterparts(from, !want))
	}
	to := counterparts(from, want)
	for i := range from {
		if err := p.objects.Copy(ctx, from[i], to[i]); err != nil {
			return fmt.Errorf("moving %s: %w", from[i], storageError(err))
		}
	}
	applied, err := p.store.SetObjects(ctx, id, want, to[0], to[1])
	if err != nil {
		return err
	}
	if !applied {
		// The state moved on while we copied; its own sync follows.
		return p.deleteAll(ctx, w, to)
	}
	// Withdrawn (or no longer needed) at the old place.
	return p.deleteAll(ctx, w, from)
}

// deleteAll removes keys, never one the wallpaper's row names now.
func (p *Publisher) deleteAll(ctx context.Context, w *Wallpaper, keys []string) error {
	cur, err := p.store.Wallpaper(ctx, w.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, k := range keys {
		if cur != nil && (k == cur.ImageKey || k == cur.ThumbnailKey || k == cur.MasterKey) {
			continue
		}
		if err := p.objects.Delete(ctx, k); err != nil {
			return fmt.Errorf("withdrawing %s: %w", k, storageError(err))
		}
	}
	return nil
}

// counterparts are keys' names at the public (public true) or private
// place. Keys made before the prefixes (wallpapers/…) count as public.
func counterparts(keys []string, public bool) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		name := strings.TrimPrefix(strings.TrimPrefix(k, PrivatePrefix), PublicPrefix)
		if public {
			out[i] = PublicPrefix + name
		} else {
			out[i] = PrivatePrefix + name
		}
	}
	return out
}
