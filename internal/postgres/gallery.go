package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Gallery reads and changes wallpapers and likes; it satisfies
// wallpaper.GalleryReader, wallpaper.GalleryWriter and wallpaper.LikeStore.
type Gallery struct {
	pool   *pgxpool.Pool
	jobs   Jobs
	hidden Hidden // nil: nobody is told
}

// NewGallery returns the gallery store; jobs removes a deleted wallpaper's
// objects.
func NewGallery(pool *pgxpool.Pool, jobs Jobs) *Gallery {
	return &Gallery{pool: pool, jobs: jobs}
}

const wallpaperFrom = ` FROM wallpapers w JOIN users u ON u.id = w.user_id `

// listColumns are wallpaperColumns without the model parameters (read as
// NULL), which only the detail shows: decoding every item's JSON was a
// seventh of the feed's CPU time (make bench, docs/benchmarks.md).
var listColumns = strings.Replace(wallpaperColumns, "w.params", "NULL::jsonb", 1)

// The feed and own-list statements: first page and next pages apart, so
// that each keeps its index plan under pgx's prepared statements.
var (
	feedFirst = `SELECT ` + listColumns + wallpaperFrom +
		`WHERE w.visible ORDER BY w.created_at DESC, w.id DESC LIMIT $1`
	feedAfter = `SELECT ` + listColumns + wallpaperFrom +
		`WHERE w.visible AND (w.created_at, w.id) < ($2, $3) ORDER BY w.created_at DESC, w.id DESC LIMIT $1`
	mineFirst = `SELECT ` + listColumns + wallpaperFrom +
		`WHERE w.user_id = $2 ORDER BY w.created_at DESC, w.id DESC LIMIT $1`
	mineAfter = `SELECT ` + listColumns + wallpaperFrom +
		`WHERE w.user_id = $4 AND (w.created_at, w.id) < ($2, $3) ORDER BY w.created_at DESC, w.id DESC LIMIT $1`
)

// ListSQL exposes the listing statements for the benchmark's raw-SQL
// baseline and the query-plan test: feed first page ($1 limit), feed next
// page ($1 limit, $2 created_at, $3 id), own list first page ($1 limit,
// $2 user) and next page ($1, $2, $3 as the feed, $4 user).
var ListSQL = struct{ FeedFirst, FeedAfter, MineFirst, MineAfter string }{feedFirst, feedAfter, mineFirst, mineAfter}

// The detail statement and the caller's likes among a page of ids.
var wallpaperByID = `SELECT ` + wallpaperColumns + wallpaperFrom + `WHERE w.id = $1`

const likedAmong = `SELECT wallpaper_id FROM likes WHERE user_id = $1 AND wallpaper_id = ANY($2)`

// ItemSQL exposes, for the benchmark's raw-SQL baseline like ListSQL, the
// detail statement ($1 id) and the liked-flags statement ($1 user, $2 ids).
var ItemSQL = struct{ Wallpaper, LikedAmong string }{wallpaperByID, likedAmong}

// Feed implements wallpaper.GalleryReader.
func (s *Gallery) Feed(ctx context.Context, after *wallpaper.Cursor, limit int) (_ []wallpaper.Wallpaper, err error) {
	defer translate(&err)
	if after == nil {
		return s.query(ctx, feedFirst, limit)
	}
	return s.query(ctx, feedAfter, limit, after.CreatedAt, after.ID)
}

// UserWallpapers implements wallpaper.GalleryReader.
func (s *Gallery) UserWallpapers(ctx context.Context, userID uuid.UUID, after *wallpaper.Cursor, limit int) (_ []wallpaper.Wallpaper, err error) {
	defer translate(&err)
	if after == nil {
		return s.query(ctx, mineFirst, limit, userID)
	}
	return s.query(ctx, mineAfter, limit, after.CreatedAt, after.ID, userID)
}

func (s *Gallery) query(ctx context.Context, sql string, args ...any) ([]wallpaper.Wallpaper, error) {
	return s.queryTx(ctx, s.pool, sql, args...)
}

// queryTx lists wallpapers through q (the pool or a transaction).
func (s *Gallery) queryTx(ctx context.Context, q querier, sql string, args ...any) ([]wallpaper.Wallpaper, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing wallpapers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (wallpaper.Wallpaper, error) {
		w, err := scanWallpaper(r)
		if err != nil {
			return wallpaper.Wallpaper{}, err
		}
		return *w, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing wallpapers: %w", err)
	}
	return out, nil
}

// Wallpaper implements wallpaper.GalleryReader.
func (s *Gallery) Wallpaper(ctx context.Context, id uuid.UUID) (_ *wallpaper.Wallpaper, err error) {
	defer translate(&err)
	w, err := scanWallpaper(s.pool.QueryRow(ctx, wallpaperByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wallpaper.ErrNotFound.With("wallpaper not found", nil)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: wallpaper %s: %w", id, err)
	}
	return w, nil
}

// lockWallpaper reads a wallpaper FOR UPDATE inside tx.
func lockWallpaper(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*wallpaper.Wallpaper, error) {
	w, err := scanWallpaper(tx.QueryRow(ctx, `SELECT `+wallpaperColumns+wallpaperFrom+`WHERE w.id = $1 FOR UPDATE OF w`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wallpaper.ErrNotFound.With("wallpaper not found", nil)
	}
	return w, err
}

// UpdateWallpaper implements wallpaper.GalleryWriter; the public flag and
// the review state are changeable. A change to either queues, in the same
// transaction, the storage sync (and the image check when the review
// became pending), so the objects follow the state even across a crash.
func (s *Gallery) UpdateWallpaper(ctx context.Context, id uuid.UUID, change func(*wallpaper.Wallpaper) error) (_ *wallpaper.Wallpaper, err error) {
	defer translate(&err)
	var out *wallpaper.Wallpaper
	var h hidden
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := lockWallpaper(ctx, tx, id)
		if err != nil {
			return err
		}
		before := *w
		if err := change(w); err != nil {
			return err
		}
		if w.Public == before.Public && w.Review == before.Review {
			out = w
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE wallpapers SET public = $2, review = $3 WHERE id = $1`, id, w.Public, w.Review); err != nil {
			return err
		}
		// Read back: visible is derived by the database.
		if out, err = scanWallpaper(tx.QueryRow(ctx, wallpaperByID, id)); err != nil {
			return err
		}
		h.left(&before, out)
		return s.afterStateChange(ctx, tx, &before, out)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: updating wallpaper %s: %w", id, err)
	}
	h.tell(s.hidden)
	return out, nil
}

// DeleteWallpaper implements wallpaper.GalleryWriter.
func (s *Gallery) DeleteWallpaper(ctx context.Context, id uuid.UUID, check func(*wallpaper.Wallpaper) error) (err error) {
	defer translate(&err)
	var h hidden
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := lockWallpaper(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := check(w); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM wallpapers WHERE id = $1`, id); err != nil {
			return err
		}
		h.left(w, nil)
		return s.jobs.DeleteObjects(ctx, tx, removedKeys(w))
	})
	if err != nil {
		return fmt.Errorf("postgres: deleting wallpaper %s: %w", id, err)
	}
	h.tell(s.hidden)
	return nil
}
