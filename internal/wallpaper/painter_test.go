package wallpaper_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// paintEnv is a Painter on in-memory fakes, with a Service on the same
// store to accept the generations it paints.
type paintEnv struct {
	submitEnv
	images  *fakeImages
	objects *memObjects
	painter *wallpaper.Painter
}

func newPaintEnv(t *testing.T) *paintEnv {
	t.Helper()
	e := &paintEnv{submitEnv: *newSubmitEnv(t, 5), objects: &memObjects{}}
	e.images = &fakeImages{generate: func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
		return portrait(t), nil
	}}
	e.painter = wallpaper.NewPainter(wallpaper.PainterConfig{
		Jobs: e.store, Images: e.images, Objects: e.objects,
		Labels: testLabels, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return e
}

// portrait is what the fake model returns: a PNG of the size it says it
// asked for. It is 405×720, not a real 1024×1792, because decoding and
// scaling under the race detector take seconds a picture; the short side
// is still over ThumbnailShortSide, so the thumbnail is really scaled.
func portrait(t *testing.T) *wallpaper.Image {
	t.Helper()
	return &wallpaper.Image{Data: encodedImage(t, "png", 405, 720), ContentType: "image/png", Provider: "openai", Model: "gpt-image-1",
		Params: map[string]any{"size": "405x720", "quality": "medium"}}
}

// queued submits a generation for a new user.
func (e *paintEnv) queued(t *testing.T) *wallpaper.Generation {
	t.Helper()
	g, _ := e.submit(t, uuid.New(), wallpaper.SubmitInput{Prompt: "a lighthouse at dusk"})
	return g
}

// assertNotFailed checks that g was never failed and its unit stays spent.
func (e *paintEnv) assertNotFailed(t *testing.T, g *wallpaper.Generation) {
	t.Helper()
	st := e.store.stats()
	if len(st.fails) != 0 || st.refunds != 0 {
		t.Errorf("FailGeneration called %d times, %d refunds; want none", len(st.fails), st.refunds)
	}
	if used := e.store.usedOn(g.UserID, march10); used != 1 {
		t.Errorf("quota used = %d, want the 1 unit still spent", used)
	}
}

// testLabels is how the tests' painter labels: the visible label on.
var testLabels = wallpaper.Labels{Producer: "wallpaperd-test", Visible: true, Corner: aigc.BottomRight}

func TestPaintSucceeds(t *testing.T) {
	tests := []struct {
		name            string
		options         wallpaper.Options
		image           func(t *testing.T) *wallpaper.Image
		wantW, wantH    int
		wantOriginal    string // the master's object name
		wantContentType string
	}{
		{"png portrait", wallpaper.Options{}, portrait, 405, 720, "master.png", "image/png"},
		{"jpeg landscape", wallpaper.Options{Size: wallpaper.SizeLandscape}, func(t *testing.T) *wallpaper.Image {
			return &wallpaper.Image{Data: encodedImage(t, "jpeg", 720, 405), ContentType: "image/jpeg", Provider: "ark", Model: "doubao-seedream-4-5-251128",
				Params: map[string]any{"size": "720x405", "quality": "standard", "style": "vivid"}}
		}, 720, 405, "master.jpg", "image/jpeg"},
		// The stored type comes from the bytes, not from what the
		// generator said about them.
		{"content type from the bytes", wallpaper.Options{}, func(t *testing.T) *wallpaper.Image {
			img := portrait(t)
			img.ContentType = "image/webp"
			return img
		}, 405, 720, "master.png", "image/png"},
		// With no size asked of the model there is nothing to check:
		// the wallpaper records the pixels that came back.
		{"size the model chose", wallpaper.Options{}, func(t *testing.T) *wallpaper.Image {
			return &wallpaper.Image{Data: encodedImage(t, "png", 378, 672), ContentType: "image/png", Provider: "offline", Model: "offline"}
		}, 378, 672, "master.png", "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPaintEnv(t)
			img := tt.image(t)
			e.images.generate = func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) { return img, nil }
			g, _ := e.submit(t, uuid.New(), wallpaper.SubmitInput{Prompt: " a lighthouse at dusk ", Options: tt.options})

			if err := e.painter.Paint(context.Background(), g.ID, 1, false); err != nil {
				t.Fatalf("Paint = %v, want nil", err)
			}

			reqs := e.images.requests()
			if len(reqs) != 1 {
				t.Fatalf("image generator called %d times, want once", len(reqs))
			}
			if reqs[0].Prompt != g.Prompt || reqs[0].Options != g.Options || reqs[0].GenerationID != g.ID {
				t.Errorf("generator asked for %q %+v for %s, want the generation's %q %+v %s",
					reqs[0].Prompt, reqs[0].Options, reqs[0].GenerationID, g.Prompt, g.Options, g.ID)
			}
			assertAnonymous(t, reqs[0].User, g.UserID)

			wantID := wallpaper.WallpaperID(g.ID)
			masterKey := wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, g.ID, 1, tt.wantOriginal)
			imageKey := wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, g.ID, 1, "image.jpg")
			thumbKey := wallpaper.AttemptObjectKey(wallpaper.PrivatePrefix, g.ID, 1, "thumb.jpg")
			master, ok := e.objects.object(masterKey)
			if !ok || master.contentType != tt.wantContentType {
				t.Fatalf("master at %s: stored %v as %q; want %s", masterKey, ok, master.contentType, tt.wantContentType)
			}
			// Re-encoded (nothing the model sent is stored undecoded), the
			// same pixels' size, labelled.
			assertImage(t, "master", master.data, strings.TrimPrefix(tt.wantContentType, "image/"), tt.wantW, tt.wantH)
			assertLabel(t, "master", master.data, wantID)
			display, ok := e.objects.object(imageKey)
			if !ok || display.contentType != "image/jpeg" {
				t.Fatalf("display image at %s: stored %v as %q, want image/jpeg", imageKey, ok, display.contentType)
			}
			assertImage(t, "display image", display.data, "jpeg", tt.wantW, tt.wantH)
			assertLabel(t, "display image", display.data, wantID)
			thumb, ok := e.objects.object(thumbKey)
			if !ok || thumb.contentType != "image/jpeg" {
				t.Fatalf("thumbnail at %s: stored %v as %q, want image/jpeg", thumbKey, ok, thumb.contentType)
			}
			assertThumbnail(t, thumb.data, tt.wantW, tt.wantH)
			assertLabel(t, "thumbnail", thumb.data, wantID)
			if n := e.objects.count(); n != 3 {
				t.Errorf("%d objects stored, want 3 (master, display image, thumbnail)", n)
			}

			got, _ := e.store.record(t, g.ID)
			if got.Status != wallpaper.StatusSucceeded || got.Attempts != 1 || got.Error != nil {
				t.Errorf("generation %s after %d attempts (error %v), want succeeded after 1", got.Status, got.Attempts, got.Error)
			}
			w := got.Wallpaper
			if w == nil {
				t.Fatal("no wallpaper recorded")
			}
			if w.Width != tt.wantW || w.Height != tt.wantH {
				t.Errorf("wallpaper recorded as %d×%d, want the decoded %d×%d", w.Width, w.Height, tt.wantW, tt.wantH)
			}
			if w.Provider != img.Provider || w.Model != img.Model || !maps.Equal(w.Params, img.Params) {
				t.Errorf("wallpaper provider %q model %q params %v, want %q %q %v", w.Provider, w.Model, w.Params, img.Provider, img.Model, img.Params)
			}
			if w.ImageKey != imageKey || w.ThumbnailKey != thumbKey || w.MasterKey != masterKey {
				t.Errorf("wallpaper keys %q, %q, %q; want %q, %q, %q", w.ImageKey, w.ThumbnailKey, w.MasterKey, imageKey, thumbKey, masterKey)
			}
			if w.Review != wallpaper.ReviewPending || w.Published {
				t.Errorf("a new public wallpaper is %s, published %v; want pending and unpublished", w.Review, w.Published)
			}
			if w.GenerationID == nil || *w.GenerationID != g.ID || w.Author.ID != g.UserID || w.Prompt != g.Prompt ||
				w.Size != g.Options.Size || !w.Public || w.ID != wantID {
				t.Errorf("wallpaper = %+v, want a public one of generation %s by %s, prompt %q, size %s",
					w, g.ID, g.UserID, g.Prompt, g.Options.Size)
			}
			e.assertNotFailed(t, g)
		})
	}
}

