package wallpaper_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// memStore keeps generations and quota in memory. It is a GenerationStore,
// QuotaStore and JobStore that keeps the contracts written on those
// interfaces (one unit spent per created generation, idempotency keys per
// user, attempts counted, a finished generation left as it is, a refund
// exactly once), so that the domain's tests exercise the domain and not a
// store that forgives mistakes. One mutex makes it safe for concurrent
// callers, as the transaction is in Postgres. Like a database call, every
// method refuses a context that is already done.
type memStore struct {
	now func() time.Time

	mu          sync.Mutex
	gens        map[uuid.UUID]*memGeneration
	keys        map[memKey]uuid.UUID
	used        map[memDay]int
	enqueued    []uuid.UUID
	creates     int // CreateGeneration calls
	replays     int // IdempotentReplay calls
	completes   int // CompleteGeneration calls
	fails       []memFailCall
	refunds     int
	completeErr error // CompleteGeneration answers this when set
	failErr     error // FailGeneration answers this when set
}

type memGeneration struct {
	g        wallpaper.Generation
	quotaDay time.Time
	hash     []byte
	lease    int // the attempt holding it
}

type memKey struct {
	user uuid.UUID
	key  string
}

type memDay struct {
	user uuid.UUID
	day  time.Time
}

// memFailCall is one FailGeneration call as the store saw it.
type memFailCall struct {
	id     uuid.UUID
	f      wallpaper.Failure
	ctxErr error // the context's state when the call came in
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{now: now, gens: map[uuid.UUID]*memGeneration{}, keys: map[memKey]uuid.UUID{}, used: map[memDay]int{}}
}

func finished(status string) bool {
	return status == wallpaper.StatusSucceeded || status == wallpaper.StatusFailed
}

// copyOf returns a generation the caller may keep: later changes in the
// store do not show through it.
func copyOf(g wallpaper.Generation) *wallpaper.Generation {
	if g.Error != nil {
		f := *g.Error
		g.Error = &f
	}
	if g.Wallpaper != nil {
		w := *g.Wallpaper
		g.Wallpaper = &w
	}
	return &g
}

// IdempotentReplay implements wallpaper.GenerationStore.
func (s *memStore) IdempotentReplay(ctx context.Context, userID uuid.UUID, key string, hash []byte) (*wallpaper.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: looking up an idempotency key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replays++
	id, ok := s.keys[memKey{userID, key}]
	if !ok {
		return nil, nil
	}
	old := s.gens[id]
	if !bytes.Equal(old.hash, hash) {
		return nil, fmt.Errorf("memstore: looking up an idempotency key: %w", wallpaper.ErrIdempotencyConflict)
	}
	return copyOf(old.g), nil
}

// CreateGeneration implements wallpaper.GenerationStore.
func (s *memStore) CreateGeneration(ctx context.Context, ng wallpaper.NewGeneration) (*wallpaper.Generation, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("memstore: accepting generation: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates++
	key := memKey{ng.UserID, ng.IdempotencyKey}
	if ng.IdempotencyKey != "" {
		if id, ok := s.keys[key]; ok {
			old := s.gens[id]
			if !bytes.Equal(old.hash, ng.RequestHash) {
				return nil, false, fmt.Errorf("memstore: accepting generation: %w", wallpaper.ErrIdempotencyConflict)
			}
			return copyOf(old.g), false, nil
		}
	}
	day := memDay{ng.UserID, ng.QuotaDay}
	if s.used[day] >= ng.DailyLimit {
		return nil, false, fmt.Errorf("memstore: accepting generation: %w", wallpaper.ErrQuotaExceeded)
	}
	s.used[day]++
	g := ng.Generation
	g.Status, g.Attempts, g.CreatedAt = wallpaper.StatusQueued, 0, s.now()
	s.gens[g.ID] = &memGeneration{g: g, quotaDay: ng.QuotaDay, hash: ng.RequestHash}
	if ng.IdempotencyKey != "" {
		s.keys[key] = g.ID
	}
	s.enqueued = append(s.enqueued, g.ID)
	return copyOf(g), true, nil
}

// Generation implements wallpaper.GenerationStore.
func (s *memStore) Generation(ctx context.Context, id uuid.UUID) (*wallpaper.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: generation %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.gens[id]
	if !ok {
		return nil, fmt.Errorf("memstore: generation %s: %w", id, wallpaper.ErrNotFound)
	}
	return copyOf(m.g), nil
}

// ListGenerations implements wallpaper.GenerationStore.
func (s *memStore) ListGenerations(ctx context.Context, userID uuid.UUID, after *wallpaper.Cursor, limit int) ([]wallpaper.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: listing generations: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wallpaper.Generation
	for _, m := range s.gens {
		if m.g.UserID != userID {
			continue
		}
		if after != nil && !older(m.g, *after) {
			continue
		}
		out = append(out, *copyOf(m.g))
	}
	slices.SortFunc(out, func(a, b wallpaper.Generation) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID.String(), a.ID.String())
	})
	return out[:min(len(out), limit)], nil
}

