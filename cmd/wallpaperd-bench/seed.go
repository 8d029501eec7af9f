package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

// benchOpenID is the user the detail and own-list scenarios log in as
// (the dev login code dev-benchuser): it owns wallpapers like any other.
const benchOpenID = "dev:benchuser"

// benchDB is the throwaway database.
type benchDB struct {
	adminURL, name, url string
	pool                *pgxpool.Pool
}

func adminExec(ctx context.Context, adminURL, sql string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connecting to %s's server: %w", "the admin database", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// createDatabase creates and migrates a database with a random name.
func createDatabase(ctx context.Context, adminURL string) (*benchDB, error) {
	b := make([]byte, 4)
	_, _ = crand.Read(b)
	db := &benchDB{adminURL: adminURL, name: "wpd_bench_" + hex.EncodeToString(b)}
	if err := adminExec(ctx, adminURL, "CREATE DATABASE "+db.name); err != nil {
		return nil, fmt.Errorf("creating the bench database: %w", err)
	}
	db.url = postgres.WithDatabase(adminURL, db.name)
	pool, err := postgres.Open(ctx, db.url, postgres.PoolConfig{MaxConns: 40})
	if err != nil {
		_ = db.drop()
		return nil, err
	}
	db.pool = pool
	m, err := postgres.NewMigrator(pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		err = m.Up(ctx)
		m.Close()
	}
	if err != nil {
		_ = db.drop()
		return nil, fmt.Errorf("migrating: %w", err)
	}
	return db, nil
}

func (db *benchDB) drop() error {
	if db.pool != nil {
		db.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return adminExec(ctx, db.adminURL, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db.name))
}

// fixture is what the scenarios need to know about the seeded data.
type fixture struct {
	benchUser uuid.UUID
	details   []uuid.UUID // public wallpapers for the detail scenario
}

var prompts = []string{
	"a quiet lake at dawn, mist, pastel colours",
	"neon city street in the rain, reflections, cinematic",
	"snowy mountain range under the milky way",
	"koi fish in a jade pond, ink wash painting",
	"desert dunes at golden hour, long shadows",
	"cherry blossoms over an old wooden bridge",
	"abstract waves of teal and gold, minimal",
	"a lighthouse on a cliff in a storm",
}

var sizes = [...]struct {
	name string
	w, h int
}{{"1024x1792", 1024, 1792}, {"1792x1024", 1792, 1024}, {"1024x1024", 1024, 1024}}

// seed fills the database: users (half with an avatar), wallpapers spread
// over about a year, one in ten private, pairs sharing a timestamp (so ids
// break ties), user i%users owning wallpaper i; the bench user likes every
// thousandth wallpaper. The rows go in with COPY on one connection with
// foreign-key triggers off (the rows are consistent by construction) and
// the keyset indexes are built after the load from their own definitions,
// which is how a bulk load is done; then VACUUM ANALYZE.
func seed(ctx context.Context, db *benchDB, users, wallpapers int, out io.Writer) (*fixture, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	// The session settings below leave with this connection.
	defer conn.Conn().Close(context.Background())
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica; SET statement_timeout = 0; SET maintenance_work_mem = '256MB'`); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE tablename = 'wallpapers' AND indexname IN ('wallpapers_feed', 'wallpapers_user_keyset')`)
	if err != nil {
		return nil, err
	}
	indexes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Def string }])
	if err != nil {
		return nil, err
	}
	if len(indexes) != 2 {
		return nil, fmt.Errorf("found %d of the 2 keyset indexes", len(indexes))
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, "DROP INDEX "+ix.Name); err != nil {
			return nil, err
		}
	}

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	newID := func() uuid.UUID {
		var id uuid.UUID
		for i := range id {
			id[i] = byte(rnd.UintN(256))
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		return id
	}
	userIDs := make([]uuid.UUID, users)
	for i := range userIDs {
		userIDs[i] = newID()
	}
	fx := &fixture{benchUser: userIDs[0]}

	start := time.Now()
	err = copyText(ctx, conn.Conn(), `COPY users (id, openid, nickname, avatar_key) FROM STDIN`, func(w *bufio.Writer) {
		for i, id := range userIDs {
			openID, avatar := fmt.Sprintf("bench:%d", i), `\N`
			if i == 0 {
				openID = benchOpenID
			}
			if i%2 == 0 {
				avatar = fmt.Sprintf("avatars/%s/a.jpg", id)
			}
			fmt.Fprintf(w, "%s\t%s\tpainter %d\t%s\n", id, openID, i, avatar)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("copying users: %w", err)
	}

	base := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	var likes []uuid.UUID
	err = copyText(ctx, conn.Conn(), `COPY wallpapers (id, user_id, prompt, size, width, height, model, params,
		image_key, thumbnail_key, public, published, like_count, created_at) FROM STDIN`, func(w *bufio.Writer) {
		for i := range wallpapers {
			id := newID()
			size := sizes[i%len(sizes)]
			public, likeCount := i%10 != 0, 0
			if i%1000 == 1 {
				fx.details = append(fx.details, id)
			}
			if i%1000 == 2 {
				likes, likeCount = append(likes, id), 1
			}
			at := base.Add(-time.Duration(i/2) * 60 * time.Second)
			// Public ones are published (under the public prefix), the rest
			// private: settled, as the storage sweep would leave them.
			place := "private"
			if public {
				place = "public"
			}
			fmt.Fprintf(w, "%s\t%s\t%s #%d\t%s\t%d\t%d\toffline\t{\"size\": \"%s\", \"style\": \"vivid\", \"quality\": \"standard\"}\t%s/w/%s/image.jpg\t%s/w/%s/thumb.jpg\t%t\t%t\t%d\t%s\n",
				id, userIDs[i%users], prompts[i%len(prompts)], i, size.name, size.w, size.h, size.name,
				place, id, place, id, public, public, likeCount, at.Format(time.RFC3339Nano))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("copying wallpapers: %w", err)
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"likes"}, []string{"user_id", "wallpaper_id"},
		pgx.CopyFromSlice(len(likes), func(i int) ([]any, error) { return []any{fx.benchUser, likes[i]}, nil }))
	if err != nil {
		return nil, fmt.Errorf("copying likes: %w", err)
	}
	fmt.Fprintf(out, "  COPY: %v\n", time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, ix.Def); err != nil {
			return nil, fmt.Errorf("building %s: %w", ix.Name, err)
		}
	}
	fmt.Fprintf(out, "  keyset indexes: %v\n", time.Since(start).Round(100*time.Millisecond))
	start = time.Now()
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) users, wallpapers, likes`); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "  VACUUM ANALYZE: %v\n", time.Since(start).Round(100*time.Millisecond))
	return fx, nil
}

// copyText streams COPY text written by fill to the server.
func copyText(ctx context.Context, conn *pgx.Conn, sql string, fill func(*bufio.Writer)) error {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		fill(w)
		pw.CloseWithError(w.Flush())
	}()
	_, err := conn.PgConn().CopyFrom(ctx, pr, sql)
	pr.Close() // unblocks the writer if the server gave up early
	return err
}
