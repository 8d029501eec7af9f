package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// TestImageCheckVerdictRacesItsAsk: WeChat's push of a verdict and the
// recording of the trace id it answers race. Whatever the order, the
// verdict is applied exactly once: by AnswerCheck (answered true) or handed
// to RecordCheck (early), never both, never neither.
func TestImageCheckVerdictRacesItsAsk(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.NewGallery(pool, newJobs(t, pool))
	ctx := context.Background()
	alice := seedUser(t, pool, "o-alice")
	w, err := store.Wallpaper(ctx, seedWallpaper(t, pool, alice, true, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	const traces = 200
	for i := range traces {
		trace := fmt.Sprintf("race-%d", i)
		v := wallpaper.Verdict{Suggest: wallpaper.SuggestReview, Label: "20002"}
		var (
			wg       sync.WaitGroup
			early    *wallpaper.Verdict
			answered bool
			recErr   error
			ansErr   error
		)
		wg.Add(2)
		go func() { defer wg.Done(); early, recErr = store.RecordCheck(ctx, trace, w) }()
		go func() { defer wg.Done(); _, answered, ansErr = store.AnswerCheck(ctx, trace, v) }()
		wg.Wait()
		if recErr != nil || (ansErr != nil && !errors.Is(ansErr, wallpaper.ErrNotFound)) {
			t.Fatalf("%s: record %v, answer %v", trace, recErr, ansErr)
		}
		if answered == (early != nil) {
			t.Fatalf("%s: answered by the push %v, handed to the ask %v: want exactly one", trace, answered, early != nil)
		}
		if early != nil && *early != v {
			t.Fatalf("%s: the ask got %+v, want %+v", trace, *early, v)
		}
		if answered && ansErr != nil {
			t.Fatalf("%s: answered and %v", trace, ansErr)
		}
		// The ask handed the verdict applies it (as Moderation.Check does);
		// after that the same push again answers nothing new.
		if early != nil {
			if _, ok, err := store.AnswerCheck(ctx, trace, *early); err != nil || !ok {
				t.Fatalf("%s: applying the early verdict: answered %v, %v", trace, ok, err)
			}
		}
		if _, again, err := store.AnswerCheck(ctx, trace, v); err != nil || again {
			t.Fatalf("%s: a repeated push: answered %v, %v", trace, again, err)
		}
	}
	var kept int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM moderation_early_verdicts`).Scan(&kept); err != nil || kept != 0 {
		t.Fatalf("%d early verdicts left behind (%v)", kept, err)
	}
	// A verdict whose ask is never recorded is kept, then dropped after a
	// day.
	if _, _, err := store.AnswerCheck(ctx, "never-asked", wallpaper.Verdict{Suggest: wallpaper.SuggestPass}); !errors.Is(err, wallpaper.ErrNotFound) {
		t.Fatalf("a verdict for a trace never asked: %v, want ErrNotFound", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE moderation_early_verdicts SET received_at = now() - interval '25 hours'`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.AnswerCheck(ctx, "another-never-asked", wallpaper.Verdict{Suggest: wallpaper.SuggestPass}); !errors.Is(err, wallpaper.ErrNotFound) {
		t.Fatal(err)
	}
	var left []string
	rows, _ := pool.Query(ctx, `SELECT trace_id FROM moderation_early_verdicts`)
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0] != "another-never-asked" {
		t.Errorf("kept verdicts after a day: %v, want only the new one", left)
	}
}