// assertImage checks that data decodes as a format image of w×h pixels.
func assertImage(t *testing.T, what string, data []byte, format string, w, h int) {
	t.Helper()
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || got != format || cfg.Width != w || cfg.Height != h {
		t.Errorf("%s: %s %d×%d (%v), want %s %d×%d", what, got, cfg.Width, cfg.Height, err, format, w, h)
	}
}

// assertLabel checks that data carries our implicit AI-generated label for
// wallpaper id, with its content hash.
func assertLabel(t *testing.T, what string, data []byte, id uuid.UUID) {
	t.Helper()
	l, ok, err := aigc.Read(data)
	if err != nil || !ok {
		t.Fatalf("%s: label %v, %v; want one", what, ok, err)
	}
	hash, err := aigc.ContentHash(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := aigc.Produced(testLabels.Producer, id.String(), hash); l != want {
		t.Errorf("%s: label %+v, want %+v", what, l, want)
	}
}

// assertAnonymous checks that the end-user id sent to the image provider
// is set and does not reveal the user id.
func assertAnonymous(t *testing.T, endUser string, userID uuid.UUID) {
	t.Helper()
	hexID := strings.ReplaceAll(userID.String(), "-", "")
	if endUser == "" || strings.Contains(endUser, userID.String()) || strings.Contains(endUser, hexID) ||
		strings.Contains(hexID, endUser) {
		t.Errorf("end-user id %q: want an opaque id, not one derived visibly from user %s", endUser, userID)
	}
}

// assertThumbnail checks that data is a JPEG whose short side is
// ThumbnailShortSide, in the proportions of a w×h original.
func assertThumbnail(t *testing.T, data []byte, w, h int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("thumbnail is not a JPEG: %v", err)
	}
	b := img.Bounds()
	short, long := min(b.Dx(), b.Dy()), max(b.Dx(), b.Dy())
	wantLong := (max(w, h)*wallpaper.ThumbnailShortSide + min(w, h)/2) / min(w, h)
	if short != wallpaper.ThumbnailShortSide || long != wantLong || (b.Dx() > b.Dy()) != (w > h) {
		t.Errorf("thumbnail is %d×%d, want %d on the short side of a %d×%d original (%d on the long side)",
			b.Dx(), b.Dy(), wallpaper.ThumbnailShortSide, w, h, wantLong)
	}
}

