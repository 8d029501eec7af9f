package wallpaper

import (
	"context"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// ErrNotYours is another user's public wallpaper: visible, not changeable.
var ErrNotYours = failure.New(failure.Forbidden, "forbidden", "this wallpaper belongs to someone else")

// ErrUnderReview refuses to make public a wallpaper held for review: only
// an admin releases it.
var ErrUnderReview = failure.New(failure.Conflict, "conflict", "this wallpaper is held for review and cannot be made public until it is released")

// errWallpaperNotFound is what anyone but the owner gets for a private one.
var errWallpaperNotFound = ErrNotFound.With("wallpaper not found", nil)

// GalleryReader reads wallpapers, newest first.
type GalleryReader interface {
	// Feed lists public wallpapers older than after (nil: the newest).
	Feed(ctx context.Context, after *Cursor, limit int) ([]Wallpaper, error)
	// UserWallpapers lists one user's wallpapers, private ones too.
	UserWallpapers(ctx context.Context, userID uuid.UUID, after *Cursor, limit int) ([]Wallpaper, error)
	// Wallpaper returns one wallpaper, or ErrNotFound.
	Wallpaper(ctx context.Context, id uuid.UUID) (*Wallpaper, error)
}

// LikeStore keeps likes and their counts exact.
type LikeStore interface {
	// LikedAmong says which of ids userID likes.
	LikedAmong(ctx context.Context, userID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]bool, error)
	// SetLike makes userID like (or not) wallpaper id, after check allows
	// it (check sees the wallpaper's id, author id and visibility), and
	// returns the count exact at a moment after the change. Idempotent.
	SetLike(ctx context.Context, userID, id uuid.UUID, liked bool, check func(*Wallpaper) error) (int, error)
}

// GalleryWriter changes wallpapers through a check run on the locked row
// inside the store's transaction.
type GalleryWriter interface {
	// UpdateWallpaper locks the row, lets change edit it, saves it.
	UpdateWallpaper(ctx context.Context, id uuid.UUID, change func(*Wallpaper) error) (*Wallpaper, error)
	// DeleteWallpaper locks the row, runs check, deletes the row and
	// schedules its objects' removal in the same transaction.
	DeleteWallpaper(ctx context.Context, id uuid.UUID, check func(*Wallpaper) error) error
	// LogOriginalDownload records that userID downloaded the master of
	// wallpaper id (kept for the retention period).
	LogOriginalDownload(ctx context.Context, userID, id uuid.UUID) error
}

// Gallery is the public feed, each user's collection, likes, visibility
// and deletion, with the ownership rules.
type Gallery struct {
	read    GalleryReader
	write   GalleryWriter
	likes   LikeStore
	cursors CursorCodec
}

// NewGallery returns a Gallery.
func NewGallery(read GalleryReader, write GalleryWriter, likes LikeStore, cursors CursorCodec) *Gallery {
	return &Gallery{read: read, write: write, likes: likes, cursors: cursors}
}

func wallpaperPos(w Wallpaper) Cursor { return Cursor{CreatedAt: w.CreatedAt, ID: w.ID} }

// Feed pages through public wallpapers. With a caller (non-nil), each item
// says whether the caller likes it.
func (g *Gallery) Feed(ctx context.Context, caller *uuid.UUID, cursor string, limit int) (Page[Wallpaper], error) {
	return g.list(ctx, ListFeed, caller, cursor, limit, func(after *Cursor, n int) ([]Wallpaper, error) {
		return g.read.Feed(ctx, after, n)
	})
}

// Mine pages through the caller's own wallpapers, private ones too.
func (g *Gallery) Mine(ctx context.Context, caller uuid.UUID, cursor string, limit int) (Page[Wallpaper], error) {
	return g.list(ctx, ListMyWallpapers, &caller, cursor, limit, func(after *Cursor, n int) ([]Wallpaper, error) {
		return g.read.UserWallpapers(ctx, caller, after, n)
	})
}