// older says whether g comes after the cursor in newest-first order.
func older(g wallpaper.Generation, c wallpaper.Cursor) bool {
	if !g.CreatedAt.Equal(c.CreatedAt) {
		return g.CreatedAt.Before(c.CreatedAt)
	}
	return g.ID.String() < c.ID.String()
}

// QuotaUsed implements wallpaper.QuotaStore.
func (s *memStore) QuotaUsed(ctx context.Context, userID uuid.UUID, day time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: reading quota: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used[memDay{userID, day}], nil
}

// StartGeneration implements wallpaper.JobStore.
func (s *memStore) StartGeneration(ctx context.Context, id uuid.UUID, attempt int) (*wallpaper.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: starting generation %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.gens[id]
	if !ok {
		return nil, fmt.Errorf("memstore: generation %s: %w", id, wallpaper.ErrNotFound)
	}
	if !finished(m.g.Status) {
		if attempt < m.lease {
			return nil, fmt.Errorf("memstore: generation %s: %w", id, wallpaper.ErrSuperseded)
		}
		m.g.Status = wallpaper.StatusRunning
		m.g.Attempts++
		m.lease = attempt
	}
	return copyOf(m.g), nil
}

// CompleteGeneration implements wallpaper.JobStore.
func (s *memStore) CompleteGeneration(ctx context.Context, id uuid.UUID, attempt int, w wallpaper.Wallpaper) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: completing generation %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completes++
	if s.completeErr != nil {
		return fmt.Errorf("memstore: completing generation %s: %w", id, s.completeErr)
	}
	m, ok := s.gens[id]
	if !ok || finished(m.g.Status) {
		return nil
	}
	if m.lease != attempt {
		return fmt.Errorf("memstore: generation %s: %w", id, wallpaper.ErrSuperseded)
	}
	now := s.now()
	w.CreatedAt = now
	m.g.Status, m.g.FinishedAt, m.g.Wallpaper = wallpaper.StatusSucceeded, &now, &w
	return nil
}

// FailAttempt implements wallpaper.JobStore.
func (s *memStore) FailAttempt(ctx context.Context, id uuid.UUID, attempt int, f wallpaper.Failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, memFailCall{id: id, f: f, ctxErr: ctx.Err()})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: failing generation %s: %w", id, err)
	}
	if s.failErr != nil {
		return fmt.Errorf("memstore: failing generation %s: %w", id, s.failErr)
	}
	m, ok := s.gens[id]
	if !ok || finished(m.g.Status) {
		return nil
	}
	if m.lease != attempt {
		return fmt.Errorf("memstore: generation %s: %w", id, wallpaper.ErrSuperseded)
	}
	now := s.now()
	m.g.Status, m.g.Error, m.g.FinishedAt = wallpaper.StatusFailed, &f, &now
	if day := (memDay{m.g.UserID, m.quotaDay}); s.used[day] > 0 {
		s.used[day]--
		s.refunds++
	}
	return nil
}

// usedOn is the quota a user spent on a quota day.
func (s *memStore) usedOn(userID uuid.UUID, day time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used[memDay{userID, day}]
}