func TestPaintEndUserIsStablePerUser(t *testing.T) {
	e := newPaintEnv(t)
	alice, bob := uuid.New(), uuid.New()
	var gens []*wallpaper.Generation
	for _, u := range []uuid.UUID{alice, alice, bob} {
		g, _ := e.submit(t, u, wallpaper.SubmitInput{Prompt: "tide pools"})
		gens = append(gens, g)
	}
	for _, g := range gens {
		if err := e.painter.Paint(context.Background(), g.ID, 1, false); err != nil {
			t.Fatalf("Paint = %v", err)
		}
	}
	reqs := e.images.requests()
	if reqs[0].User != reqs[1].User {
		t.Errorf("one user's generations go out as %q and %q, want one stable id", reqs[0].User, reqs[1].User)
	}
	if reqs[0].User == reqs[2].User {
		t.Errorf("two users go out as the same id %q", reqs[0].User)
	}
	assertAnonymous(t, reqs[0].User, alice)
	assertAnonymous(t, reqs[2].User, bob)
}

func TestPaintLeavesAFinishedGenerationAlone(t *testing.T) {
	tests := []struct {
		name       string
		firstImage func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error)
		wantStatus string
	}{
		{"succeeded", nil, wallpaper.StatusSucceeded},
		{"failed", func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
			return nil, &wallpaper.ImageError{Code: "content_policy", Message: "refused"}
		}, wallpaper.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPaintEnv(t)
			if tt.firstImage != nil {
				e.images.generate = tt.firstImage
			}
			g := e.queued(t)
			_ = e.painter.Paint(context.Background(), g.ID, 1, false)
			before, _ := e.store.record(t, g.ID)
			if before.Status != tt.wantStatus {
				t.Fatalf("first attempt left the generation %s, want %s", before.Status, tt.wantStatus)
			}
			stBefore, objectsBefore := e.store.stats(), e.objects.count()

			for i, last := range []bool{false, true} {
				if err := e.painter.Paint(context.Background(), g.ID, 2+i, last); err != nil {
					t.Errorf("Paint of a %s generation (last %v) = %v, want nil", tt.wantStatus, last, err)
				}
			}
			if n := len(e.images.requests()); n != 1 {
				t.Errorf("image generator called %d times, want only by the first attempt", n)
			}
			after, _ := e.store.record(t, g.ID)
			st := e.store.stats()
			if after.Status != before.Status || after.Attempts != before.Attempts ||
				st.completes != stBefore.completes || len(st.fails) != len(stBefore.fails) || st.refunds != stBefore.refunds ||
				e.objects.count() != objectsBefore {
				t.Errorf("a finished generation was touched: %+v → %+v, store %+v → %+v", before, after, stBefore, st)
			}
		})
	}
}

