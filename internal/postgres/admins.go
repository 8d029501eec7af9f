package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Admins keeps admins, their console sessions and the audit log, and
// carries out their decisions and bans; it satisfies admin.AdminStore,
// admin.ReviewStore, admin.AccountStore and admin.AuditLog. Every change
// to a wallpaper's review or author_banned goes through the gallery's
// state-change path, and every action writes its audit entry in its own
// transaction.
type Admins struct {
	pool    *pgxpool.Pool
	gallery *Gallery
}

// NewAdmins returns the admin store; gallery is the store whose
// state-change path the decisions and bans use (nil for a store that only
// manages admins, as the command line does).
func NewAdmins(pool *pgxpool.Pool, gallery *Gallery) *Admins {
	return &Admins{pool: pool, gallery: gallery}
}

func insertEntry(ctx context.Context, tx pgx.Tx, e admin.Entry) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (admin_id, admin_name, action, target_type, target_id, note)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.AdminID, e.AdminName, e.Action, e.TargetType, e.TargetID, e.Note)
	if err != nil {
		return fmt.Errorf("writing the audit log: %w", err)
	}
	return nil
}

const adminColumns = `a.id, a.name, a.created_at, a.revoked_at`

func scanAdmin(row pgx.Row) (admin.Admin, error) {
	var a admin.Admin
	err := row.Scan(&a.ID, &a.Name, &a.CreatedAt, &a.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return admin.Admin{}, admin.ErrUnauthenticated
	}
	return a, err
}

// AddAdmin implements admin.AdminStore.
func (s *Admins) AddAdmin(ctx context.Context, name string, tokenHash []byte, e admin.Entry) (_ admin.Admin, err error) {
	defer translate(&err)
	var a admin.Admin
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		a, err = scanAdmin(tx.QueryRow(ctx, `INSERT INTO admins AS a (name, token_hash) VALUES ($1, $2)
			RETURNING `+adminColumns, name, tokenHash))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: a live admin has the name
			return admin.ErrNameTaken
		}
		if err != nil {
			return err
		}
		return insertEntry(ctx, tx, e)
	})
	if err != nil {
		return admin.Admin{}, fmt.Errorf("postgres: adding admin %s: %w", name, err)
	}
	return a, nil
}

// Admins implements admin.AdminStore.
func (s *Admins) Admins(ctx context.Context) (_ []admin.Admin, err error) {
	defer translate(&err)
	rows, err := s.pool.Query(ctx, `SELECT `+adminColumns+` FROM admins a ORDER BY a.created_at, a.id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing admins: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Admin, error) { return scanAdmin(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing admins: %w", err)
	}
	return out, nil
}

// RevokeAdmin implements admin.AdminStore.
func (s *Admins) RevokeAdmin(ctx context.Context, name string, e admin.Entry) (err error) {
	defer translate(&err)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id uuid.UUID
		err := tx.QueryRow(ctx, `UPDATE admins SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL
			RETURNING id`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return admin.ErrNoSuchAdmin
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1`, id); err != nil {
			return err
		}
		return insertEntry(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("postgres: revoking admin %s: %w", name, err)
	}
	return nil
}

// AdminByToken implements admin.AdminStore.
func (s *Admins) AdminByToken(ctx context.Context, hash []byte) (_ admin.Admin, err error) {
	defer translate(&err)
	return scanAdmin(s.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins a
		WHERE a.token_hash = $1 AND a.revoked_at IS NULL`, hash))
}

// CreateSession implements admin.AdminStore; expired sessions of anyone
// are cleared on the way.
func (s *Admins) CreateSession(ctx context.Context, adminID uuid.UUID, hash []byte, expires time.Time) (err error) {
	defer translate(&err)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE expires_at < now()`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO admin_sessions (token_hash, admin_id, expires_at) VALUES ($1, $2, $3)`,
			hash, adminID, expires)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: starting a console session: %w", err)
	}
	return nil
}

// AdminBySession implements admin.AdminStore.
func (s *Admins) AdminBySession(ctx context.Context, hash []byte) (_ admin.Admin, err error) {
	defer translate(&err)
	return scanAdmin(s.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admin_sessions s
		JOIN admins a ON a.id = s.admin_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND a.revoked_at IS NULL`, hash))
}

