package wallpaper_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// govStore is an in-memory ModerationStore and PublishStore keeping the
// contracts the interfaces state: a trace answered once, a review moved
// only from the state asked, objects recorded only while the state wants
// them there, one sync at a time per wallpaper.
type govStore struct {
	mu         sync.Mutex
	walls      map[uuid.UUID]*wallpaper.Wallpaper
	checks     map[string]*govCheck
	early      map[string]wallpaper.Verdict // verdicts kept before their ask
	rejected   map[uuid.UUID]wallpaper.Failure
	syncQueued []uuid.UUID
	locks      map[uuid.UUID]*sync.Mutex
}

type govCheck struct {
	wallpaper uuid.UUID
	verdict   *wallpaper.Verdict
}

func newGovStore() *govStore {
	return &govStore{walls: map[uuid.UUID]*wallpaper.Wallpaper{}, checks: map[string]*govCheck{},
		early: map[string]wallpaper.Verdict{}, rejected: map[uuid.UUID]wallpaper.Failure{}, locks: map[uuid.UUID]*sync.Mutex{}}
}

func (s *govStore) add(w wallpaper.Wallpaper) *wallpaper.Wallpaper {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.walls[w.ID] = &w
	return &w
}

func (s *govStore) get(id uuid.UUID) (wallpaper.Wallpaper, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.walls[id]
	if !ok {
		return wallpaper.Wallpaper{}, false
	}
	return *w, true
}

func (s *govStore) Wallpaper(_ context.Context, id uuid.UUID) (*wallpaper.Wallpaper, error) {
	w, ok := s.get(id)
	if !ok {
		return nil, wallpaper.ErrNotFound
	}
	w.Visible = w.ShouldPublish() && w.Published
	return &w, nil
}

func (s *govStore) RecordCheck(_ context.Context, traceID string, w *wallpaper.Wallpaper) (*wallpaper.Verdict, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.checks[traceID]; !ok {
		s.checks[traceID] = &govCheck{wallpaper: w.ID}
	}
	v, ok := s.early[traceID]
	if !ok {
		return nil, nil
	}
	delete(s.early, traceID)
	return &v, nil
}

func (s *govStore) AnswerCheck(_ context.Context, traceID string, v wallpaper.Verdict) (uuid.UUID, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.checks[traceID]
	if !ok {
		if _, kept := s.early[traceID]; !kept {
			s.early[traceID] = v
		}
		return uuid.Nil, false, wallpaper.ErrNotFound
	}
	if c.verdict != nil {
		return c.wallpaper, false, nil
	}
	c.verdict = &v
	return c.wallpaper, true, nil
}

func (s *govStore) SetReview(_ context.Context, id uuid.UUID, from, to string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.walls[id]
	if !ok || w.Review != from {
		return false, nil
	}
	w.Review = to
	s.syncQueued = append(s.syncQueued, id)
	return true, nil
}

func (s *govStore) Reject(_ context.Context, id uuid.UUID, f wallpaper.Failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.walls[id]
	if !ok || w.Review != wallpaper.ReviewPending {
		return wallpaper.ErrNotFound
	}
	delete(s.walls, id)
	if _, twice := s.rejected[id]; twice {
		return errors.New("rejected twice")
	}
	s.rejected[id] = f
	return nil
}

func (s *govStore) SetObjects(_ context.Context, id uuid.UUID, published bool, imageKey, thumbKey string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.walls[id]
	if !ok || w.ShouldPublish() != published || (w.Published == published && w.ImageKey == imageKey) {
		return false, nil
	}
	w.Published, w.ImageKey, w.ThumbnailKey = published, imageKey, thumbKey
	return true, nil
}

func (s *govStore) Serialize(ctx context.Context, id uuid.UUID, fn func(context.Context) error) error {
	s.mu.Lock()
	l, ok := s.locks[id]
	if !ok {
		l = &sync.Mutex{}
		s.locks[id] = l
	}
	s.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	return fn(ctx)
}

// fakeChecker is the image checker: it answers at once with verdict when
// set, else with a trace id only (the answer comes later by push).
type fakeChecker struct {
	mu      sync.Mutex
	verdict *wallpaper.Verdict
	err     error
	asked   []wallpaper.ImageCheck
}

func (c *fakeChecker) CheckImage(_ context.Context, ic wallpaper.ImageCheck) (string, *wallpaper.Verdict, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, ic)
	if c.err != nil {
		return "", nil, c.err
	}
	return fmt.Sprintf("trace-%d", len(c.asked)), c.verdict, nil
}