func TestPaintOfAVanishedGenerationFinishes(t *testing.T) {
	e := newPaintEnv(t)
	err := e.painter.Paint(context.Background(), uuid.New(), 1, false)
	if !errors.Is(err, wallpaper.ErrFinished) {
		t.Fatalf("Paint = %v, want ErrFinished: there is nothing left to retry", err)
	}
	if n := len(e.images.requests()); n != 0 {
		t.Errorf("image generator called %d times, want never", n)
	}
	if st := e.store.stats(); len(st.fails) != 0 {
		t.Errorf("FailGeneration called %d times, want never", len(st.fails))
	}
}

// Errors the fakes return: a storage server refusing, a dropped connection.
var (
	errStorage = errors.New("s3: PutObject: 503 Slow Down")
	errDB      = errors.New("connection reset by peer")
)

func TestPaintFailures(t *testing.T) {
	imageError := func(ie *wallpaper.ImageError) func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
		return func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) { return nil, ie }
	}
	answer := func(data func(t *testing.T) []byte) func(t *testing.T) func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
		return func(t *testing.T) func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
			img := portrait(t)
			img.Data = data(t)
			return func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) { return img, nil }
		}
	}
	failPut := func(name string) func(context.Context, string) error {
		return func(_ context.Context, key string) error {
			if strings.HasSuffix(key, "/"+name) {
				return errStorage
			}
			return nil
		}
	}
	const permanent, retryable = false, true
	tests := []struct {
		name        string
		generate    func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error)
		answer      func(t *testing.T) func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) // when the image needs t
		put         func(context.Context, string) error
		completeErr error
		retry       bool   // whether an attempt that is not the last is retried
		wantCode    string // the failure recorded once it is not retried
		wantMessage string // "": any
		retryAfter  time.Duration
	}{
		{name: "content policy", retry: permanent, wantCode: "content_policy", wantMessage: "The prompt was refused.",
			generate: imageError(&wallpaper.ImageError{Code: "content_policy", Message: "The prompt was refused."})},
		{name: "upstream billing", retry: permanent, wantCode: "upstream_billing",
			generate: imageError(&wallpaper.ImageError{Code: "upstream_billing", Err: errors.New("402")})},
		{name: "upstream unavailable", retry: retryable, wantCode: "upstream_unavailable", wantMessage: "Try again later.",
			generate: imageError(&wallpaper.ImageError{Code: "upstream_unavailable", Message: "Try again later.", Retryable: true})},
		{name: "upstream rate limited", retry: retryable, wantCode: "upstream_rate_limited",
			retryAfter: 30 * time.Second,
			generate:   imageError(&wallpaper.ImageError{Code: "upstream_rate_limited", Retryable: true, RetryAfter: 30 * time.Second})},
		{name: "generator fails unclassified", retry: retryable, wantCode: "internal_error",
			generate: func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
				return nil, errors.New("boom")
			}},
		{name: "broken image", retry: retryable, wantCode: "invalid_image",
			answer: answer(func(t *testing.T) []byte {
				data := encodedImage(t, "png", 405, 720)
				return data[:len(data)/2]
			})},
		{name: "not an image", retry: retryable, wantCode: "invalid_image",
			answer: answer(func(*testing.T) []byte { return []byte("<html>502 Bad Gateway</html>") })},
		{name: "wrong size", retry: retryable, wantCode: "invalid_image",
			answer: answer(func(t *testing.T) []byte { return encodedImage(t, "png", 405, 405) })},
		{name: "storing the master fails", retry: retryable, wantCode: "storage_unavailable", put: failPut("master.png")},
		{name: "storing the display image fails", retry: retryable, wantCode: "storage_unavailable", put: failPut("image.jpg")},
		{name: "storing the thumbnail fails", retry: retryable, wantCode: "storage_unavailable", put: failPut("thumb.jpg")},
		// The S3 adapter bounds each call on its own: storage that hangs
		// is storage failing, not the attempt running out of time.
		{name: "storage times out on its own", retry: retryable, wantCode: "storage_unavailable",
			put: func(context.Context, string) error {
				return fmt.Errorf("storage: putting an object: %w", context.DeadlineExceeded)
			}},
		{name: "recording the wallpaper fails", retry: retryable, wantCode: "internal_error", completeErr: errDB},
	}
	for _, tt := range tests {
		for _, last := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/last=%v", tt.name, last), func(t *testing.T) {
				e := newPaintEnv(t)
				switch {
				case tt.generate != nil:
					e.images.generate = tt.generate
				case tt.answer != nil:
					e.images.generate = tt.answer(t)
				}
				e.objects.put = tt.put
				e.store.completeErr = tt.completeErr
				g := e.queued(t)

				err := e.painter.Paint(context.Background(), g.ID, 1, last)

				if err == nil {
					t.Fatal("Paint = nil, want an error")
				}
				got, _ := e.store.record(t, g.ID)
				st := e.store.stats()
				if tt.retry && !last {
					if errors.Is(err, wallpaper.ErrFinished) {
						t.Errorf("Paint = %v, want a plain error: another attempt follows", err)
					}
					if len(st.fails) != 0 || got.Status != wallpaper.StatusRunning || got.Error != nil {
						t.Errorf("generation %s (error %v) after %d FailGeneration calls; want running, never failed",
							got.Status, got.Error, len(st.fails))
					}
					if used := e.store.usedOn(g.UserID, march10); used != 1 {
						t.Errorf("quota used = %d, want the unit still spent while retrying", used)
					}
					// The job reads the class and the provider's
					// Retry-After from the error.
					var ie *wallpaper.ImageError
					wantIE := tt.wantCode != "storage_unavailable" && tt.wantCode != "internal_error"
					if errors.As(err, &ie) != wantIE || wantIE && (ie.Code != tt.wantCode || ie.RetryAfter != tt.retryAfter) {
						t.Errorf("Paint = %v (image error %+v), want an *ImageError %v: %s after %v", err, ie, wantIE, tt.wantCode, tt.retryAfter)
					}
					return
				}
				if !errors.Is(err, wallpaper.ErrFinished) {
					t.Errorf("Paint = %v, want an error wrapping ErrFinished", err)
				}
				if len(st.fails) != 1 || st.fails[0].id != g.ID {
					t.Fatalf("FailGeneration calls %+v, want exactly one for %s", st.fails, g.ID)
				}
				if f := st.fails[0].f; f.Code != tt.wantCode || f.Message == "" || (tt.wantMessage != "" && f.Message != tt.wantMessage) {
					t.Errorf("failure recorded as %+v, want code %s with message %q", f, tt.wantCode, tt.wantMessage)
				}
				if got.Status != wallpaper.StatusFailed || got.Wallpaper != nil {
					t.Errorf("generation %s with wallpaper %v, want failed without one", got.Status, got.Wallpaper)
				}
				if used := e.store.usedOn(g.UserID, march10); used != 0 || st.refunds != 1 {
					t.Errorf("quota used = %d after %d refunds, want 0 after 1", used, st.refunds)
				}
			})
		}
	}
}