// DeleteSession implements admin.AdminStore.
func (s *Admins) DeleteSession(ctx context.Context, hash []byte) (err error) {
	defer translate(&err)
	if _, err := s.pool.Exec(ctx, `DELETE FROM admin_sessions WHERE token_hash = $1`, hash); err != nil {
		return fmt.Errorf("postgres: ending a console session: %w", err)
	}
	return nil
}

// openReports counts w's reports since its last admin decision.
const openReports = `(SELECT count(*) FROM reports r WHERE r.wallpaper_id = w.id
	AND r.created_at > COALESCE(w.decided_at, '-infinity'::timestamptz))`

// Queue implements admin.ReviewStore.
func (s *Admins) Queue(ctx context.Context, limit int) (_ []admin.QueueItem, err error) {
	defer translate(&err)
	// Held and pending wallpapers (their partial index), and those with
	// reports no admin has decided on yet, whatever their state.
	rows, err := s.pool.Query(ctx, `WITH queued AS (
			SELECT id FROM wallpapers WHERE review IN ('held', 'pending')
			UNION
			SELECT r.wallpaper_id FROM reports r JOIN wallpapers w ON w.id = r.wallpaper_id
			WHERE r.created_at > COALESCE(w.decided_at, '-infinity'::timestamptz))
		SELECT `+wallpaperColumns+`, `+openReports+` AS open`+wallpaperFrom+`
		JOIN queued q ON q.id = w.id
		ORDER BY open DESC, w.created_at, w.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the review queue: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.QueueItem, error) {
		var it admin.QueueItem
		var params []byte
		if err := r.Scan(append(wallpaperDest(&it.Wallpaper, &params), &it.OpenReports)...); err != nil {
			return it, err
		}
		return it, decodeParams(&it.Wallpaper, params)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the review queue: %w", err)
	}
	if len(items) == 0 {
		return items, nil
	}
	ids := make([]uuid.UUID, len(items))
	at := make(map[uuid.UUID]int, len(items))
	for i := range items {
		ids[i] = items[i].Wallpaper.ID
		at[ids[i]] = i
		items[i].Reports = []wallpaper.Report{}
	}
	reports, err := collectReports(s.pool.Query(ctx, `SELECT `+reportColumns+` FROM reports r
		WHERE r.wallpaper_id = ANY($1) ORDER BY r.created_at, r.id`, ids))
	if err != nil {
		return nil, fmt.Errorf("postgres: reading reports: %w", err)
	}
	for _, r := range reports {
		it := &items[at[r.WallpaperID]]
		it.Reports = append(it.Reports, r)
	}
	checks, err := s.pool.Query(ctx, `SELECT DISTINCT ON (wallpaper_id) wallpaper_id, trace_id,
		COALESCE(suggest, ''), label, asked_at, answered_at
		FROM moderation_checks WHERE wallpaper_id = ANY($1) ORDER BY wallpaper_id, asked_at DESC`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading image checks: %w", err)
	}
	defer checks.Close()
	for checks.Next() {
		var id uuid.UUID
		var c admin.Check
		if err := checks.Scan(&id, &c.TraceID, &c.Suggest, &c.Label, &c.AskedAt, &c.AnsweredAt); err != nil {
			return nil, fmt.Errorf("postgres: reading image checks: %w", err)
		}
		items[at[id]].Check = &c
	}
	if err := checks.Err(); err != nil {
		return nil, fmt.Errorf("postgres: reading image checks: %w", err)
	}
	return items, nil
}

// Decide implements admin.ReviewStore.
func (s *Admins) Decide(ctx context.Context, id uuid.UUID, e admin.Entry, decide func(*wallpaper.Wallpaper) (admin.Outcome, error)) (_ *wallpaper.Wallpaper, err error) {
	defer translate(&err)
	var out *wallpaper.Wallpaper
	var h hidden
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		w, err := lockWallpaper(ctx, tx, id)
		if err != nil {
			return err
		}
		before := *w
		outcome, err := decide(w)
		if err != nil {
			return err
		}
		if outcome.Remove {
			if err := s.gallery.removeWallpaper(ctx, tx, &h, &before, outcome.Refund); err != nil {
				return err
			}
		} else if out, err = s.gallery.setReviewTx(ctx, tx, &h, &before, w.Review, true); err != nil {
			return err
		}
		return insertEntry(ctx, tx, e)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: deciding on wallpaper %s: %w", id, err)
	}
	h.tell(s.gallery.hidden)
	return out, nil
}

// accountColumns read a user with their ban, if any.
const accountColumns = `u.id, u.openid, COALESCE(u.unionid, ''), u.nickname, COALESCE(u.avatar_key, ''),
	u.created_at, u.updated_at, b.subject, COALESCE(b.reason, ''), b.admin_id, COALESCE(a.name, ''), b.created_at`

const accountFrom = ` FROM users u LEFT JOIN bans b ON b.user_id = u.id LEFT JOIN admins a ON a.id = b.admin_id `

func scanAccount(row pgx.Row) (admin.Account, error) {
	var acc admin.Account
	u := &acc.User
	var subject []byte
	var reason, adminName string
	var adminID *uuid.UUID
	var at *time.Time
	err := row.Scan(&u.ID, &u.OpenID, &u.UnionID, &u.Nickname, &u.AvatarKey, &u.CreatedAt, &u.UpdatedAt,
		&subject, &reason, &adminID, &adminName, &at)
	if err != nil {
		return acc, err
	}
	if subject != nil {
		acc.Ban = &admin.Ban{UserID: u.ID, Subject: subject, Reason: reason, AdminName: adminName, At: *at}
		if adminID != nil {
			acc.Ban.AdminID = *adminID
		}
	}
	return acc, nil
}

// likePattern matches nicknames containing q, q's own % and _ literal.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// FindAccounts implements admin.AccountStore.
func (s *Admins) FindAccounts(ctx context.Context, id *uuid.UUID, query string, limit int) (_ []admin.Account, err error) {
	defer translate(&err)
	var rows pgx.Rows
	if id != nil {
		rows, err = s.pool.Query(ctx, `SELECT `+accountColumns+accountFrom+`WHERE u.id = $1`, *id)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+accountColumns+accountFrom+`WHERE u.nickname ILIKE $1
			ORDER BY u.created_at DESC, u.id LIMIT $2`, likePattern(query), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: finding users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: finding users: %w", err)
	}
	return out, nil
}

// AccountDetail implements admin.AccountStore.
func (s *Admins) AccountDetail(ctx context.Context, id uuid.UUID, limit int) (_ admin.AccountDetail, err error) {
	defer translate(&err)
	var d admin.AccountDetail
	d.Account, err = scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+accountFrom+`WHERE u.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, user.ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("postgres: user %s: %w", id, err)
	}
	if d.Wallpapers, err = s.gallery.query(ctx, mineFirst, limit, id); err != nil {
		return d, err
	}
	rows, err := s.pool.Query(ctx, generationSelect+`WHERE g.user_id = $1 ORDER BY g.created_at DESC, g.id DESC LIMIT $2`, id, limit)
	if err == nil {
		d.Generations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (wallpaper.Generation, error) {
			g, err := scanGeneration(r)
			if err != nil {
				return wallpaper.Generation{}, err
			}
			return *g, nil
		})
	}
	if err != nil {
		return d, fmt.Errorf("postgres: generations of %s: %w", id, err)
	}
	if d.ReportsFiled, err = collectReports(s.pool.Query(ctx, `SELECT `+reportColumns+` FROM reports r
		WHERE r.reporter_id = $1 ORDER BY r.created_at DESC, r.id LIMIT $2`, id, limit)); err != nil {
		return d, fmt.Errorf("postgres: reports by %s: %w", id, err)
	}
	if d.ReportsReceived, err = collectReports(s.pool.Query(ctx, `SELECT `+reportColumns+` FROM reports r
		JOIN wallpapers w ON w.id = r.wallpaper_id
		WHERE w.user_id = $1 ORDER BY r.created_at DESC, r.id LIMIT $2`, id, limit)); err != nil {
		return d, fmt.Errorf("postgres: reports of %s's wallpapers: %w", id, err)
	}
	return d, nil
}