// jobs are the generations whose jobs were enqueued, in order.
func (s *memStore) jobs() []uuid.UUID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.enqueued)
}

// stats is what the store counted so far.
type memStats struct {
	creates, replays, completes, refunds, generations int
	fails                                             []memFailCall
}

func (s *memStore) stats() memStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return memStats{creates: s.creates, replays: s.replays, completes: s.completes, refunds: s.refunds, generations: len(s.gens),
		fails: slices.Clone(s.fails)}
}

// record returns a generation as stored, with its quota day.
func (s *memStore) record(t *testing.T, id uuid.UUID) (wallpaper.Generation, time.Time) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.gens[id]
	if !ok {
		t.Fatalf("generation %s is not in the store", id)
	}
	return *copyOf(m.g), m.quotaDay
}

// fakeModerator is a PromptChecker answering with check (nil: every prompt
// passes) and remembering what it was asked.
type fakeModerator struct {
	check func(ctx context.Context, userID uuid.UUID, prompt string) error

	mu    sync.Mutex
	calls []moderatorCall
}

type moderatorCall struct {
	userID uuid.UUID
	prompt string
}

// CheckPrompt implements wallpaper.PromptChecker.
func (m *fakeModerator) CheckPrompt(ctx context.Context, userID uuid.UUID, prompt string) error {
	m.mu.Lock()
	m.calls = append(m.calls, moderatorCall{userID, prompt})
	m.mu.Unlock()
	if m.check == nil {
		return nil
	}
	return m.check(ctx, userID, prompt)
}

func (m *fakeModerator) asked() []moderatorCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// fakeImages is an ImageGenerator answering with generate and remembering
// the requests.
type fakeImages struct {
	generate func(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error)

	mu   sync.Mutex
	reqs []wallpaper.ImageRequest
}

// Generate implements wallpaper.ImageGenerator.
func (f *fakeImages) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	return f.generate(ctx, req)
}

func (f *fakeImages) requests() []wallpaper.ImageRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// memObjects is an ObjectStore in memory; put, when set, is asked first
// and can refuse a key.
type memObjects struct {
	put func(ctx context.Context, key string) error

	mu      sync.Mutex
	objects map[string]memObject
}

type memObject struct {
	data        []byte
	contentType string
}

// Put implements wallpaper.ObjectStore.
func (o *memObjects) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if o.put != nil {
		if err := o.put(ctx, key); err != nil {
			return err
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.objects == nil {
		o.objects = map[string]memObject{}
	}
	o.objects[key] = memObject{data: bytes.Clone(data), contentType: contentType}
	return nil
}

// Delete implements wallpaper.ObjectStore.
func (o *memObjects) Delete(_ context.Context, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.objects, key)
	return nil
}

func (o *memObjects) object(key string) (memObject, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj, ok := o.objects[key]
	return obj, ok
}

func (o *memObjects) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.objects)
}

// fakeClock is a settable clock for ServiceConfig.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// deadlineCtx is a context whose deadline passes when the test says so,
// not when a timer fires: a test can make it pass in the middle of a
// chosen step, however slow the machine is.
type deadlineCtx struct {
	context.Context
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newDeadlineCtx() *deadlineCtx {
	return &deadlineCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// expire makes the deadline pass now.
func (c *deadlineCtx) expire() {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = context.DeadlineExceeded
		c.mu.Unlock()
		close(c.done)
	})
}

// encodedImages caches encodedImage: a full-size wallpaper takes a while
// to encode under the race detector, and many tests want the same one.
var encodedImages sync.Map // imageSpec → []byte

type imageSpec struct {
	format string
	w, h   int
}

// encodedImage returns a w×h picture (a gradient, so that scaling does
// real work) encoded as png or jpeg.
func encodedImage(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	spec := imageSpec{format, w, h}
	if b, ok := encodedImages.Load(spec); ok {
		return b.([]byte)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 96, A: 255})
		}
	}
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	default:
		t.Fatalf("encodedImage: no encoder for %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	encodedImages.Store(spec, buf.Bytes())
	return buf.Bytes()
}