func TestPaintDeadlinePassed(t *testing.T) {
	tests := []struct {
		name string
		// attempt returns the context of the attempt and arranges for its
		// deadline to pass during one step.
		attempt func(t *testing.T, e *paintEnv) context.Context
	}{
		{"storage noticed first and said something else", func(t *testing.T, e *paintEnv) context.Context {
			ctx := newDeadlineCtx()
			e.objects.put = func(context.Context, string) error {
				ctx.expire()
				return errDB // an unrelated transport error, as a client cut off mid-request reports
			}
			return ctx
		}},
		{"storage reports the deadline", func(t *testing.T, e *paintEnv) context.Context {
			ctx := newDeadlineCtx()
			e.objects.put = func(context.Context, string) error {
				ctx.expire()
				return fmt.Errorf("s3: PutObject: %w", ctx.Err())
			}
			return ctx
		}},
		{"the deadline passes while the model paints", func(t *testing.T, e *paintEnv) context.Context {
			ctx := newDeadlineCtx()
			e.images.generate = func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
				ctx.expire()
				return portrait(t), nil // the answer came, but too late
			}
			return ctx
		}},
		{"a real timer outruns the model", func(t *testing.T, e *paintEnv) context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			t.Cleanup(cancel)
			e.images.generate = func(ctx context.Context, _ wallpaper.ImageRequest) (*wallpaper.Image, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return ctx
		}},
	}
	for _, tt := range tests {
		for _, last := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/last=%v", tt.name, last), func(t *testing.T) {
				e := newPaintEnv(t)
				g := e.queued(t)
				ctx := tt.attempt(t, e)

				err := e.painter.Paint(ctx, g.ID, 1, last)

				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Paint = %v, want it to say the deadline passed", err)
				}
				st := e.store.stats()
				got, _ := e.store.record(t, g.ID)
				if !last {
					if errors.Is(err, wallpaper.ErrFinished) || len(st.fails) != 0 || got.Status != wallpaper.StatusRunning {
						t.Errorf("Paint = %v, %d FailGeneration calls, status %s; want a retry", err, len(st.fails), got.Status)
					}
					return
				}
				if !errors.Is(err, wallpaper.ErrFinished) {
					t.Errorf("Paint = %v, want ErrFinished on the last attempt", err)
				}
				if len(st.fails) != 1 {
					t.Fatalf("FailGeneration called %d times, want once", len(st.fails))
				}
				if call := st.fails[0]; call.ctxErr != nil || call.f.Code != "upstream_timeout" {
					t.Errorf("FailGeneration(%+v) with a context that says %v; want upstream_timeout on a live context", call.f, call.ctxErr)
				}
				if got.Status != wallpaper.StatusFailed || got.Error == nil || got.Error.Code != "upstream_timeout" || st.refunds != 1 {
					t.Errorf("generation %s (%v) after %d refunds, want failed as upstream_timeout, refunded once", got.Status, got.Error, st.refunds)
				}
			})
		}
	}
}