func (c *fakeChecker) asks() []wallpaper.ImageCheck {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// fakeTimeouts records the follow-ups scheduled.
type fakeTimeouts struct {
	mu  sync.Mutex
	got []int
}

func (f *fakeTimeouts) ModerationTimeout(_ context.Context, _ uuid.UUID, attempt int, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Until(at) < time.Minute {
		return errors.New("a follow-up scheduled without the timeout")
	}
	f.got = append(f.got, attempt)
	return nil
}

type signer struct{}

func (signer) SignedURL(key string, ttl time.Duration) string {
	return fmt.Sprintf("https://signed.example/%s?ttl=%s", key, ttl)
}

func pendingWallpaper() wallpaper.Wallpaper {
	gen := uuid.New()
	return wallpaper.Wallpaper{
		ID: wallpaper.WallpaperID(gen), GenerationID: &gen, Author: wallpaper.Author{ID: uuid.New()},
		Prompt: "a harbour at night", Public: true, Review: wallpaper.ReviewPending,
		ImageKey:     wallpaper.ObjectKey(wallpaper.PrivatePrefix, gen, "image.jpg"),
		ThumbnailKey: wallpaper.ObjectKey(wallpaper.PrivatePrefix, gen, "thumb.jpg"),
		MasterKey:    wallpaper.ObjectKey(wallpaper.PrivatePrefix, gen, "master.png"),
	}
}

func newModeration(store *govStore, checker *fakeChecker, timeouts *fakeTimeouts) *wallpaper.Moderation {
	return wallpaper.NewModeration(wallpaper.ModerationConfig{
		Store: store, Checker: checker, Timeouts: timeouts, URLs: signer{},
		Timeout: 30 * time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func TestModerationVerdicts(t *testing.T) {
	tests := []struct {
		name       string
		suggest    string
		wantReview string // "" when the wallpaper is gone
	}{
		{"pass approves", wallpaper.SuggestPass, wallpaper.ReviewApproved},
		{"review holds", wallpaper.SuggestReview, wallpaper.ReviewHeld},
		{"risky removes", wallpaper.SuggestRisky, ""},
		{"an unknown suggestion holds", "maybe", wallpaper.ReviewHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, checker, timeouts := newGovStore(), &fakeChecker{}, &fakeTimeouts{}
			m := newModeration(store, checker, timeouts)
			w := store.add(pendingWallpaper())
			ctx := context.Background()

			if err := m.Check(ctx, w.ID, 1); err != nil {
				t.Fatal(err)
			}
			asks := checker.asks()
			if len(asks) != 1 || asks[0].UserID != w.Author.ID || asks[0].WallpaperID != w.ID {
				t.Fatalf("asked %+v, want one check of %s as %s", asks, w.ID, w.Author.ID)
			}
			// WeChat fetches a signed URL of the (private) display image,
			// valid longer than it may take to answer.
			if want := (signer{}).SignedURL(w.ImageKey, 70*time.Minute); asks[0].URL != want {
				t.Errorf("check URL %q, want %q", asks[0].URL, want)
			}
			if len(timeouts.got) != 1 || timeouts.got[0] != 1 {
				t.Errorf("follow-ups %v, want one for the first ask", timeouts.got)
			}
			if got, _ := store.get(w.ID); got.Review != wallpaper.ReviewPending {
				t.Fatalf("before the verdict the review is %s", got.Review)
			}

			v := wallpaper.Verdict{Suggest: tt.suggest, Label: "20002"}
			for range 2 { // the same push twice changes nothing more
				if err := m.Apply(ctx, "trace-1", v); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := store.get(w.ID)
			if tt.wantReview == "" {
				if ok {
					t.Fatalf("a risky wallpaper is still there: %+v", got)
				}
				if f := store.rejected[w.ID]; f.Code != "content_rejected" {
					t.Errorf("its generation failed with %+v, want content_rejected", f)
				}
			} else if !ok || got.Review != tt.wantReview {
				t.Fatalf("after the verdict: %+v (exists %v), want review %s", got, ok, tt.wantReview)
			}
			// A verdict for a trace not recorded is kept for it, and
			// changes nothing now.
			if err := m.Apply(ctx, "never-asked", v); err != nil {
				t.Errorf("a verdict for an unknown trace = %v, want it kept", err)
			}
			if _, kept := store.early["never-asked"]; !kept {
				t.Error("a verdict for an unknown trace was not kept for its ask")
			}
		})
	}
}

// TestModerationVerdictBeforeItsAsk: WeChat may push a verdict before
// Check has recorded the trace id WeChat just answered with; the verdict
// is kept, however long the ask takes to be recorded, and applied then.
func TestModerationVerdictBeforeItsAsk(t *testing.T) {
	store, checker, timeouts := newGovStore(), &fakeChecker{}, &fakeTimeouts{}
	m := newModeration(store, checker, timeouts)
	w := store.add(pendingWallpaper())
	ctx := context.Background()
	// The push is in before the ask is recorded.
	if err := m.Apply(ctx, "trace-1", wallpaper.Verdict{Suggest: wallpaper.SuggestPass, Label: "100"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.get(w.ID); got.Review != wallpaper.ReviewPending {
		t.Fatalf("a verdict for a trace not yet asked moved the review to %s", got.Review)
	}
	if err := m.Check(ctx, w.ID, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.get(w.ID); got.Review != wallpaper.ReviewApproved {
		t.Fatalf("after an early pass the review is %s, want approved", got.Review)
	}
	if len(timeouts.got) != 0 {
		t.Errorf("a follow-up was scheduled for a check already answered: %v", timeouts.got)
	}
}

func TestModerationTimeout(t *testing.T) {
	store, checker, timeouts := newGovStore(), &fakeChecker{}, &fakeTimeouts{}
	m := newModeration(store, checker, timeouts)
	w := store.add(pendingWallpaper())
	ctx := context.Background()
	if err := m.Check(ctx, w.ID, 1); err != nil {
		t.Fatal(err)
	}
	// No answer in time: asked once more…
	if err := m.Timeout(ctx, w.ID, 1); err != nil {
		t.Fatal(err)
	}
	if n := len(checker.asks()); n != 2 {
		t.Fatalf("after the first timeout %d asks, want 2", n)
	}
	if got, _ := store.get(w.ID); got.Review != wallpaper.ReviewPending {
		t.Fatalf("after the first timeout the review is %s, want still pending", got.Review)
	}
	// …then held for an admin.
	if err := m.Timeout(ctx, w.ID, 2); err != nil {
		t.Fatal(err)
	}
	if n := len(checker.asks()); n != 2 {
		t.Errorf("after the second timeout %d asks, want still 2", n)
	}
	if got, _ := store.get(w.ID); got.Review != wallpaper.ReviewHeld {
		t.Fatalf("after the second timeout the review is %s, want held", got.Review)
	}
	// A late answer to the first ask changes nothing: only an admin
	// releases a held wallpaper.
	if err := m.Apply(ctx, "trace-1", wallpaper.Verdict{Suggest: wallpaper.SuggestPass}); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.get(w.ID); got.Review != wallpaper.ReviewHeld {
		t.Errorf("a late pass moved a held wallpaper to %s", got.Review)
	}
}

func TestModerationLeavesAnsweredAlone(t *testing.T) {
	store, checker := newGovStore(), &fakeChecker{}
	m := newModeration(store, checker, &fakeTimeouts{})
	w := pendingWallpaper()
	w.Review = wallpaper.ReviewApproved
	store.add(w)
	if err := m.Check(context.Background(), w.ID, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(context.Background(), uuid.New(), 1); err != nil {
		t.Errorf("checking a wallpaper that is gone = %v, want nothing to do", err)
	}
	if n := len(checker.asks()); n != 0 {
		t.Errorf("%d checks asked for wallpapers not pending", n)
	}
}

func TestLocalChecker(t *testing.T) {
	for prompt, want := range map[string]string{
		"a quiet lake":                          wallpaper.SuggestPass,
		"a lake " + wallpaper.LocalMarkerReview: wallpaper.SuggestReview,
		"a lake " + wallpaper.LocalMarkerRisky:  wallpaper.SuggestRisky,
	} {
		trace, v, err := wallpaper.LocalChecker{}.CheckImage(context.Background(), wallpaper.ImageCheck{Prompt: prompt})
		if err != nil || v == nil || v.Suggest != want || trace == "" {
			t.Errorf("%q: %q, %+v, %v; want %s at once", prompt, trace, v, err, want)
		}
	}
}

// memMover is object storage in memory, recording every call.
type memMover struct {
	mu      sync.Mutex
	objects map[string]string
	failOn  string
}

func (m *memMover) Copy(_ context.Context, from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from == m.failOn || to == m.failOn {
		return errors.New("storage is down")
	}
	data, ok := m.objects[from]
	if !ok {
		return wallpaper.ErrNotFound
	}
	m.objects[to] = data
	return nil
}

func (m *memMover) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key == m.failOn {
		return errors.New("storage is down")
	}
	delete(m.objects, key)
	return nil
}

func (m *memMover) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objects {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestPublisherSync(t *testing.T) {
	w := pendingWallpaper()
	gen := *w.GenerationID
	private := []string{wallpaper.ObjectKey(wallpaper.PrivatePrefix, gen, "image.jpg"),
		wallpaper.ObjectKey(wallpaper.PrivatePrefix, gen, "thumb.jpg")}
	public := []string{wallpaper.ObjectKey(wallpaper.PublicPrefix, gen, "image.jpg"),
		wallpaper.ObjectKey(wallpaper.PublicPrefix, gen, "thumb.jpg")}
	master := w.MasterKey
	sorted := func(keys ...string) []string { slices.Sort(keys); return keys }

	store, objects := newGovStore(), &memMover{objects: map[string]string{}}
	for _, k := range append(slices.Clone(private), master) {
		objects.objects[k] = "bytes of " + k
	}
	p := wallpaper.NewPublisher(store, objects, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	store.add(w)

	step := func(name string, change func(*wallpaper.Wallpaper), wantPublished bool, wantKeys []string) {
		t.Helper()
		store.mu.Lock()
		change(store.walls[w.ID])
		store.mu.Unlock()
		if err := p.Sync(ctx, w.ID); err != nil {
			t.Fatalf("%s: Sync = %v", name, err)
		}
		got, _ := store.get(w.ID)
		if got.Published != wantPublished || !slices.Equal(sorted(got.ImageKey, got.ThumbnailKey), sorted(wantKeys[:2]...)) {
			t.Fatalf("%s: published %v at %s, %s; want %v at %v", name, got.Published, got.ImageKey, got.ThumbnailKey, wantPublished, wantKeys[:2])
		}
		if keys := objects.keys(); !slices.Equal(keys, sorted(wantKeys...)) {
			t.Fatalf("%s: stored %v, want exactly %v", name, keys, sorted(wantKeys...))
		}
	}
	step("pending stays private", func(*wallpaper.Wallpaper) {}, false, append(slices.Clone(private), master))
	step("approved is published", func(w *wallpaper.Wallpaper) { w.Review = wallpaper.ReviewApproved }, true, append(slices.Clone(public), master))
	step("made private is withdrawn", func(w *wallpaper.Wallpaper) { w.Public = false }, false, append(slices.Clone(private), master))
	step("public again", func(w *wallpaper.Wallpaper) { w.Public = true }, true, append(slices.Clone(public), master))
	step("author banned", func(w *wallpaper.Wallpaper) { w.AuthorBanned = true }, false, append(slices.Clone(private), master))
	step("unbanned", func(w *wallpaper.Wallpaper) { w.AuthorBanned = false }, true, append(slices.Clone(public), master))
	step("held by an admin", func(w *wallpaper.Wallpaper) { w.Review = wallpaper.ReviewHeld }, false, append(slices.Clone(private), master))

	// A crash between copy and commit left a stray public copy: the next
	// sync of the settled wallpaper removes it.
	objects.objects[public[0]] = "stray"
	step("stray copy removed", func(*wallpaper.Wallpaper) {}, false, append(slices.Clone(private), master))

	// Storage down in the middle of a move: the sync fails (the job
	// retries), nothing is lost, and the next run finishes the move.
	objects.failOn = public[1]
	store.mu.Lock()
	store.walls[w.ID].Review = wallpaper.ReviewApproved
	store.mu.Unlock()
	if err := p.Sync(ctx, w.ID); err == nil {
		t.Fatal("Sync with storage down = nil, want an error to retry")
	}
	if got, _ := store.get(w.ID); got.Published {
		t.Fatal("published before its objects were copied")
	}
	objects.failOn = ""
	step("finished after the fault", func(*wallpaper.Wallpaper) {}, true, append(slices.Clone(public), master))

	// Gone: nothing to do.
	store.mu.Lock()
	delete(store.walls, w.ID)
	store.mu.Unlock()
	if err := p.Sync(ctx, w.ID); err != nil {
		t.Errorf("Sync of a deleted wallpaper = %v, want nil", err)
	}
}

// TestPublisherConcurrentSyncs: syncs of one wallpaper racing state
// changes never lose an object the row names.
func TestPublisherConcurrentSyncs(t *testing.T) {
	w := pendingWallpaper()
	w.Review = wallpaper.ReviewApproved
	store, objects := newGovStore(), &memMover{objects: map[string]string{}}
	for _, k := range []string{w.ImageKey, w.ThumbnailKey, w.MasterKey} {
		objects.objects[k] = "bytes"
	}
	store.add(w)
	p := wallpaper.NewPublisher(store, objects, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			store.mu.Lock()
			store.walls[w.ID].Public = i%3 != 0
			store.mu.Unlock()
			if err := p.Sync(context.Background(), w.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := p.Sync(context.Background(), w.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := store.get(w.ID)
	for _, k := range []string{got.ImageKey, got.ThumbnailKey, got.MasterKey} {
		if _, ok := objects.objects[k]; !ok {
			t.Errorf("the row names %s, which is not stored", k)
		}
	}
	if n := len(objects.keys()); n != 3 {
		t.Errorf("%d objects stored after the syncs settled, want 3: %v", n, objects.keys())
	}
}
