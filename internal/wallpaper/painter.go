package wallpaper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
	"github.com/wallpaperd/wallpaperd/internal/picture"
)

// JobStore is what the painting job needs from the database. Attempts are
// the job's attempt numbers, which only grow: the generation is held by the
// latest attempt that started it, and only that one may finish it (a
// fencing token), so an attempt whose process was presumed dead and woke up
// late cannot record a second result or refund twice.
type JobStore interface {
	// StartGeneration marks a queued or running generation running, counts
	// the attempt and gives it the generation; a finished one comes back
	// unchanged. ErrSuperseded: a later attempt holds it.
	StartGeneration(ctx context.Context, id uuid.UUID, attempt int) (*Generation, error)
	// CompleteGeneration records the wallpaper and marks the generation
	// succeeded in one transaction; a second call changes nothing.
	// ErrSuperseded: another attempt holds (or finished) the generation;
	// the wallpaper's objects are queued for deletion.
	CompleteGeneration(ctx context.Context, id uuid.UUID, attempt int, w Wallpaper) error
	// FailAttempt marks the generation failed and gives its quota unit
	// back, exactly once; a finished generation is left as it is.
	// ErrSuperseded: a later attempt holds it.
	FailAttempt(ctx context.Context, id uuid.UUID, attempt int, f Failure) error
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

// ErrSuperseded wraps the error of an attempt that no longer holds its
// generation: a later attempt took it over (its process was presumed dead:
// paused, cut off, or slower than REPLICA_DEAD_AFTER), and what this one
// did is thrown away. There is nothing to retry.
var ErrSuperseded = errors.New("a later attempt holds the generation")

// Thumbnails are JPEGs this many pixels on the short side; the display
// image is a JPEG too (what phones download), the master keeps the
// model's format.
const (
	ThumbnailShortSide = 360
	thumbnailQuality   = 82
	displayQuality     = 90
	masterJPEGQuality  = 95
	maxImagePixels     = 4096 * 4096
)

// Labels is how the painter labels what it stores as AI-generated
// (GB 45438-2025): the operator's code for the implicit label, and whether
// and where the visible one is drawn.
type Labels struct {
	// Producer is the operator's code (AIGC_PRODUCER_CODE) written as the
	// producer and propagator of every image.
	Producer string
	// Visible draws "AI生成" on the display image and the thumbnail; only
	// deployments outside mainland China turn it off.
	Visible bool
	// Corner is where the visible label goes.
	Corner aigc.Corner
}

// PainterConfig wires a Painter.
type PainterConfig struct {
	// Decodes bounds the image work of paintings and avatar uploads
	// together; nil bounds nothing.
	Decodes *picture.Slots
	Jobs    JobStore
	Images  ImageGenerator
	Objects ObjectStore
	Labels  Labels
	Logger  *slog.Logger
}

// Painter runs one attempt of a generation: model, checks, labels,
// storage, record.
type Painter struct {
	decodes *picture.Slots
	jobs    JobStore
	images  ImageGenerator
	objects ObjectStore
	labels  Labels
	logger  *slog.Logger
}

// NewPainter returns a Painter.
func NewPainter(c PainterConfig) *Painter {
	return &Painter{decodes: c.Decodes, jobs: c.Jobs, images: c.Images, objects: c.Objects, labels: c.Labels, logger: c.Logger}
}

// Paint runs attempt number attempt (1, 2, … as the job counts them) of
// generation id; lastAttempt says no retry will follow. It returns nil when
// the generation succeeded (or was already finished), an error wrapping
// ErrFinished when it is now failed with its quota refunded, one wrapping
// ErrSuperseded when a later attempt took the generation over, and any
// other error when another attempt should follow. Running attempts at
// once is safe: each stores its objects under keys of its own, and only
// the attempt holding the generation records them.
func (p *Painter) Paint(ctx context.Context, id uuid.UUID, attempt int, lastAttempt bool) error {
	g, err := p.jobs.StartGeneration(ctx, id, attempt)
	if errors.Is(err, ErrSuperseded) {
		return fmt.Errorf("attempt %d of generation %s: %w", attempt, id, err)
	}
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: generation %s no longer exists", ErrFinished, id)
	}
	if err != nil {
		return err
	}
	if g.Status == StatusSucceeded || g.Status == StatusFailed {
		return nil
	}
	w, err := p.paint(ctx, g, attempt)
	if err == nil {
		err = p.jobs.CompleteGeneration(ctx, id, attempt, *w)
		if err == nil {
			p.dropEarlierAttempts(ctx, id, attempt)
			return nil
		}
		if errors.Is(err, ErrSuperseded) {
			return fmt.Errorf("attempt %d of generation %s: %w", attempt, id, err)
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
	if ferr := p.jobs.FailAttempt(rctx, id, attempt, f); ferr != nil {
		if errors.Is(ferr, ErrSuperseded) {
			return fmt.Errorf("attempt %d of generation %s: %w", attempt, id, ferr)
		}
		return fmt.Errorf("recording the failure %q: %w", f.Code, ferr)
	}
	return fmt.Errorf("%w: %w", ErrFinished, err)
}

// paint asks the model, checks what came back, labels it and stores the
// three images every wallpaper has, all under the private prefix (the
// storage sync publishes the display image and thumbnail once the
// wallpaper may be seen):
//
//   - the master: the image as painted, re-encoded (nothing the provider
//     sent reaches storage undecoded) in its own format, with the implicit
//     label;
//   - the display image: a JPEG with the visible "AI生成" and the implicit
//     label: what the API hands out and phones save;
//   - the thumbnail: ThumbnailShortSide pixels, labelled the same way.
func (p *Painter) paint(ctx context.Context, g *Generation, attempt int) (*Wallpaper, error) {
	img, err := p.images.Generate(ctx, ImageRequest{Prompt: ModelPrompt(g.Prompt, g.Preset), Options: g.Options, Preset: g.Preset, User: endUser(g.UserID), GenerationID: g.ID})
	if err != nil {
		return nil, err
	}
	// Decoding, drawing and encoding are CPU work that does not watch ctx:
	// check it between steps so a cancelled attempt stops promptly.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The image work (decode, draw, encode) takes a decoding slot, shared
	// with avatar uploads, so the process's memory for images stays bounded
	// however many jobs and uploads run at once.
	var files []paintedFile
	var b image.Rectangle
	id := WallpaperID(g.ID)
	err = p.decodes.Do(ctx, func() error {
		var err error
		files, b, err = p.render(ctx, g, attempt, id, img)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := p.objects.Put(ctx, f.key, f.data, f.contentType); err != nil {
			return nil, storageError(err)
		}
	}
	genID := g.ID
	review := ReviewUnchecked
	if g.Public {
		review = ReviewPending
	}
	return &Wallpaper{
		ID: id, GenerationID: &genID, Author: Author{ID: g.UserID},
		Prompt: g.Prompt, Size: g.Options.Size, Width: b.Dx(), Height: b.Dy(),
		Provider: img.Provider, Model: img.Model, Params: img.Params, Preset: g.Preset,
		MasterKey: files[0].key, ImageKey: files[1].key, ThumbnailKey: files[2].key,
		Public: g.Public, Review: review,
	}, nil
}

// paintedFile is one object a painting stores.
type paintedFile struct {
	key, contentType string
	data             []byte
	img              image.Image // to encode as a labelled JPEG when data is nil
	quality          int
}

// render turns the model's file into the objects to store, each
// re-encoded and labelled: the master, the display image, the thumbnail.
func (p *Painter) render(ctx context.Context, g *Generation, attempt int, id uuid.UUID, img *Image) (files []paintedFile, b image.Rectangle, err error) {
	// A label the provider wrote (Doubao Seedream does) is carried over;
	// re-encoding drops the file's metadata, so read it first.
	upstream, labelled, err := aigc.Read(img.Data)
	if err != nil {
		p.logger.WarnContext(ctx, "the image model's file carries a label that cannot be read", "generation_id", g.ID, "err", err)
		labelled = false
	}
	decoded, format, err := picture.Decode(img.Data, maxImagePixels)
	if err != nil {
		return nil, b, &ImageError{Code: "invalid_image", Message: "the image model returned a broken image", Retryable: true, Err: err}
	}
	b = decoded.Bounds()
	if want, ok := wantSize(img); ok && (want[0] != b.Dx() || want[1] != b.Dy()) {
		return nil, b, &ImageError{Code: "invalid_image", Message: "the image model returned the wrong size", Retryable: true,
			Err: fmt.Errorf("asked for %dx%d, got %dx%d", want[0], want[1], b.Dx(), b.Dy())}
	}
	var up *aigc.Label
	if labelled {
		up = &upstream
	}
	master, masterExt, err := p.encodeMaster(decoded, format)
	if err != nil {
		return nil, b, err
	}
	files = []paintedFile{
		{key: AttemptObjectKey(PrivatePrefix, g.ID, attempt, "master."+masterExt), contentType: "image/" + format, data: master},
		{key: AttemptObjectKey(PrivatePrefix, g.ID, attempt, "image.jpg"), contentType: "image/jpeg", img: decoded, quality: displayQuality},
		{key: AttemptObjectKey(PrivatePrefix, g.ID, attempt, "thumb.jpg"), contentType: "image/jpeg",
			img: picture.Thumbnail(decoded, ThumbnailShortSide), quality: thumbnailQuality},
	}
	if format == "webp" {
		files[0].contentType = "image/jpeg" // no WebP encoder: the master becomes a JPEG
	}
	for i := range files {
		if err := ctx.Err(); err != nil {
			return nil, b, err
		}
		f := &files[i]
		if f.data == nil {
			if f.data, err = p.encodeDisplay(f.img, f.quality); err != nil {
				return nil, b, err
			}
		}
		if f.data, err = p.label(ctx, f.data, id, up); err != nil {
			return nil, b, err
		}
	}
	return files, b, nil
}

// encodeMaster re-encodes the image as painted in its own format (WebP,
// which Go cannot encode, as a JPEG) and returns the file's extension.
func (p *Painter) encodeMaster(img image.Image, format string) ([]byte, string, error) {
	if format == "png" {
		// Fast compression: the master is private and rarely downloaded,
		// and encoding it is on every generation's path.
		data, err := picture.EncodePNGFast(img)
		return data, "png", err
	}
	data, err := picture.EncodeJPEG(img, masterJPEGQuality)
	return data, "jpg", err
}

// encodeDisplay draws the visible label (unless turned off) and encodes a
// JPEG.
func (p *Painter) encodeDisplay(img image.Image, quality int) ([]byte, error) {
	if p.labels.Visible {
		drawn, err := aigc.DrawVisible(img, p.labels.Corner)
		if err != nil {
			return nil, fmt.Errorf("drawing the visible label: %w", err)
		}
		img = drawn
	}
	return picture.EncodeJPEG(img, quality)
}

// label embeds the implicit label in an encoded file: ours as producer and
// propagator, or, when the model's file came labelled, the model's producer
// fields kept and ours as propagator. ProduceID and PropagateID are the
// wallpaper's id; the reserved code is the file's ContentHash.
func (p *Painter) label(ctx context.Context, data []byte, id uuid.UUID, upstream *aigc.Label) ([]byte, error) {
	hash, err := aigc.ContentHash(data)
	if err != nil {
		return nil, fmt.Errorf("hashing for the label: %w", err)
	}
	l := aigc.Produced(p.labels.Producer, id.String(), hash)
	if upstream != nil {
		carried := aigc.Propagated(*upstream, p.labels.Producer, id.String(), hash)
		if err := carried.Validate(); err == nil {
			l = carried
		} else {
			// A producer field we cannot write back as it is (not printable
			// ASCII): we label as the producer rather than alter theirs.
			p.logger.WarnContext(ctx, "the image model's label cannot be carried over", "wallpaper_id", id, "err", err)
		}
	}
	out, err := aigc.Embed(data, l)
	if err != nil {
		return nil, fmt.Errorf("embedding the label: %w", err)
	}
	return out, nil
}

// Key prefixes of a wallpaper's objects (see storage's): the display image
// and thumbnail move between them, the master stays private.
const (
	PrivatePrefix = "private/"
	PublicPrefix  = "public/"
)

// ObjectKey is where a generation's objects live under prefix: derived
// from its id.
func ObjectKey(prefix string, generationID uuid.UUID, name string) string {
	return prefix + "w/" + generationID.String() + "/" + name
}

// AttemptObjectKey is where attempt number attempt of a generation stores
// its objects: each attempt writes keys of its own, so an attempt that was
// taken over and woke up late cannot overwrite the images of the one that
// holds the generation (it could not be stopped between a check and the
// write; S3 has no conditional write to fence it with).
func AttemptObjectKey(prefix string, generationID uuid.UUID, attempt int, name string) string {
	return ObjectKey(prefix, generationID, strconv.Itoa(attempt)+"/"+name)
}

// attemptObjectNames are the names an attempt may have stored.
var attemptObjectNames = []string{"master.png", "master.jpg", "image.jpg", "thumb.jpg"}

// dropEarlierAttempts deletes, best effort, what attempts before the one
// that just succeeded may have stored: an attempt interrupted between
// storing and recording (its process killed) leaves its objects behind.
// One that is still alive and writes later has its objects deleted by the
// store when its record is refused.
func (p *Painter) dropEarlierAttempts(ctx context.Context, id uuid.UUID, attempt int) {
	if attempt <= 1 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	for a := 1; a < attempt; a++ {
		for _, name := range attemptObjectNames {
			if err := p.objects.Delete(ctx, AttemptObjectKey(PrivatePrefix, id, a, name)); err != nil {
				p.logger.WarnContext(ctx, "deleting an earlier attempt's object", "generation_id", id, "attempt", a, "err", err)
			}
		}
	}
}

// wallpaperIDSpace names wallpaper ids derived from generation ids.
var wallpaperIDSpace = uuid.MustParse("6f1f3c3e-4b4a-4f0e-9a53-2c8e2f1b7a10")

// WallpaperID is the id of the wallpaper a generation becomes: derived
// from the generation's, so the id written into the images' labels is the
// one recorded, whichever attempt succeeds.
func WallpaperID(generationID uuid.UUID) uuid.UUID {
	return uuid.NewSHA1(wallpaperIDSpace, generationID[:])
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