func TestPaintRetriesRefundExactlyOnce(t *testing.T) {
	const maxAttempts = 5
	unavailable := &wallpaper.ImageError{Code: "upstream_unavailable", Retryable: true}
	refused := &wallpaper.ImageError{Code: "content_policy", Message: "refused"}
	tests := []struct {
		name        string
		outcome     func(attempt int) error // of the model on each attempt; nil: an image
		wantEnd     int                     // the attempt that finishes the generation
		wantCode    string                  // "": succeeded
		wantRefunds int
	}{
		{"retryable every time", func(int) error { return unavailable }, maxAttempts, "upstream_unavailable", 1},
		{"retryable, then refused", func(a int) error {
			if a < 3 {
				return unavailable
			}
			return refused
		}, 3, "content_policy", 1},
		{"retryable, then painted", func(a int) error {
			if a < 3 {
				return unavailable
			}
			return nil
		}, 3, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPaintEnv(t)
			attempt := 0
			e.images.generate = func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
				if err := tt.outcome(attempt); err != nil {
					return nil, err
				}
				return portrait(t), nil
			}
			g := e.queued(t)
			other, _ := e.submit(t, g.UserID, wallpaper.SubmitInput{Prompt: "another, still queued"})

			// As the job would run, and then some: a finished generation
			// may still see a duplicate delivery.
			for attempt = 1; attempt <= maxAttempts+1; attempt++ {
				err := e.painter.Paint(context.Background(), g.ID, attempt, attempt >= maxAttempts)
				switch {
				case attempt < tt.wantEnd:
					if err == nil || errors.Is(err, wallpaper.ErrFinished) {
						t.Fatalf("attempt %d: Paint = %v, want a plain error asking for a retry", attempt, err)
					}
				case attempt == tt.wantEnd && tt.wantCode != "":
					if !errors.Is(err, wallpaper.ErrFinished) {
						t.Fatalf("attempt %d: Paint = %v, want ErrFinished", attempt, err)
					}
				default:
					if err != nil {
						t.Fatalf("attempt %d: Paint = %v, want nil", attempt, err)
					}
				}
			}

			got, _ := e.store.record(t, g.ID)
			st := e.store.stats()
			if got.Attempts != tt.wantEnd {
				t.Errorf("store counted %d attempts, want %d", got.Attempts, tt.wantEnd)
			}
			if n := len(e.images.requests()); n != tt.wantEnd {
				t.Errorf("image generator called %d times, want %d", n, tt.wantEnd)
			}
			wantFails := 0
			if tt.wantCode != "" {
				wantFails = 1
				if got.Status != wallpaper.StatusFailed || got.Error == nil || got.Error.Code != tt.wantCode {
					t.Errorf("generation %s (%v), want failed as %s", got.Status, got.Error, tt.wantCode)
				}
			} else if got.Status != wallpaper.StatusSucceeded {
				t.Errorf("generation %s, want succeeded", got.Status)
			}
			if len(st.fails) != wantFails || st.refunds != tt.wantRefunds {
				t.Errorf("FailGeneration called %d times with %d refunds, want %d and %d", len(st.fails), st.refunds, wantFails, tt.wantRefunds)
			}
			// Two units were spent (g and other); only g's may come back.
			if used := e.store.usedOn(g.UserID, march10); used != 2-tt.wantRefunds {
				t.Errorf("quota used = %d, want %d", used, 2-tt.wantRefunds)
			}
			if o, _ := e.store.record(t, other.ID); o.Status != wallpaper.StatusQueued {
				t.Errorf("the other generation is %s, want untouched", o.Status)
			}
		})
	}
}

