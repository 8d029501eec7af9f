package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Likes of a wallpaper that goes viral (docs/benchmarks.md, "Hot likes").
//
// The likes table is the truth. A wallpaper's count is wallpapers.like_count
// (folded) plus the sum of its rows in like_deltas (not yet folded); a like
// changes its likes row and adds ±1 to one of the wallpaper's likeStripes
// delta rows in one statement, so in every committed state the two agree.
// No like holds the wallpaper's row exclusively (only its shared key
// lock): concurrent likers of one wallpaper meet only when they share a
// stripe, and then only from their statement to its commit. The count a like answers is read after its commit, in a
// snapshot of its own: the exact number of likes at a moment between the
// caller's change becoming visible and the answer (see SetLike).

// likeStripes is the number of delta rows a wallpaper's count is spread
// over (the CHECK of like_deltas.stripe says the same).
const likeStripes = 16

// likeStripe is the stripe of user's likes: always the same for one user,
// so that a user's like and unlike meet in one row and folding any subset
// of stripes never takes a count below zero.
func likeStripe(user uuid.UUID) int16 {
	return int16(binary.BigEndian.Uint16(user[14:]) % likeStripes)
}

// likeCountExpr is a wallpaper's exact like count in the statement's
// snapshot, for `wallpapers w`.
const likeCountExpr = `(w.like_count + COALESCE((SELECT sum(d.n) FROM like_deltas d WHERE d.wallpaper_id = w.id), 0))::integer`

// The like and unlike statements ($1 user, $2 wallpaper, $3 stripe): the
// likes row and the delta move together, and only when the row changed,
// which keeps both idempotent. Each first takes a shared key lock on the
// wallpaper's row (the one its foreign keys take anyway, compatible with
// every other liker and with the fold), before any row of its own: a
// wallpaper being deleted makes the like wait and then find nothing,
// instead of holding a stripe the deletion's cascade waits for while it
// waits for the wallpaper (a deadlock).
const (
	likeSQL = `WITH w AS (SELECT id FROM wallpapers WHERE id = $2 FOR KEY SHARE),
		changed AS (INSERT INTO likes (user_id, wallpaper_id) SELECT $1, id FROM w
			ON CONFLICT DO NOTHING RETURNING wallpaper_id)
		INSERT INTO like_deltas (wallpaper_id, stripe, n) SELECT wallpaper_id, $3, 1 FROM changed
		ON CONFLICT (wallpaper_id, stripe) DO UPDATE SET n = like_deltas.n + EXCLUDED.n`
	unlikeSQL = `WITH w AS (SELECT id FROM wallpapers WHERE id = $2 FOR KEY SHARE),
		changed AS (DELETE FROM likes WHERE user_id = $1 AND wallpaper_id = (SELECT id FROM w) RETURNING wallpaper_id)
		INSERT INTO like_deltas (wallpaper_id, stripe, n) SELECT wallpaper_id, $3, -1 FROM changed
		ON CONFLICT (wallpaper_id, stripe) DO UPDATE SET n = like_deltas.n + EXCLUDED.n`
	likeCountSQL = `SELECT ` + likeCountExpr + ` FROM wallpapers w WHERE w.id = $1`
	likeCheckSQL = `SELECT user_id, public, review, author_banned, published, visible FROM wallpapers WHERE id = $1`
)

// LikeSQL exposes, for the benchmark's raw-SQL baseline, the like and
// unlike statements ($1 user, $2 wallpaper, $3 LikeStripe(user)) and the
// count statement ($1 wallpaper).
var LikeSQL = struct{ Like, Unlike, Count string }{likeSQL, unlikeSQL, likeCountSQL}

// LikeStripe exposes likeStripe for LikeSQL.
func LikeStripe(user uuid.UUID) int16 { return likeStripe(user) }