// cancelGenerations ends userID's queued and running generations as
// failed with f, each quota unit returned once (the status guard).
func cancelGenerations(ctx context.Context, tx pgx.Tx, userID uuid.UUID, f wallpaper.Failure) error {
	_, err := tx.Exec(ctx, `WITH cancelled AS (
			UPDATE generations SET status = 'failed', error_code = $2, error_message = $3,
				finished_at = now(), refunded = true
			WHERE user_id = $1 AND status IN ('queued', 'running')
			RETURNING quota_day),
		per_day AS (SELECT quota_day, count(*) AS n FROM cancelled GROUP BY quota_day)
		UPDATE quota_usage q SET used = GREATEST(q.used - p.n, 0) FROM per_day p
		WHERE q.user_id = $1 AND q.day = p.quota_day`, userID, f.Code, f.Message)
	if err != nil {
		return fmt.Errorf("cancelling generations: %w", err)
	}
	return nil
}

// setAuthorBanned sets author_banned on every wallpaper of userID that
// does not have it yet, through the state-change path (each one's storage
// sync queued in tx).
func (s *Gallery) setAuthorBanned(ctx context.Context, tx pgx.Tx, userID uuid.UUID, banned bool) error {
	befores, err := s.queryTx(ctx, tx, `SELECT `+wallpaperColumns+wallpaperFrom+`
		WHERE w.user_id = $1 AND w.author_banned <> $2 ORDER BY w.id FOR UPDATE OF w`, userID, banned)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE wallpapers SET author_banned = $2 WHERE user_id = $1 AND author_banned <> $2`,
		userID, banned); err != nil {
		return err
	}
	for i := range befores {
		after := befores[i]
		after.AuthorBanned = banned
		if err := s.afterStateChange(ctx, tx, &befores[i], &after); err != nil {
			return err
		}
	}
	return nil
}

// Ban implements admin.AccountStore.
func (s *Admins) Ban(ctx context.Context, b admin.Ban, e admin.Entry) (banned bool, err error) {
	defer translate(&err)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO bans (subject, user_id, reason, admin_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, b.Subject, b.UserID, b.Reason, b.AdminID)
		if err != nil || tag.RowsAffected() == 0 {
			return err // banned already: nothing more to do
		}
		banned = true
		if err := s.gallery.setAuthorBanned(ctx, tx, b.UserID, true); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now()
			WHERE user_id = $1 AND revoked_at IS NULL`, b.UserID); err != nil {
			return err
		}
		if err := cancelGenerations(ctx, tx, b.UserID, wallpaper.CancelledByBan); err != nil {
			return err
		}
		return insertEntry(ctx, tx, e)
	})
	if err != nil {
		return false, fmt.Errorf("postgres: banning %s: %w", b.UserID, err)
	}
	if banned {
		h := hidden{authors: []uuid.UUID{b.UserID}}
		h.tell(s.gallery.hidden)
	}
	return banned, nil
}