func TestPaintFailureNotRecordedIsRetried(t *testing.T) {
	e := newPaintEnv(t)
	e.images.generate = func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) {
		return nil, &wallpaper.ImageError{Code: "content_policy", Message: "refused"}
	}
	e.store.failErr = errDB
	g := e.queued(t)
	err := e.painter.Paint(context.Background(), g.ID, 1, false)
	if err == nil || errors.Is(err, wallpaper.ErrFinished) || !errors.Is(err, errDB) {
		t.Fatalf("Paint = %v, want a plain error carrying the store's: the failure is not recorded yet", err)
	}
	e.store.failErr = nil
	if err := e.painter.Paint(context.Background(), g.ID, 1, false); !errors.Is(err, wallpaper.ErrFinished) {
		t.Fatalf("second attempt: Paint = %v, want ErrFinished", err)
	}
	if st := e.store.stats(); st.refunds != 1 {
		t.Errorf("%d refunds, want 1", st.refunds)
	}
}

// withLegacyLabel returns a PNG carrying json as a raw-JSON "AIGC" tEXt
// chunk right after IHDR, as some image models label their output.
func withLegacyLabel(t *testing.T, png []byte, json string) []byte {
	t.Helper()
	const afterIHDR = 8 + 4 + 4 + 13 + 4 // signature, then IHDR's length, type, data and CRC
	if len(png) < afterIHDR || string(png[12:16]) != "IHDR" {
		t.Fatal("not a PNG starting with IHDR")
	}
	body := append([]byte("tEXtAIGC\x00"), json...)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(body)-4))
	chunk = append(chunk, body...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(body))
	out := append([]byte(nil), png[:afterIHDR]...)
	out = append(out, chunk...)
	return append(out, png[afterIHDR:]...)
}