func (g *Gallery) list(ctx context.Context, list List, caller *uuid.UUID, cursor string, limit int,
	fetch func(*Cursor, int) ([]Wallpaper, error)) (Page[Wallpaper], error) {
	if err := CheckLimit(limit); err != nil {
		return Page[Wallpaper]{}, err
	}
	after, err := g.cursors.Decode(list, cursor)
	if err != nil {
		return Page[Wallpaper]{}, err
	}
	items, err := fetch(after, limit+1)
	if err != nil {
		return Page[Wallpaper]{}, err
	}
	page := pageOf(g.cursors, list, items, limit, wallpaperPos)
	if caller != nil {
		if err := g.MarkLiked(ctx, *caller, page.Items); err != nil {
			return Page[Wallpaper]{}, err
		}
	}
	return page, nil
}

// MarkLiked sets on each of ws (the items of a public page) whether the
// caller likes it, with one look-up for them all.
func (g *Gallery) MarkLiked(ctx context.Context, caller uuid.UUID, ws []Wallpaper) error {
	if len(ws) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(ws))
	for i := range ws {
		ids[i] = ws[i].ID
	}
	liked, err := g.likes.LikedAmong(ctx, caller, ids)
	if err != nil {
		return err
	}
	for i := range ws {
		l := liked[ws[i].ID]
		ws[i].Liked = &l
	}
	return nil
}

// canSee: a visible wallpaper is everyone's to see (Wallpaper.Visible is
// the one rule), any other only its owner's; to anyone else it does not
// exist. caller is uuid.Nil for an anonymous one.
func canSee(caller uuid.UUID, w *Wallpaper) error {
	if w.Visible || (caller != uuid.Nil && w.Author.ID == caller) {
		return nil
	}
	return errWallpaperNotFound
}

// canChange: only the owner changes a wallpaper; others get 404 for one
// they cannot see (it does not exist for them) and 403 for a visible one.
func canChange(caller uuid.UUID, w *Wallpaper) error {
	if err := canSee(caller, w); err != nil {
		return err
	}
	if w.Author.ID != caller {
		return ErrNotYours
	}
	return nil
}

// Wallpaper returns one wallpaper the caller may see; with a caller (not
// nil), whether they like it.
func (g *Gallery) Wallpaper(ctx context.Context, caller *uuid.UUID, id uuid.UUID) (*Wallpaper, error) {
	w, err := g.read.Wallpaper(ctx, id)
	if err != nil {
		return nil, err
	}
	who := uuid.Nil
	if caller != nil {
		who = *caller
	}
	if err := canSee(who, w); err != nil {
		return nil, err
	}
	ws := []Wallpaper{*w}
	if caller != nil {
		if err := g.MarkLiked(ctx, *caller, ws); err != nil {
			return nil, err
		}
	}
	return &ws[0], nil
}

// SetPublic shows or hides the caller's wallpaper in the gallery. Making
// public one never checked sends it to the image check first; one held
// for review stays private until an admin releases it.
func (g *Gallery) SetPublic(ctx context.Context, caller, id uuid.UUID, public bool) (*Wallpaper, error) {
	return g.write.UpdateWallpaper(ctx, id, func(w *Wallpaper) error {
		if err := canChange(caller, w); err != nil {
			return err
		}
		if public && w.Review == ReviewHeld {
			return ErrUnderReview
		}
		if public && w.Review == ReviewUnchecked {
			w.Review = ReviewPending
		}
		w.Public = public
		return nil
	})
}

// Original returns the caller's own wallpaper for a download of its master
// (the image without the visible label) and records the download: the
// owner may have it, and must label what they publish (the user
// agreement). Anyone else: 404, or 403 for a visible one.
func (g *Gallery) Original(ctx context.Context, caller, id uuid.UUID) (*Wallpaper, error) {
	w, err := g.read.Wallpaper(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := canChange(caller, w); err != nil {
		return nil, err
	}
	if err := g.write.LogOriginalDownload(ctx, caller, id); err != nil {
		return nil, err
	}
	return w, nil
}

// Delete removes the caller's wallpaper; its objects leave storage after
// the commit, retried until they are gone.
func (g *Gallery) Delete(ctx context.Context, caller, id uuid.UUID) error {
	return g.write.DeleteWallpaper(ctx, id, func(w *Wallpaper) error { return canChange(caller, w) })
}

// SetLike likes or unlikes a wallpaper the caller may see, idempotently,
// and returns the new count.
func (g *Gallery) SetLike(ctx context.Context, caller, id uuid.UUID, liked bool) (int, error) {
	return g.likes.SetLike(ctx, caller, id, liked, func(w *Wallpaper) error { return canSee(caller, w) })
}
