package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

type genEnv struct {
	pool      *pgxpool.Pool
	store     *postgres.Generations
	user      uuid.UUID
	day       time.Time
	enqueued  []uuid.UUID
	moderated []uuid.UUID
	notified  []uuid.UUID
	deleted   []string
	mu        sync.Mutex
}

func newGenEnv(t *testing.T) *genEnv {
	t.Helper()
	e := &genEnv{pool: pgtest.NewPool(t), day: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	e.store = postgres.NewGenerations(e.pool, e)
	if err := e.pool.QueryRow(context.Background(), `INSERT INTO users (openid) VALUES ('dev:gen') RETURNING id`).Scan(&e.user); err != nil {
		t.Fatal(err)
	}
	return e
}

// GenerateWallpaper records the generation whose job would be inserted.
func (e *genEnv) GenerateWallpaper(_ context.Context, _ pgx.Tx, id uuid.UUID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.enqueued = append(e.enqueued, id)
	return nil
}

// DeleteObjects records the keys whose deletion would be queued: what an
// attempt that may not record its wallpaper stored.
func (e *genEnv) DeleteObjects(_ context.Context, _ pgx.Tx, keys []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deleted = append(e.deleted, keys...)
	return nil
}

// ModerateWallpaper records the wallpaper whose image check would be
// queued.
func (e *genEnv) ModerateWallpaper(_ context.Context, _ pgx.Tx, id uuid.UUID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.moderated = append(e.moderated, id)
	return nil
}

// NotifyGeneration records the generation whose message would be queued.
func (e *genEnv) NotifyGeneration(_ context.Context, _ pgx.Tx, id uuid.UUID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notified = append(e.notified, id)
	return nil
}

// SyncObjects is not needed by a new wallpaper: it starts private.
func (e *genEnv) SyncObjects(context.Context, pgx.Tx, uuid.UUID) error {
	return errors.New("a new wallpaper needs no storage sync")
}

func (e *genEnv) newGeneration(key string) wallpaper.NewGeneration {
	return wallpaper.NewGeneration{
		Generation: wallpaper.Generation{
			ID: uuid.New(), UserID: e.user, Prompt: "a lake",
			Options: wallpaper.Options{Size: wallpaper.SizePortrait, Style: wallpaper.StyleVivid, Quality: wallpaper.QualityStandard},
		},
		QuotaDay: e.day, DailyLimit: 3, IdempotencyKey: key, RequestHash: []byte("hash-of-the-request-0123456789ab"),
	}
}

func (e *genEnv) used(t *testing.T) int {
	t.Helper()
	n, err := e.store.QuotaUsed(context.Background(), e.user, e.day)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGenerationLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newGenEnv(t)

	g, created, err := e.store.CreateGeneration(ctx, e.newGeneration(""))
	if err != nil || !created || g.Status != wallpaper.StatusQueued {
		t.Fatalf("CreateGeneration = %+v, %v, %v", g, created, err)
	}
	if len(e.enqueued) != 1 || e.enqueued[0] != g.ID {
		t.Errorf("enqueued %v, want the new generation", e.enqueued)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		started, err := e.store.StartGeneration(ctx, g.ID, attempt)
		if err != nil || started.Status != wallpaper.StatusRunning || started.Attempts != attempt {
			t.Fatalf("StartGeneration #%d = %+v, %v", attempt, started, err)
		}
	}
	w := wallpaper.Wallpaper{
		ID: uuid.New(), Author: wallpaper.Author{ID: e.user}, Prompt: g.Prompt, Size: g.Options.Size,
		Width: 1440, Height: 2560, Provider: "ark", Model: "doubao-seedream-4-5-251128", Params: map[string]any{"size": "1440x2560"},
		ImageKey: "private/w/x/image.jpg", ThumbnailKey: "private/w/x/thumb.jpg", MasterKey: "private/w/x/master.png",
		Public: true, Review: wallpaper.ReviewPending,
	}
	// Completing twice (the attempt's commit retried) leaves one
	// wallpaper.
	for range 2 {
		if err := e.store.CompleteGeneration(ctx, g.ID, 2, w); err != nil {
			t.Fatal(err)
		}
	}
	done, err := e.store.Generation(ctx, g.ID)
	if err != nil || done.Status != wallpaper.StatusSucceeded || done.Wallpaper == nil || done.FinishedAt == nil {
		t.Fatalf("after completing: %+v, %v", done, err)
	}
	if got := done.Wallpaper; got.Params["size"] != "1440x2560" || got.Provider != "ark" || got.Model != "doubao-seedream-4-5-251128" ||
		got.Width != 1440 || got.Height != 2560 {
		t.Errorf("recorded wallpaper %+v", got)
	}
	// It waits for the image check, unseen, its objects private; the
	// check's job was queued once, with the wallpaper.
	if dw := done.Wallpaper; dw.Review != wallpaper.ReviewPending || dw.Published || dw.Visible || dw.MasterKey != w.MasterKey {
		t.Errorf("a new wallpaper: review %s, published %v, visible %v, master %q", dw.Review, dw.Published, dw.Visible, dw.MasterKey)
	}
	if len(e.moderated) != 1 || e.moderated[0] != done.Wallpaper.ID {
		t.Errorf("image checks queued for %v, want one for %s", e.moderated, done.Wallpaper.ID)
	}
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM wallpapers WHERE generation_id = $1`, g.ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d wallpapers for one generation (%v)", n, err)
	}
	// A finished generation is neither restarted nor failed.
	again, _ := e.store.StartGeneration(ctx, g.ID, 3)
	if again.Status != wallpaper.StatusSucceeded || again.Attempts != 2 {
		t.Errorf("StartGeneration on a finished one changed it: %+v", again)
	}
	if err := e.store.FailGeneration(ctx, g.ID, wallpaper.Failure{Code: "x", Message: "y"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.Generation(ctx, g.ID); got.Status != wallpaper.StatusSucceeded {
		t.Errorf("FailGeneration changed a succeeded generation to %s", got.Status)
	}
	if e.used(t) != 1 {
		t.Errorf("quota used = %d, want 1", e.used(t))
	}
}

func TestFailRefundsExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newGenEnv(t)
	g1, _, _ := e.store.CreateGeneration(ctx, e.newGeneration(""))
	if _, _, err := e.store.CreateGeneration(ctx, e.newGeneration("")); err != nil {
		t.Fatal(err)
	}
	if e.used(t) != 2 {
		t.Fatalf("used = %d, want 2", e.used(t))
	}
	f := wallpaper.Failure{Code: "content_policy", Message: "refused"}
	var wg sync.WaitGroup
	for range 8 { // concurrent failures of one generation refund once
		wg.Go(func() {
			if err := e.store.FailGeneration(ctx, g1.ID, f); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if e.used(t) != 1 {
		t.Errorf("used = %d after failing one of two, want 1", e.used(t))
	}
	got, _ := e.store.Generation(ctx, g1.ID)
	if got.Status != wallpaper.StatusFailed || got.Error == nil || got.Error.Code != "content_policy" {
		t.Errorf("failed generation = %+v", got)
	}
	// The refunded unit can be spent again, up to the limit of 3.
	if _, _, err := e.store.CreateGeneration(ctx, e.newGeneration("")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.CreateGeneration(ctx, e.newGeneration("")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.CreateGeneration(ctx, e.newGeneration("")); !errors.Is(err, wallpaper.ErrQuotaExceeded) {
		t.Errorf("over the limit: %v, want ErrQuotaExceeded", err)
	}
}

func TestIdempotentCreateUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newGenEnv(t)
	ids := make([]uuid.UUID, 10)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			g, _, err := e.store.CreateGeneration(ctx, e.newGeneration("same-key"))
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = g.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one key made several generations: %v", ids)
		}
	}
	if e.used(t) != 1 || len(e.enqueued) != 1 {
		t.Errorf("used %d units and enqueued %d jobs for one key, want 1 and 1", e.used(t), len(e.enqueued))
	}
	other := e.newGeneration("same-key")
	other.RequestHash = []byte("another-request-hash-0123456789ab")
	if _, _, err := e.store.CreateGeneration(ctx, other); !errors.Is(err, wallpaper.ErrIdempotencyConflict) {
		t.Errorf("same key, other request: %v, want ErrIdempotencyConflict", err)
	}
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newGenEnv(t)
	ng := e.newGeneration("replay-key")
	orig, _, err := e.store.CreateGeneration(ctx, ng)
	if err != nil {
		t.Fatal(err)
	}
	stale := e.newGeneration("stale-key")
	if _, _, err := e.store.CreateGeneration(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE generations SET created_at = now() - interval '25 hours' WHERE id = $1`, stale.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		user    uuid.UUID
		key     string
		hash    []byte
		wantID  uuid.UUID // uuid.Nil: no replay
		wantErr error
	}{
		{"the same request", e.user, "replay-key", ng.RequestHash, orig.ID, nil},
		{"another request", e.user, "replay-key", []byte("another-request-hash-0123456789ab"), uuid.Nil, wallpaper.ErrIdempotencyConflict},
		{"an unknown key", e.user, "never-used", ng.RequestHash, uuid.Nil, nil},
		{"another user's key", uuid.New(), "replay-key", ng.RequestHash, uuid.Nil, nil},
		{"a key older than the window", e.user, "stale-key", stale.RequestHash, uuid.Nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := e.store.IdempotentReplay(ctx, tt.user, tt.key, tt.hash)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("IdempotentReplay error = %v, want %v", err, tt.wantErr)
			}
			switch {
			case tt.wantID == uuid.Nil && g != nil:
				t.Errorf("IdempotentReplay = %s, want none", g.ID)
			case tt.wantID != uuid.Nil && (g == nil || g.ID != tt.wantID || g.Prompt != ng.Prompt):
				t.Errorf("IdempotentReplay = %+v, want generation %s", g, tt.wantID)
			}
		})
	}
	if e.used(t) != 2 || len(e.enqueued) != 2 {
		t.Errorf("after the look-ups: %d units used, %d jobs; want 2 and 2 (a look-up spends nothing)", e.used(t), len(e.enqueued))
	}
}