// TestPaintCarriesTheModelsLabel: an image the model labelled (Doubao
// Seedream does) keeps the model's producer fields in every stored file,
// with us as propagator and the file's hash in ReservedCode2 (Measures
// Art. 10: no one may alter a label); a producer label that cannot be
// written back unchanged (not printable ASCII) is not altered either: we
// label as the producer.
func TestPaintCarriesTheModelsLabel(t *testing.T) {
	const doubao = `{"Label":"1","ContentProducer":"001191110108MA01KP2T5U00000","ProduceID":"20261101-7f3a9c","ReservedCode1":"e862483430d978cbf828b8b24296ef9328d843a0","ContentPropagator":"001191110108MA01KP2T5U00000","PropagateID":"20261101-7f3a9c","ReservedCode2":""}`
	upstream := aigc.Label{Label: "1", ContentProducer: "001191110108MA01KP2T5U00000", ProduceID: "20261101-7f3a9c",
		ReservedCode1: "e862483430d978cbf828b8b24296ef9328d843a0"}
	tests := []struct {
		name  string
		label string
		want  func(id, hash string) aigc.Label
	}{
		{"a producer's label is carried over", doubao, func(id, hash string) aigc.Label {
			return aigc.Propagated(upstream, testLabels.Producer, id, hash)
		}},
		{"a label that cannot be written back is not altered: ours as producer",
			`{"Label":"1","ContentProducer":"\u8c46\u5305","ProduceID":"20261101-7f3a9c"}`,
			func(id, hash string) aigc.Label { return aigc.Produced(testLabels.Producer, id, hash) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPaintEnv(t)
			img := portrait(t)
			img.Data = withLegacyLabel(t, img.Data, tt.label)
			if _, ok, err := aigc.Read(img.Data); err != nil || !ok {
				t.Fatalf("the model's file: label %v, %v; want one", ok, err)
			}
			e.images.generate = func(context.Context, wallpaper.ImageRequest) (*wallpaper.Image, error) { return img, nil }
			g := e.queued(t)
			if err := e.painter.Paint(context.Background(), g.ID, 1, false); err != nil {
				t.Fatalf("Paint = %v, want nil", err)
			}
			id := wallpaper.WallpaperID(g.ID).String()
			for _, name := range []string{"master.png", "image.jpg", "thumb.jpg"} {
				f, ok := e.objects.object(wallpaper.ObjectKey(wallpaper.PrivatePrefix, g.ID, name))
				if !ok {
					t.Fatalf("no %s stored", name)
				}
				got, ok, err := aigc.Read(f.data)
				if err != nil || !ok {
					t.Fatalf("%s: label %v, %v; want one", name, ok, err)
				}
				hash, err := aigc.ContentHash(f.data)
				if err != nil {
					t.Fatal(err)
				}
				if want := tt.want(id, hash); got != want {
					t.Errorf("%s: label %+v, want %+v", name, got, want)
				}
			}
		})
	}
}
