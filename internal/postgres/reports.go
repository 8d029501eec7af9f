package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

const reportColumns = `r.id, r.wallpaper_id, COALESCE(r.reporter_id, '00000000-0000-0000-0000-000000000000'::uuid),
	r.reason, r.detail, r.created_at`

func scanReport(row pgx.Row) (wallpaper.Report, error) {
	var r wallpaper.Report
	err := row.Scan(&r.ID, &r.WallpaperID, &r.ReporterID, &r.Reason, &r.Detail, &r.CreatedAt)
	return r, err
}

func collectReports(rows pgx.Rows, err error) ([]wallpaper.Report, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wallpaper.Report, error) { return scanReport(r) })
}

// FileReport implements wallpaper.ReportStore. The wallpaper's row lock
// orders concurrent reports of it, so the count that decides the hold is
// exact; the hold goes through the same state-change path as every other
// review change (its storage sync queued in this transaction).
func (s *Gallery) FileReport(ctx context.Context, r wallpaper.Report, check func(*wallpaper.Wallpaper, bool) error,
	hold func(*wallpaper.Wallpaper, int) bool) (_ wallpaper.Report, created bool, err error) {
	defer translate(&err)
	var out wallpaper.Report
	var h hidden
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := lockWallpaper(ctx, tx, r.WallpaperID)
		if err != nil {
			return err
		}
		earlier, err := scanReport(tx.QueryRow(ctx, `SELECT `+reportColumns+` FROM reports r
			WHERE r.wallpaper_id = $1 AND r.reporter_id = $2`, r.WallpaperID, r.ReporterID))
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := check(w, found); err != nil {
			return err
		}
		if found {
			out = earlier
			return nil
		}
		out, err = scanReport(tx.QueryRow(ctx, `INSERT INTO reports AS r (id, wallpaper_id, reporter_id, reason, detail)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+reportColumns, r.ID, r.WallpaperID, r.ReporterID, r.Reason, r.Detail))
		if err != nil {
			return err
		}
		created = true
		// Each row is a distinct reporter (one report per user and
		// wallpaper); reporters who deleted their account still count.
		var reporters int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM reports
			WHERE wallpaper_id = $1 AND created_at > COALESCE($2, '-infinity'::timestamptz)`,
			r.WallpaperID, w.DecidedAt).Scan(&reporters); err != nil {
			return err
		}
		if !hold(w, reporters) {
			return nil
		}
		_, err = s.setReviewTx(ctx, tx, &h, w, wallpaper.ReviewHeld, false)
		return err
	})
	if err != nil {
		return wallpaper.Report{}, false, fmt.Errorf("postgres: reporting wallpaper %s: %w", r.WallpaperID, err)
	}
	h.tell(s.hidden)
	return out, created, nil
}

// setReviewTx moves the locked wallpaper w to review (recording an admin
// decision when decided), queues what the change needs, and returns the
// wallpaper after; h learns whether it left public view.
func (s *Gallery) setReviewTx(ctx context.Context, tx pgx.Tx, h *hidden, w *wallpaper.Wallpaper, review string, decided bool) (*wallpaper.Wallpaper, error) {
	if _, err := tx.Exec(ctx, `UPDATE wallpapers SET review = $2,
		decided_at = CASE WHEN $3 THEN now() ELSE decided_at END WHERE id = $1`, w.ID, review, decided); err != nil {
		return nil, err
	}
	// Read back: visible and approved_at are the database's.
	after, err := scanWallpaper(tx.QueryRow(ctx, wallpaperByID, w.ID))
	if err != nil {
		return nil, err
	}
	h.left(w, after)
	return after, s.afterStateChange(ctx, tx, w, after)
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