// LikedAmong implements wallpaper.LikeStore.
func (s *Gallery) LikedAmong(ctx context.Context, userID uuid.UUID, ids []uuid.UUID) (_ map[uuid.UUID]bool, err error) {
	defer translate(&err)
	rows, err := s.pool.Query(ctx, likedAmong, userID, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading likes: %w", err)
	}
	liked, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("postgres: reading likes: %w", err)
	}
	out := make(map[uuid.UUID]bool, len(liked))
	for _, id := range liked {
		out[id] = true
	}
	return out, nil
}

// SetLike implements wallpaper.LikeStore. check sees the wallpaper's id,
// author id and visibility (Public, Review, AuthorBanned, Published,
// Visible) as they are when the call starts; nothing is locked. A wallpaper hidden between
// the check and the like keeps the like, as if it had come a moment
// earlier (the hiding reads nothing the like writes); one deleted in
// between is not found.
//
// The count answered is exact at its moment: it is the number of likes of
// the wallpaper in a snapshot taken after the caller's change (or
// no-change) was committed and before the answer, which is what any
// reader at that moment would have counted. The change and the read go to
// the server in one round trip: the change in a transaction of its own
// (BEGIN, change, COMMIT), then the count in a new one. (A bare COMMIT
// after the change would end the pipeline's implicit transaction too, but
// Postgres logs a warning for each.) When the change fails, the
// connection is left in an aborted transaction and the pool discards it.
func (s *Gallery) SetLike(ctx context.Context, userID, id uuid.UUID, liked bool, check func(*wallpaper.Wallpaper) error) (_ int, err error) {
	defer translate(&err)
	// What the check needs, and no more (no author, prompt or count).
	w := wallpaper.Wallpaper{ID: id}
	err = s.pool.QueryRow(ctx, likeCheckSQL, id).Scan(&w.Author.ID, &w.Public, &w.Review, &w.AuthorBanned, &w.Published, &w.Visible)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, wallpaper.ErrNotFound.With("wallpaper not found", nil)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: wallpaper %s: %w", id, err)
	}
	if err := check(&w); err != nil {
		return 0, err
	}
	change := likeSQL
	if !liked {
		change = unlikeSQL
	}
	var count int
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(change, userID, id, likeStripe(userID))
	b.Queue(`COMMIT`)
	b.Queue(likeCountSQL, id).QueryRow(func(r pgx.Row) error { return r.Scan(&count) })
	err = s.pool.SendBatch(ctx, b).Close()
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pgErr) && pgErr.Code == "23503" { // deleted meanwhile
		return 0, wallpaper.ErrNotFound.With("wallpaper not found", nil)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: setting like on %s: %w", id, err)
	}
	return count, nil
}

// FoldLikes adds the delta rows of up to limit wallpapers to their
// like_count and deletes them, in one statement; it returns how many
// wallpapers it folded. It waits for no lock: a wallpaper whose row is
// locked (being changed or deleted) and a stripe a liker or an account
// deletion holds are left for the next fold (a partial fold is exact, and
// keeps like_count non-negative because a user's likes and unlikes share
// one stripe). Waiting for nothing, it cannot be part of a deadlock.
func (s *Gallery) FoldLikes(ctx context.Context, limit int) (_ int, err error) {
	defer translate(&err)
	tag, err := s.pool.Exec(ctx, `WITH ws AS (
			SELECT id FROM wallpapers
			WHERE id IN (SELECT wallpaper_id FROM like_deltas GROUP BY wallpaper_id LIMIT $1)
			FOR NO KEY UPDATE SKIP LOCKED),
		stripes AS (
			SELECT wallpaper_id, stripe FROM like_deltas WHERE wallpaper_id IN (SELECT id FROM ws)
			FOR UPDATE SKIP LOCKED),
		moved AS (
			DELETE FROM like_deltas d USING stripes s WHERE d.wallpaper_id = s.wallpaper_id AND d.stripe = s.stripe
			RETURNING d.wallpaper_id, d.n),
		sums AS (SELECT wallpaper_id, sum(n) AS n FROM moved GROUP BY wallpaper_id)
		UPDATE wallpapers w SET like_count = w.like_count + sums.n FROM sums WHERE w.id = sums.wallpaper_id`, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: folding likes: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
