package wallpaper_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai on a machine without zoneinfo

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// shanghai is the zone the product's quota day follows.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// noon is 12:00 in Shanghai on 10 March 2026: far from either midnight.
var noon = time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)

// march10 is the quota day of noon, in the form the store keeps.
var march10 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

type submitEnv struct {
	service   *wallpaper.Service
	store     *memStore
	moderator *fakeModerator
	clock     *fakeClock
}

func newSubmitEnv(t *testing.T, dailyLimit int) *submitEnv {
	t.Helper()
	clock := &fakeClock{t: noon}
	store := newMemStore(clock.Now)
	moderator := &fakeModerator{}
	service := wallpaper.NewService(wallpaper.ServiceConfig{
		Generations: store, Quota: store, Moderator: moderator,
		Policy:  wallpaper.QuotaPolicy{DailyLimit: dailyLimit, Location: shanghai},
		Cursors: testCodec, Now: clock.Now,
	})
	return &submitEnv{service: service, store: store, moderator: moderator, clock: clock}
}

// submit is a Submit that must be accepted.
func (e *submitEnv) submit(t *testing.T, userID uuid.UUID, in wallpaper.SubmitInput) (*wallpaper.Generation, bool) {
	t.Helper()
	g, created, err := e.service.Submit(context.Background(), userID, in)
	if err != nil {
		t.Fatalf("Submit(%+v) = %v", in, err)
	}
	return g, created
}

// assertNothingSpent checks that a refused submission reached neither the
// store nor, when moderated is false, the moderator.
func (e *submitEnv) assertNothingSpent(t *testing.T, userID uuid.UUID, moderated bool) {
	t.Helper()
	st := e.store.stats()
	if st.creates != 0 || st.generations != 0 {
		t.Errorf("the store was asked to create %d generations and holds %d; want none", st.creates, st.generations)
	}
	if used := e.store.usedOn(userID, march10); used != 0 {
		t.Errorf("quota used = %d, want 0", used)
	}
	if n := len(e.moderator.asked()); !moderated && n != 0 {
		t.Errorf("the moderator was asked %d times, want never", n)
	}
}

func TestSubmitRefusesBadInputBeforeModerationAndSpending(t *testing.T) {
	const invalid = "invalid_request"
	tests := []struct {
		name     string
		in       wallpaper.SubmitInput
		wantCode string // the failure code; wantKind says its kind
		wantKind failure.Kind
		wantMsg  string // part of the message that names the problem
	}{
		{"empty prompt", wallpaper.SubmitInput{Prompt: ""}, invalid, failure.Invalid, "prompt is required"},
		{"blank prompt", wallpaper.SubmitInput{Prompt: " \n\t "}, invalid, failure.Invalid, "prompt is required"},
		{"prompt one rune too long", wallpaper.SubmitInput{Prompt: strings.Repeat("山", wallpaper.MaxPromptRunes+1)}, invalid, failure.Invalid, "the limit is 1000"},
		{"control character", wallpaper.SubmitInput{Prompt: "a\x00b"}, invalid, failure.Invalid, "control characters"},
		{"not UTF-8", wallpaper.SubmitInput{Prompt: "a\xffb"}, invalid, failure.Invalid, "UTF-8"},
		{"blocked term", wallpaper.SubmitInput{Prompt: "a Terrorist Attack at dawn"}, "prompt_rejected", failure.Rejected, "cannot be used"},
		{"bad size", wallpaper.SubmitInput{Prompt: "dunes", Options: wallpaper.Options{Size: "800x600"}}, invalid, failure.Invalid, "size must be"},
		{"bad style", wallpaper.SubmitInput{Prompt: "dunes", Options: wallpaper.Options{Style: "anime"}}, invalid, failure.Invalid, "style must be"},
		{"bad quality", wallpaper.SubmitInput{Prompt: "dunes", Options: wallpaper.Options{Quality: "ultra"}}, invalid, failure.Invalid, "quality must be"},
		{"idempotency key too long", wallpaper.SubmitInput{Prompt: "dunes", IdempotencyKey: strings.Repeat("k", 256)}, invalid, failure.Invalid, "Idempotency-Key"},
		{"idempotency key with a space", wallpaper.SubmitInput{Prompt: "dunes", IdempotencyKey: "two words"}, invalid, failure.Invalid, "Idempotency-Key"},
		{"idempotency key not ASCII", wallpaper.SubmitInput{Prompt: "dunes", IdempotencyKey: "键"}, invalid, failure.Invalid, "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSubmitEnv(t, 5)
			user := uuid.New()
			g, created, err := e.service.Submit(context.Background(), user, tt.in)
			if g != nil || created {
				t.Errorf("Submit returned a generation (%v, created %v) with its error", g, created)
			}
			f := failure.From(err)
			if f == nil || f.Code != tt.wantCode || f.Kind != tt.wantKind || !strings.Contains(f.Message, tt.wantMsg) {
				t.Fatalf("Submit error = %v, want %s (kind %d) saying %q", err, tt.wantCode, tt.wantKind, tt.wantMsg)
			}
			e.assertNothingSpent(t, user, false)
		})
	}
}

