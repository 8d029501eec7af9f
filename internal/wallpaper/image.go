package wallpaper

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ImageRequest is what the domain asks of an image generator.
type ImageRequest struct {
	// Prompt is what the model is asked: the user's text and the preset's
	// words (ModelPrompt).
	Prompt  string
	Options Options
	// Preset is the style's id, for a generator that can follow it by
	// other means than words (the offline painter's palettes).
	Preset string
	// User is an opaque, stable id of the end user, for the provider's abuse
	// monitoring; never the openid.
	User string
	// GenerationID ties the generator's own log lines (which provider
	// was tried, why it moved on) to the generation; never sent out.
	GenerationID uuid.UUID
}

// Image is what an image generator returns: the encoded bytes and what
// was really asked of the model (its own size and quality names).
type Image struct {
	Data        []byte
	ContentType string // image/png, image/jpeg or image/webp
	// Provider is who painted it: "openai", "ark", "zhipu",
	// "siliconflow" or "offline"; Model is that provider's model id.
	Provider string
	Model    string
	Params   map[string]any
}

// ImageError is a failed image generation, classified for the job: a
// retryable one is tried again with back-off, any other fails the
// generation at once with Code shown to its owner.
type ImageError struct {
	Code       string // content_policy, upstream_rejected, upstream_billing, upstream_auth, upstream_rate_limited, upstream_unavailable, upstream_timeout, invalid_image
	Message    string // safe to show the user
	Retryable  bool
	RetryAfter time.Duration // the provider's hint, when it gave one
	Err        error         // the cause, for logs
}

func (e *ImageError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("image generation: %s: %v", e.Code, e.Err)
	}
	return "image generation: " + e.Code + ": " + e.Message
}

func (e *ImageError) Unwrap() error { return e.Err }