func TestFailOrphans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newGenEnv(t)
	orphan, _, _ := e.store.CreateGeneration(ctx, e.newGeneration(""))
	live, _, _ := e.store.CreateGeneration(ctx, e.newGeneration(""))
	fresh, _, _ := e.store.CreateGeneration(ctx, e.newGeneration(""))
	if _, err := e.pool.Exec(ctx, `UPDATE generations SET created_at = now() - interval '1 hour' WHERE id = ANY($1)`,
		[]uuid.UUID{orphan.ID, live.ID}); err != nil {
		t.Fatal(err)
	}
	// live has a job River still holds; orphan's job was discarded.
	for id, state := range map[uuid.UUID]string{live.ID: "retryable", orphan.ID: "discarded"} {
		if _, err := e.pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, finalized_at)
			VALUES (jsonb_build_object('generation_id', $1::text), 'generate_wallpaper', 5, 'default', $2::river_job_state,
			CASE WHEN $2 = 'discarded' THEN now() END)`, id, state); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.store.FailOrphans(ctx, "generate_wallpaper", 10*time.Minute, wallpaper.Failure{Code: "internal_error", Message: "lost"})
	if err != nil || n != 1 {
		t.Fatalf("FailOrphans = %d, %v; want 1", n, err)
	}
	for id, want := range map[uuid.UUID]string{orphan.ID: "failed", live.ID: "queued", fresh.ID: "queued"} {
		g, _ := e.store.Generation(ctx, id)
		if g.Status != want {
			t.Errorf("generation %s is %s, want %s", id, g.Status, want)
		}
	}
	if e.used(t) != 2 {
		t.Errorf("used = %d, want 2 (the orphan refunded)", e.used(t))
	}
}

// TestAttemptsAreFenced: only the latest attempt to start a generation may
// finish it; an earlier one that wakes up late records nothing, refunds
// nothing, and has what it stored queued for deletion.
func TestAttemptsAreFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newGenEnv(t)
	g, _, err := e.store.CreateGeneration(ctx, e.newGeneration(""))
	if err != nil {
		t.Fatal(err)
	}
	wallpaperOf := func(attempt int) wallpaper.Wallpaper {
		return wallpaper.Wallpaper{ID: wallpaper.WallpaperID(g.ID), Author: wallpaper.Author{ID: e.user}, Prompt: g.Prompt, Size: g.Options.Size,
			Width: 1024, Height: 1792, Provider: "offline", Model: "offline",
			ImageKey:     wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, g.ID, attempt, "image.jpg"),
			ThumbnailKey: wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, g.ID, attempt, "thumb.jpg"),
			MasterKey:    wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, g.ID, attempt, "master.png"),
			Review:       wallpaper.ReviewUnchecked}
	}
	for _, attempt := range []int{1, 2} {
		if _, err := e.store.StartGeneration(ctx, g.ID, attempt); err != nil {
			t.Fatalf("StartGeneration(%d) = %v", attempt, err)
		}
	}
	// Attempt 1 was taken over by attempt 2.
	if _, err := e.store.StartGeneration(ctx, g.ID, 1); !errors.Is(err, wallpaper.ErrSuperseded) {
		t.Errorf("a stale attempt starting again: %v, want ErrSuperseded", err)
	}
	if err := e.store.FailAttempt(ctx, g.ID, 1, wallpaper.Failure{Code: "internal_error", Message: "x"}); !errors.Is(err, wallpaper.ErrSuperseded) {
		t.Errorf("a stale attempt failing the generation: %v, want ErrSuperseded", err)
	}
	if err := e.store.CompleteGeneration(ctx, g.ID, 1, wallpaperOf(1)); !errors.Is(err, wallpaper.ErrSuperseded) {
		t.Errorf("a stale attempt completing the generation: %v, want ErrSuperseded", err)
	}
	if got, _ := e.store.Generation(ctx, g.ID); got.Status != wallpaper.StatusRunning || got.Wallpaper != nil {
		t.Fatalf("after the stale attempt: %+v", got)
	}
	if e.used(t) != 1 {
		t.Errorf("quota used %d after the stale attempt's failure, want 1", e.used(t))
	}
	// The holder completes; the stale one, later still, is refused again.
	if err := e.store.CompleteGeneration(ctx, g.ID, 2, wallpaperOf(2)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CompleteGeneration(ctx, g.ID, 1, wallpaperOf(1)); !errors.Is(err, wallpaper.ErrSuperseded) {
		t.Errorf("a stale attempt completing a succeeded generation: %v, want ErrSuperseded", err)
	}
	if err := e.store.CompleteGeneration(ctx, g.ID, 2, wallpaperOf(2)); err != nil {
		t.Errorf("the holder's commit retried: %v", err)
	}
	got, _ := e.store.Generation(ctx, g.ID)
	if got.Status != wallpaper.StatusSucceeded || got.Wallpaper == nil || got.Wallpaper.ImageKey != wallpaperOf(2).ImageKey {
		t.Errorf("succeeded generation %+v, want attempt 2's wallpaper", got)
	}
	e.mu.Lock()
	deleted := e.deleted
	e.mu.Unlock()
	stale := wallpaperOf(1)
	// Each refused completion queues its keys (and their public
	// counterparts) for deletion; the holder's are never among them.
	if !slices.Contains(deleted, stale.ImageKey) || !slices.Contains(deleted, stale.MasterKey) || !slices.Contains(deleted, stale.ThumbnailKey) {
		t.Errorf("deletions queued %v; want the stale attempt's keys", deleted)
	}
	for _, k := range deleted {
		if !strings.Contains(k, "/"+g.ID.String()+"/1/") {
			t.Errorf("%s was queued for deletion; only the stale attempt's objects may be", k)
		}
	}
	if e.used(t) != 1 {
		t.Errorf("quota used %d, want 1", e.used(t))
	}
}