func TestSubmitAcceptsTheLongestPrompt(t *testing.T) {
	e := newSubmitEnv(t, 5)
	prompt := strings.Repeat("山", wallpaper.MaxPromptRunes) // 1000 runes, 3000 bytes
	g, _ := e.submit(t, uuid.New(), wallpaper.SubmitInput{Prompt: prompt})
	if g.Prompt != prompt {
		t.Errorf("prompt stored as %d runes, want the 1000 given", len([]rune(g.Prompt)))
	}
}

func TestSubmitModerationRefusalSpendsNothing(t *testing.T) {
	cause := errors.New("msgSecCheck: connection refused")
	tests := []struct {
		name    string
		verdict error
		want    error // errors.Is targets, all of which must match
		also    error
	}{
		{"rejected", wallpaper.ErrPromptRejected, wallpaper.ErrPromptRejected, nil},
		{"rejected, wrapped by the adapter", adapterWrapped(wallpaper.ErrPromptRejected), wallpaper.ErrPromptRejected, nil},
		{"moderation unreachable", cause, wallpaper.ErrModeration, cause},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSubmitEnv(t, 5)
			e.moderator.check = func(context.Context, uuid.UUID, string) error { return tt.verdict }
			user := uuid.New()
			_, _, err := e.service.Submit(context.Background(), user, wallpaper.SubmitInput{Prompt: "  a quiet harbour  "})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Submit error = %v, want %v", err, tt.want)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("Submit error = %v does not wrap its cause %v", err, tt.also)
			}
			if tt.want == wallpaper.ErrModeration && errors.Is(err, wallpaper.ErrPromptRejected) {
				t.Errorf("an unreachable moderator reads as a refusal: %v", err)
			}
			asked := e.moderator.asked()
			if len(asked) != 1 || asked[0].userID != user || asked[0].prompt != "a quiet harbour" {
				t.Errorf("moderator asked %+v, want once for the user with the trimmed prompt", asked)
			}
			e.assertNothingSpent(t, user, true)
		})
	}
}

// adapterWrapped wraps err as an adapter would on its way out.
func adapterWrapped(err error) error { return fmt.Errorf("wechat: msgSecCheck: %w", err) }

func TestSubmitQueuesAGenerationAndSpendsOneUnit(t *testing.T) {
	tests := []struct {
		name        string
		in          wallpaper.SubmitInput
		wantPrompt  string
		wantOptions wallpaper.Options
	}{
		{"defaults", wallpaper.SubmitInput{Prompt: "  a lighthouse at dusk\n"}, "a lighthouse at dusk",
			wallpaper.Options{Size: wallpaper.SizePortrait, Style: wallpaper.StyleVivid, Quality: wallpaper.QualityStandard}},
		{"chosen options", wallpaper.SubmitInput{Prompt: "海边的灯塔", Options: wallpaper.Options{
			Size: wallpaper.SizeLandscape, Style: wallpaper.StyleNatural, Quality: wallpaper.QualityHD}}, "海边的灯塔",
			wallpaper.Options{Size: wallpaper.SizeLandscape, Style: wallpaper.StyleNatural, Quality: wallpaper.QualityHD}},
		{"some options", wallpaper.SubmitInput{Prompt: "fog", Options: wallpaper.Options{Size: wallpaper.SizeSquare}}, "fog",
			wallpaper.Options{Size: wallpaper.SizeSquare, Style: wallpaper.StyleVivid, Quality: wallpaper.QualityStandard}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSubmitEnv(t, 5)
			user := uuid.New()
			g, created := e.submit(t, user, tt.in)
			if !created {
				t.Error("created = false for a new request")
			}
			if g.ID == uuid.Nil || g.UserID != user || g.Status != wallpaper.StatusQueued ||
				g.Prompt != tt.wantPrompt || g.Options != tt.wantOptions || g.Attempts != 0 {
				t.Errorf("generation = %+v, want a queued one of the user with prompt %q and options %+v", g, tt.wantPrompt, tt.wantOptions)
			}
			if used := e.store.usedOn(user, march10); used != 1 {
				t.Errorf("quota used on the Shanghai day = %d, want 1", used)
			}
			if q, err := e.service.Quota(context.Background(), user); err != nil || q.UsedToday != 1 || q.Remaining != 4 {
				t.Errorf("Quota = %+v, %v; want 1 used, 4 remaining", q, err)
			}
			if jobs := e.store.jobs(); len(jobs) != 1 || jobs[0] != g.ID {
				t.Errorf("jobs enqueued for %v, want one for %s", jobs, g.ID)
			}
			if asked := e.moderator.asked(); len(asked) != 1 || asked[0].prompt != tt.wantPrompt {
				t.Errorf("moderator asked %+v, want the stored prompt %q once", asked, tt.wantPrompt)
			}
		})
	}
}

