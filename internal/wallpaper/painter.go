package wallpaper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/picture"
)

// JobStore is what the painting job needs from the database.
type JobStore interface {
	// StartGeneration marks a queued or running generation running and
	// counts the attempt; a finished one comes back unchanged.
	StartGeneration(ctx context.Context, id uuid.UUID) (*Generation, error)
	// CompleteGeneration records the wallpaper and marks the generation
	// succeeded in one transaction; a second call changes nothing.
	CompleteGeneration(ctx context.Context, id uuid.UUID, w Wallpaper) error
	// FailGeneration marks the generation failed and gives its quota unit
	// back, exactly once; a finished generation is left as it is.
	FailGeneration(ctx context.Context, id uuid.UUID, f Failure) error
}

// ImageGenerator paints an image (the OpenAI adapter or the offline one).
type ImageGenerator interface {
	Generate(ctx context.Context, req ImageRequest) (*Image, error)
}

// ObjectStore keeps image bytes under keys.
type ObjectStore interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Delete(ctx context.Context, key string) error
}

// ErrFinished wraps the error of an attempt after which the generation is
// finished as failed: there is nothing left to retry.
var ErrFinished = errors.New("generation failed for good")

// Thumbnails are JPEGs this many pixels on the short side.
const (
	ThumbnailShortSide = 360
	thumbnailQuality   = 82
	maxImagePixels     = 4096 * 4096
)

// Painter runs one attempt of a generation: model, checks, storage, record.
type Painter struct {
	jobs    JobStore
	images  ImageGenerator
	objects ObjectStore
	logger  *slog.Logger
}

// NewPainter returns a Painter.
func NewPainter(jobs JobStore, images ImageGenerator, objects ObjectStore, logger *slog.Logger) *Painter {
	return &Painter{jobs: jobs, images: images, objects: objects, logger: logger}
}

// Paint runs one attempt of generation id; lastAttempt says no retry will
// follow. It returns nil when the generation succeeded (or was already
// finished), an error wrapping ErrFinished when it is now failed with its
// quota refunded, and any other error when another attempt should follow.
// Running it twice is safe: object keys derive from the id, and the store
// keeps one wallpaper per generation.
func (p *Painter) Paint(ctx context.Context, id uuid.UUID, lastAttempt bool) error {
	g, err := p.jobs.StartGeneration(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: generation %s no longer exists", ErrFinished, id)
	}
	if err != nil {
		return err
	}
	if g.Status == StatusSucceeded || g.Status == StatusFailed {
		return nil
	}
	w, err := p.paint(ctx, g)
	if err == nil {
		err = p.jobs.CompleteGeneration(ctx, id, *w)
		if err == nil {
			return nil
		}
		err = fmt.Errorf("recording the wallpaper: %w", err)
	}

	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// The attempt outran its deadline; whatever step noticed first
		// (often storage) is not the cause.
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	var ie *ImageError
	permanent := errors.As(err, &ie) && !ie.Retryable
	if !permanent && !lastAttempt {
		p.logger.WarnContext(ctx, "generation attempt failed, will retry", "generation_id", id, "attempt", g.Attempts, "err", err)
		return err
	}
	f := failureOf(err, errors.Is(ctx.Err(), context.DeadlineExceeded))
	p.logger.WarnContext(ctx, "generation failed", "generation_id", id, "attempt", g.Attempts, "code", f.Code, "err", err)
	// The attempt's context may be what ran out: record the end regardless.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if ferr := p.jobs.FailGeneration(rctx, id, f); ferr != nil {
		return fmt.Errorf("recording the failure %q: %w", f.Code, ferr)
	}
	return fmt.Errorf("%w: %w", ErrFinished, err)
}