// Unban implements admin.AccountStore.
func (s *Admins) Unban(ctx context.Context, userID uuid.UUID, e admin.Entry) (err error) {
	defer translate(&err)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM bans WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return admin.ErrNotBanned
		}
		if err := s.gallery.setAuthorBanned(ctx, tx, userID, false); err != nil {
			return err
		}
		return insertEntry(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("postgres: unbanning %s: %w", userID, err)
	}
	return nil
}

// Record implements admin.AuditLog in one statement.
func (s *Admins) Record(ctx context.Context, entries []admin.Entry) (err error) {
	defer translate(&err)
	if len(entries) == 0 {
		return nil
	}
	adminIDs := make([]*uuid.UUID, len(entries))
	cols := make([][]string, 5)
	for i, e := range entries {
		adminIDs[i] = e.AdminID
		for j, v := range []string{e.AdminName, e.Action, e.TargetType, e.TargetID, e.Note} {
			cols[j] = append(cols[j], v)
		}
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO audit_log (admin_id, admin_name, action, target_type, target_id, note)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
		adminIDs, cols[0], cols[1], cols[2], cols[3], cols[4])
	if err != nil {
		return fmt.Errorf("postgres: writing the audit log: %w", err)
	}
	return nil
}

const entryColumns = `id, at, admin_id, admin_name, action, target_type, target_id, note`

// Audit implements admin.AuditLog; the first page and the next ones are
// separate statements so both keep the primary key's plan.
func (s *Admins) Audit(ctx context.Context, before int64, limit int) (_ []admin.Entry, err error) {
	defer translate(&err)
	var rows pgx.Rows
	if before == 0 {
		rows, err = s.pool.Query(ctx, `SELECT `+entryColumns+` FROM audit_log ORDER BY id DESC LIMIT $1`, limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+entryColumns+` FROM audit_log WHERE id < $2 ORDER BY id DESC LIMIT $1`, limit, before)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (admin.Entry, error) {
		var e admin.Entry
		err := r.Scan(&e.ID, &e.At, &e.AdminID, &e.AdminName, &e.Action, &e.TargetType, &e.TargetID, &e.Note)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the audit log: %w", err)
	}
	return out, nil
}