func TestSubmitWithoutModeratorUsesLocalRules(t *testing.T) {
	store := newMemStore(func() time.Time { return noon })
	s := wallpaper.NewService(wallpaper.ServiceConfig{Generations: store, Quota: store,
		Policy: wallpaper.QuotaPolicy{DailyLimit: 1, Location: shanghai}, Cursors: testCodec,
		Now: func() time.Time { return noon }})
	user := uuid.New()
	if _, _, err := s.Submit(context.Background(), user, wallpaper.SubmitInput{Prompt: "csam"}); !errors.Is(err, wallpaper.ErrPromptRejected) {
		t.Fatalf("blocked term: Submit error = %v, want ErrPromptRejected", err)
	}
	if _, created, err := s.Submit(context.Background(), user, wallpaper.SubmitInput{Prompt: "dunes"}); err != nil || !created {
		t.Fatalf("Submit = created %v, %v; want accepted", created, err)
	}
	if used := store.usedOn(user, march10); used != 1 {
		t.Errorf("quota used = %d, want 1", used)
	}
}

func TestSubmitIdempotencyKey(t *testing.T) {
	first := wallpaper.SubmitInput{Prompt: "a red kite", IdempotencyKey: "req-7f3a"}
	tests := []struct {
		name      string
		limit     int
		second    wallpaper.SubmitInput
		otherUser bool
		wantErr   error // nil: accepted
		wantSame  bool  // the original generation comes back, created false
		wantUsed  int   // the first user's units after both
		// wantAsked is how often the moderator was asked for both: a
		// replay or a conflict never reaches it.
		wantAsked int
	}{
		{name: "replay", limit: 5, second: first, wantSame: true, wantUsed: 1, wantAsked: 1},
		{name: "replay of the same request written differently", limit: 5,
			second: wallpaper.SubmitInput{Prompt: "  a red kite\n", IdempotencyKey: "req-7f3a", Options: wallpaper.Options{
				Size: wallpaper.SizePortrait, Style: wallpaper.StyleVivid, Quality: wallpaper.QualityStandard}},
			wantSame: true, wantUsed: 1, wantAsked: 1},
		{name: "replay when the quota is used up", limit: 1, second: first, wantSame: true, wantUsed: 1, wantAsked: 1},
		{name: "same key, other prompt", limit: 5, second: wallpaper.SubmitInput{Prompt: "a blue kite", IdempotencyKey: "req-7f3a"},
			wantErr: wallpaper.ErrIdempotencyConflict, wantUsed: 1, wantAsked: 1},
		{name: "same key, other options", limit: 5,
			second:  wallpaper.SubmitInput{Prompt: "a red kite", IdempotencyKey: "req-7f3a", Options: wallpaper.Options{Quality: wallpaper.QualityHD}},
			wantErr: wallpaper.ErrIdempotencyConflict, wantUsed: 1, wantAsked: 1},
		{name: "another user's same key", limit: 5, second: first, otherUser: true, wantUsed: 1, wantAsked: 2},
		{name: "other key", limit: 5, second: wallpaper.SubmitInput{Prompt: "a red kite", IdempotencyKey: "req-7f3b"},
			wantUsed: 2, wantAsked: 2},
		{name: "no key", limit: 5, second: wallpaper.SubmitInput{Prompt: "a red kite"}, wantUsed: 2, wantAsked: 2},
		{name: "other key when the quota is used up", limit: 1, second: wallpaper.SubmitInput{Prompt: "a red kite", IdempotencyKey: "req-7f3b"},
			wantErr: wallpaper.ErrQuotaExceeded, wantUsed: 1, wantAsked: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSubmitEnv(t, tt.limit)
			user := uuid.New()
			orig, _ := e.submit(t, user, first)
			second := user
			if tt.otherUser {
				second = uuid.New()
			}
			g, created, err := e.service.Submit(context.Background(), second, tt.second)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) || g != nil {
					t.Fatalf("Submit = %v, %v; want %v", g, err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("Submit error = %v, want accepted", err)
			case tt.wantSame:
				if created || g.ID != orig.ID || g.UserID != user || g.Prompt != orig.Prompt {
					t.Errorf("Submit = %+v, created %v; want the original %s, created false", g, created, orig.ID)
				}
			default:
				if !created || g.ID == orig.ID || g.UserID != second {
					t.Errorf("Submit = %+v, created %v; want a new generation of %s", g, created, second)
				}
			}
			if used := e.store.usedOn(user, march10); used != tt.wantUsed {
				t.Errorf("first user's quota used = %d, want %d", used, tt.wantUsed)
			}
			if tt.otherUser {
				if used := e.store.usedOn(second, march10); used != 1 {
					t.Errorf("other user's quota used = %d, want 1", used)
				}
			}
			if asked := e.moderator.asked(); len(asked) != tt.wantAsked {
				t.Errorf("moderator asked %d times, want %d: %+v", len(asked), tt.wantAsked, asked)
			}
		})
	}
}

