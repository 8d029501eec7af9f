package postgres_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

// Sizes of the plan test's gallery: big enough that a sequential scan or a
// sort would be the planner's choice if an index were unusable.
const (
	planUsers      = 3_000
	planWallpapers = 200_000
)

// bulkLoad copies users and wallpapers (one in ten private, pairs sharing
// a timestamp) into pool and returns the user ids. The foreign-key checks
// are skipped for the load (the rows are made consistent here), which
// halves its time on a busy machine; the indexes are maintained as usual.
func bulkLoad(t *testing.T, pool *pgxpool.Pool, users, wallpapers int) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// The session settings leave with the connection.
	defer conn.Conn().Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica; SET statement_timeout = 0`); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	newID := func() uuid.UUID {
		var id uuid.UUID
		binary.LittleEndian.PutUint64(id[:8], rnd.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rnd.Uint64())
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		return id
	}
	ids := make([]uuid.UUID, users)
	for i := range ids {
		ids[i] = newID()
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "openid", "nickname"},
		pgx.CopyFromSlice(users, func(i int) ([]any, error) {
			return []any{ids[i], "plan:" + strconv.Itoa(i), "user " + strconv.Itoa(i)}, nil
		}))
	if err != nil {
		t.Fatalf("copying users: %v", err)
	}
	// The keyset indexes are built after the load, from their own
	// definitions: one sort is much cheaper than 200,000 inserts.
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE tablename = 'wallpapers' AND indexname IN ('wallpapers_feed', 'wallpapers_user_keyset')`)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Def string }])
	if err != nil || len(defs) != 2 {
		t.Fatalf("keyset index definitions: %v, %v", defs, err)
	}
	for _, d := range defs {
		if _, err := conn.Exec(ctx, "DROP INDEX "+d.Name); err != nil {
			t.Fatal(err)
		}
	}
	// The wallpapers go as COPY text built here: pgx's per-value encoding
	// is most of the load's time under the race detector.
	var buf bytes.Buffer
	base := time.Now().UTC()
	for i := range wallpapers {
		id := newID()
		owner := ids[i%users]
		if i%20 == 0 {
			owner = ids[0] // a prolific user: 5 % of all wallpapers
		}
		fmt.Fprintf(&buf, "%s\t%s\ta lake at dawn\t1024x1792\t1024\t1792\toffline\tw/%d.png\tw/%d.jpg\t%t\t%s\n",
			id, owner, i, i, i%10 != 0, base.Add(-time.Duration(i/2)*100*time.Millisecond).Format(time.RFC3339Nano))
	}
	_, err = conn.Conn().PgConn().CopyFrom(ctx, &buf, `COPY wallpapers
		(id, user_id, prompt, size, width, height, model, image_key, thumbnail_key, public, created_at) FROM STDIN`)
	if err != nil {
		t.Fatalf("copying wallpapers: %v", err)
	}
	for _, d := range defs {
		if _, err := conn.Exec(ctx, d.Def); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE users; ANALYZE wallpapers`); err != nil {
		t.Fatal(err)
	}
	return ids
}

// planNode is the part of EXPLAIN (FORMAT JSON) the test reads.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	Plans        []planNode `json:"Plans"`
}

func (n planNode) each(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.each(f)
	}
}

func (n planNode) String() string {
	var b strings.Builder
	var walk func(planNode, int)
	walk = func(n planNode, depth int) {
		fmt.Fprintf(&b, "%s%s %s %s\n", strings.Repeat("  ", depth), n.NodeType, n.RelationName, n.IndexName)
		for _, c := range n.Plans {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func parsePlan(t *testing.T, raw []byte) planNode {
	t.Helper()
	var out []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != 1 {
		t.Fatalf("EXPLAIN output %s: %v", raw, err)
	}
	return out[0].Plan
}

// TestListPlansUseIndexes checks, on a few hundred thousand wallpapers, that
// every listing statement reads its keyset index in order, at the first
// page and deep down, with custom and with generic plans (pgx prepares
// statements, and Postgres switches to a generic plan after five runs):
// no sort, no sequential scan.
func TestListPlansUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 200,000 wallpapers: 10-25 s on a busy 2-core machine")
	}
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	start := time.Now()
	users := bulkLoad(t, pool, planUsers, planWallpapers)
	t.Logf("loaded %d wallpapers in %v", planWallpapers, time.Since(start).Round(time.Millisecond))

	// Deep positions: in the feed, in the prolific user's list and in a
	// typical user's list (about 60 wallpapers).
	position := func(sql string, args ...any) (time.Time, uuid.UUID) {
		t.Helper()
		var at time.Time
		var id uuid.UUID
		if err := pool.QueryRow(ctx, sql, args...).Scan(&at, &id); err != nil {
			t.Fatal(err)
		}
		return at, id
	}
	prolific, typical := users[0], users[7]
	feedAt, feedID := position(`SELECT created_at, id FROM wallpapers WHERE public
		ORDER BY created_at DESC, id DESC OFFSET 150000 LIMIT 1`)
	deepAt, deepID := position(`SELECT created_at, id FROM wallpapers WHERE user_id = $1
		ORDER BY created_at DESC, id DESC OFFSET 8000 LIMIT 1`, prolific)
	typicalAt, typicalID := position(`SELECT created_at, id FROM wallpapers WHERE user_id = $1
		ORDER BY created_at DESC, id DESC OFFSET 20 LIMIT 1`, typical)
	lit := func(v any) string {
		switch v := v.(type) {
		case time.Time:
			return "'" + v.Format(time.RFC3339Nano) + "'::timestamptz"
		case uuid.UUID:
			return "'" + v.String() + "'::uuid"
		default:
			return fmt.Sprint(v)
		}
	}

	tests := []struct {
		name  string
		sql   string
		types string // of the parameters, for PREPARE
		args  []any
		index string
		// fewRows: the custom plan may instead collect the rows through
		// a bitmap scan of the index and sort them, which Postgres rightly
		// prefers for the few dozen rows of a typical user's list.
		fewRows bool
	}{
		{name: "feed first page", sql: postgres.ListSQL.FeedFirst, types: "int", args: []any{21}, index: "wallpapers_feed"},
		{name: "feed deep page", sql: postgres.ListSQL.FeedAfter, types: "int, timestamptz, uuid", args: []any{21, feedAt, feedID}, index: "wallpapers_feed"},
		{name: "prolific user first page", sql: postgres.ListSQL.MineFirst, types: "int, uuid", args: []any{51, prolific}, index: "wallpapers_user_keyset"},
		{name: "prolific user deep page", sql: postgres.ListSQL.MineAfter, types: "int, timestamptz, uuid, uuid", args: []any{21, deepAt, deepID, prolific}, index: "wallpapers_user_keyset"},
		{name: "typical user first page", sql: postgres.ListSQL.MineFirst, types: "int, uuid", args: []any{21, typical}, index: "wallpapers_user_keyset", fewRows: true},
		{name: "typical user next page", sql: postgres.ListSQL.MineAfter, types: "int, timestamptz, uuid, uuid", args: []any{21, typicalAt, typicalID, typical}, index: "wallpapers_user_keyset", fewRows: true},
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for i, tt := range tests {
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
					t.Fatal(err)
				}
				stmt := fmt.Sprintf("plan_%d_%s", i, mode)
				if _, err := conn.Exec(ctx, fmt.Sprintf("PREPARE %s (%s) AS %s", stmt, tt.types, tt.sql)); err != nil {
					t.Fatalf("PREPARE: %v", err)
				}
				args := make([]string, len(tt.args))
				for j, a := range tt.args {
					args[j] = lit(a)
				}
				var raw []byte
				if err := conn.QueryRow(ctx, fmt.Sprintf("EXPLAIN (FORMAT JSON) EXECUTE %s(%s)", stmt, strings.Join(args, ", "))).Scan(&raw); err != nil {
					t.Fatalf("EXPLAIN: %v", err)
				}
				plan := parsePlan(t, raw)
				fewRows := tt.fewRows && mode == "force_custom_plan"
				usesIndex, countsByKey := false, false
				plan.each(func(n planNode) {
					switch {
					// Each item's like count adds its few delta rows
					// (likes.go), found through their key, by an index or
					// a bitmap of it.
					case n.RelationName == "like_deltas" && n.NodeType != "Seq Scan",
						n.IndexName == "like_deltas_pkey":
						countsByKey = countsByKey || n.IndexName == "like_deltas_pkey"
					case n.NodeType == "Seq Scan":
						t.Errorf("Seq Scan on %s", n.RelationName)
					case fewRows && (n.NodeType == "Sort" || n.NodeType == "Bitmap Heap Scan"):
					case strings.Contains(n.NodeType, "Sort") || n.NodeType == "Bitmap Heap Scan":
						t.Errorf("%s node %s", n.NodeType, n.RelationName)
					case n.RelationName == "wallpapers" && n.NodeType == "Index Scan",
						fewRows && n.NodeType == "Bitmap Index Scan":
						usesIndex = n.IndexName == tt.index
						if !usesIndex {
							t.Errorf("wallpapers read through %s; want %s", n.IndexName, tt.index)
						}
					}
				})
				if !usesIndex {
					t.Errorf("wallpapers not read through %s", tt.index)
				}
				if !countsByKey {
					t.Errorf("like deltas not read through like_deltas_pkey")
				}
				if t.Failed() {
					t.Logf("plan:\n%s", plan)
				}
			})
		}
	}
}