// paint asks the model, checks what came back and stores it with its
// thumbnail.
func (p *Painter) paint(ctx context.Context, g *Generation) (*Wallpaper, error) {
	img, err := p.images.Generate(ctx, ImageRequest{Prompt: g.Prompt, Options: g.Options, User: endUser(g.UserID), GenerationID: g.ID})
	if err != nil {
		return nil, err
	}
	// Decoding and resizing are CPU work that does not watch ctx: check it
	// between steps so a cancelled attempt stops promptly.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	decoded, format, err := picture.Decode(img.Data, maxImagePixels)
	if err != nil {
		return nil, &ImageError{Code: "invalid_image", Message: "the image model returned a broken image", Retryable: true, Err: err}
	}
	b := decoded.Bounds()
	if want, ok := wantSize(img); ok && (want[0] != b.Dx() || want[1] != b.Dy()) {
		return nil, &ImageError{Code: "invalid_image", Message: "the image model returned the wrong size", Retryable: true,
			Err: fmt.Errorf("asked for %dx%d, got %dx%d", want[0], want[1], b.Dx(), b.Dy())}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	thumb, err := picture.EncodeJPEG(picture.Thumbnail(decoded, ThumbnailShortSide), thumbnailQuality)
	if err != nil {
		return nil, fmt.Errorf("encoding the thumbnail: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	imageKey := ObjectKey(g.ID, "original."+extension(format))
	thumbKey := ObjectKey(g.ID, "thumb.jpg")
	if err := p.objects.Put(ctx, imageKey, img.Data, "image/"+format); err != nil {
		return nil, storageError(err)
	}
	if err := p.objects.Put(ctx, thumbKey, thumb, "image/jpeg"); err != nil {
		return nil, storageError(err)
	}
	genID := g.ID
	return &Wallpaper{
		ID: uuid.New(), GenerationID: &genID, Author: Author{ID: g.UserID},
		Prompt: g.Prompt, Size: g.Options.Size, Width: b.Dx(), Height: b.Dy(),
		Provider: img.Provider, Model: img.Model, Params: img.Params, ImageKey: imageKey, ThumbnailKey: thumbKey, Public: true,
	}, nil
}

// ObjectKey is where a generation's objects live: derived from its id, so
// a retried job overwrites instead of leaving copies.
func ObjectKey(generationID uuid.UUID, name string) string {
	return "wallpapers/" + generationID.String() + "/" + name
}

// wantSize reads the pixel size the generator asked the model for.
func wantSize(img *Image) ([2]int, bool) {
	s, _ := img.Params["size"].(string)
	ws, hs, ok := strings.Cut(s, "x")
	if !ok {
		return [2]int{}, false
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil {
		return [2]int{}, false
	}
	return [2]int{w, h}, true
}

func extension(format string) string {
	if format == "jpeg" {
		return "jpg"
	}
	return format
}

// endUser is the stable, anonymous end-user id the image provider sees.
func endUser(id uuid.UUID) string {
	h := sha256.Sum256(id[:])
	return hex.EncodeToString(h[:12])
}

type storageErr struct{ err error }

func (e storageErr) Error() string { return "storing the image: " + e.err.Error() }
func (e storageErr) Unwrap() error { return e.err }

func storageError(err error) error { return storageErr{err} }

// failureOf turns an attempt's error into what the owner sees; outOfTime
// says the attempt's own deadline passed. A step's own timeout (the S3
// adapter bounds each call) is that step failing, not the attempt.
func failureOf(err error, outOfTime bool) Failure {
	var ie *ImageError
	if errors.As(err, &ie) {
		msg := ie.Message
		if msg == "" {
			msg = "the image model failed"
		}
		return Failure{Code: ie.Code, Message: msg}
	}
	tooLong := Failure{Code: "upstream_timeout", Message: "the generation took too long; your quota unit is returned"}
	if outOfTime {
		return tooLong
	}
	var se storageErr
	if errors.As(err, &se) {
		return Failure{Code: "storage_unavailable", Message: "the image could not be stored; your quota unit is returned"}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return tooLong
	}
	return Failure{Code: "internal_error", Message: "the generation failed on our side; your quota unit is returned"}
}