func TestSubmitQuotaExceeded(t *testing.T) {
	tests := []struct {
		name      string
		now       time.Time
		wantDay   time.Time     // the quota day charged, in the store's form
		wantRetry time.Duration // to the next midnight in Shanghai
		wantReset string
	}{
		{"noon in Shanghai", noon, march10, 12 * time.Hour, "2026-03-11T00:00:00+08:00"},
		// 23:30 in Shanghai while it is still the 10th in UTC too.
		{"half an hour before Shanghai's midnight", time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC), march10,
			30 * time.Minute, "2026-03-11T00:00:00+08:00"},
		// 00:30 on the 11th in Shanghai, still the 10th in UTC.
		{"just after Shanghai's midnight", time.Date(2026, 3, 10, 16, 30, 0, 0, time.UTC),
			time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), 23*time.Hour + 30*time.Minute, "2026-03-12T00:00:00+08:00"},
		{"on the stroke of Shanghai's midnight", time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), 24 * time.Hour, "2026-03-12T00:00:00+08:00"},
		{"a second before it", time.Date(2026, 3, 10, 15, 59, 59, 0, time.UTC), march10, time.Second, "2026-03-11T00:00:00+08:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSubmitEnv(t, 2)
			e.clock.Set(tt.now)
			user := uuid.New()
			e.submit(t, user, wallpaper.SubmitInput{Prompt: "one"})
			e.submit(t, user, wallpaper.SubmitInput{Prompt: "two"})
			g, created, err := e.service.Submit(context.Background(), user, wallpaper.SubmitInput{Prompt: "three"})
			if !errors.Is(err, wallpaper.ErrQuotaExceeded) || g != nil || created {
				t.Fatalf("third Submit = %v, %v, %v; want ErrQuotaExceeded", g, created, err)
			}
			f := failure.From(err)
			if f.Kind != failure.RateLimited || f.RetryAfter != tt.wantRetry {
				t.Errorf("kind %d, RetryAfter %v; want RateLimited, %v", f.Kind, f.RetryAfter, tt.wantRetry)
			}
			if !strings.Contains(f.Message, "all 2 of today's generations") || !strings.Contains(f.Message, tt.wantReset) {
				t.Errorf("message %q does not name the limit 2 and the reset %s", f.Message, tt.wantReset)
			}
			if used := e.store.usedOn(user, tt.wantDay); used != 2 {
				t.Errorf("quota used on %s = %d, want 2", tt.wantDay.Format(time.DateOnly), used)
			}
			if asked := e.moderator.asked(); len(asked) != 2 {
				t.Errorf("moderator asked %d times, want 2: the refused third request must not reach it", len(asked))
			}
		})
	}
}

// TestSubmitOverQuotaNeverModerates: a user out of quota who keeps
// submitting (new prompts, fresh keys, prompts the moderator would refuse)
// gets quota_exceeded every time and never reaches the moderator, whose
// allowance every user of the app shares.
func TestSubmitOverQuotaNeverModerates(t *testing.T) {
	const limit = 3
	e := newSubmitEnv(t, limit)
	e.moderator.check = func(_ context.Context, _ uuid.UUID, prompt string) error {
		if strings.Contains(prompt, "forbidden") {
			return wallpaper.ErrPromptRejected
		}
		return nil
	}
	user := uuid.New()
	for i := range limit {
		e.submit(t, user, wallpaper.SubmitInput{Prompt: fmt.Sprintf("harbour %d", i)})
	}
	inputs := []wallpaper.SubmitInput{
		{Prompt: "one more harbour"},
		{Prompt: "one more harbour", IdempotencyKey: "fresh-1"},
		{Prompt: "a forbidden harbour"},
		{Prompt: "yet another harbour", Options: wallpaper.Options{Quality: wallpaper.QualityHD}},
	}
	for i := range 50 {
		in := inputs[i%len(inputs)]
		if in.IdempotencyKey != "" {
			in.IdempotencyKey = fmt.Sprintf("fresh-%d", i)
		}
		g, created, err := e.service.Submit(context.Background(), user, in)
		if !errors.Is(err, wallpaper.ErrQuotaExceeded) || g != nil || created {
			t.Fatalf("submission %d over quota = %v, %v, %v; want ErrQuotaExceeded", i, g, created, err)
		}
		if f := failure.From(err); f.RetryAfter != 12*time.Hour {
			t.Errorf("Retry-After %v, want 12h to Shanghai's midnight", f.RetryAfter)
		}
	}
	if asked := e.moderator.asked(); len(asked) != limit {
		t.Errorf("moderator asked %d times, want %d (once per accepted generation)", len(asked), limit)
	}
	if st := e.store.stats(); st.creates != limit || st.generations != limit {
		t.Errorf("store: %d creates, %d generations; want %d of each", st.creates, st.generations, limit)
	}
	if used := e.store.usedOn(user, march10); used != limit {
		t.Errorf("quota used = %d, want %d", used, limit)
	}
}

func TestSubmitQuotaResetsAtShanghaiMidnight(t *testing.T) {
	e := newSubmitEnv(t, 1)
	user := uuid.New()
	e.clock.Set(time.Date(2026, 3, 10, 15, 59, 59, 0, time.UTC)) // 23:59:59 in Shanghai
	before, _ := e.submit(t, user, wallpaper.SubmitInput{Prompt: "late"})
	if _, _, err := e.service.Submit(context.Background(), user, wallpaper.SubmitInput{Prompt: "later"}); !errors.Is(err, wallpaper.ErrQuotaExceeded) {
		t.Fatalf("second Submit = %v, want ErrQuotaExceeded", err)
	}
	e.clock.Set(time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)) // midnight in Shanghai, not in UTC
	after, _ := e.submit(t, user, wallpaper.SubmitInput{Prompt: "early"})
	if _, day := e.store.record(t, before.ID); !day.Equal(march10) {
		t.Errorf("first generation charged to %s, want 2026-03-10", day.Format(time.DateOnly))
	}
	if _, day := e.store.record(t, after.ID); !day.Equal(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("second generation charged to %s, want 2026-03-11", day.Format(time.DateOnly))
	}
}

func TestSubmitConcurrentNeverSpendsMoreThanTheLimit(t *testing.T) {
	const limit, perUser = 5, 24
	e := newSubmitEnv(t, limit)
	users := []uuid.UUID{uuid.New(), uuid.New()}
	type result struct {
		user    uuid.UUID
		created bool
		err     error
	}
	results := make(chan result, len(users)*perUser)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, user := range users {
		for i := range perUser {
			wg.Go(func() {
				<-start
				in := wallpaper.SubmitInput{Prompt: "storm over the sea"}
				if i%2 == 0 {
					in.IdempotencyKey = "k" + strings.Repeat("x", i) // distinct keys: none is a replay
				}
				_, created, err := e.service.Submit(context.Background(), user, in)
				results <- result{user, created, err}
			})
		}
	}
	close(start)
	wg.Wait()
	close(results)
	accepted := map[uuid.UUID]int{}
	for r := range results {
		switch {
		case r.err == nil && r.created:
			accepted[r.user]++
		case errors.Is(r.err, wallpaper.ErrQuotaExceeded):
		default:
			t.Errorf("Submit = created %v, %v; want accepted or ErrQuotaExceeded", r.created, r.err)
		}
	}
	for _, user := range users {
		if accepted[user] != limit {
			t.Errorf("user %s: %d accepted, want exactly %d", user, accepted[user], limit)
		}
		if used := e.store.usedOn(user, march10); used != limit {
			t.Errorf("user %s: quota used = %d, want %d", user, used, limit)
		}
	}
	if st := e.store.stats(); st.generations != limit*len(users) {
		t.Errorf("store holds %d generations, want %d", st.generations, limit*len(users))
	}
}
