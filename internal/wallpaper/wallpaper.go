// Package wallpaper is wallpaperd's domain: generations (accepted prompts),
// wallpapers (the images they became), the daily quota, likes and the
// gallery, with the rules that govern them and the interfaces the domain
// needs from the outside world (database, image model, object storage).
package wallpaper

import (
	"time"

	"github.com/google/uuid"
)

// Product sizes, styles and qualities (the API's generation options; each
// image model gets the nearest thing it supports).
const (
	SizePortrait  = "1024x1792" // the default: a phone wallpaper
	SizeLandscape = "1792x1024"
	SizeSquare    = "1024x1024"

	StyleVivid   = "vivid"
	StyleNatural = "natural"

	QualityStandard = "standard"
	QualityHD       = "hd"
)

// Review states of a wallpaper: unchecked (private, never checked),
// pending (waiting for the image check), approved, held (waiting for an
// admin: the check said review, reports reached the threshold, or an admin
// hid it).
const (
	ReviewUnchecked = "unchecked"
	ReviewPending   = "pending"
	ReviewApproved  = "approved"
	ReviewHeld      = "held"
)

// Generation statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Options are what the user chose besides the prompt.
type Options struct {
	Size    string `json:"size"`
	Style   string `json:"style"`
	Quality string `json:"quality"`
}

// Failure is why a generation failed, safe to show its owner.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Failures of generations ended from outside their job: a queued or
// running generation of a banned user, or of an account being deleted,
// ends with the code cancelled and its quota unit returned.
var (
	CancelledByBan      = Failure{Code: "cancelled", Message: "the generation was cancelled because the account is banned; the quota unit is returned"}
	CancelledByDeletion = Failure{Code: "cancelled", Message: "the generation was cancelled because the account was deleted"}
)

// Generation is one accepted request to paint a wallpaper.
type Generation struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	Prompt     string
	Options    Options
	Status     string
	Public     bool   // the wallpaper goes to the public gallery once approved
	Preset     string // a style's id, or ""
	Notify     bool   // a subscribe message is sent when it settles
	Attempts   int
	Error      *Failure
	Wallpaper  *Wallpaper // once succeeded, while the wallpaper exists
	CreatedAt  time.Time
	FinishedAt *time.Time
}

// Author is the public face of a wallpaper's owner.
type Author struct {
	ID        uuid.UUID
	Nickname  string
	AvatarKey string
}

// Wallpaper is a finished image kept in our storage.
type Wallpaper struct {
	ID           uuid.UUID
	GenerationID *uuid.UUID
	Author       Author
	Prompt       string
	Size         string // the product size asked for
	Width        int    // the real pixel size the model gave
	Height       int
	Provider     string // who painted it: openai, ark, zhipu, siliconflow, offline
	Model        string
	Preset       string         // the style it was painted in, or ""
	Params       map[string]any // what was asked of the model
	ImageKey     string         // the display image, with the visible label, where it is now
	ThumbnailKey string         // the thumbnail, labelled too, where it is now
	MasterKey    string         // the image as painted, always private ("" before labelling)
	Public       bool           // the owner shows it in the gallery
	Review       string         // ReviewUnchecked, …
	AuthorBanned bool
	// Published says the display objects are under the public prefix.
	Published bool
	// Visible is the one rule of who may see it: public, approved, the
	// author not banned, the objects published (a derived column).
	Visible   bool
	LikeCount int
	Liked     *bool // set when the caller is known
	CreatedAt time.Time
	// ApprovedAt is the first approval: an admin who removes the
	// wallpaper afterwards refunds nothing (its author had it).
	ApprovedAt *time.Time
	// DecidedAt is the last admin decision on it: reports filed before
	// it do not count towards holding it again.
	DecidedAt *time.Time
}

// ShouldPublish says whether the wallpaper's state wants its objects
// public: the rule of Visible, less the objects' place.
func (w *Wallpaper) ShouldPublish() bool {
	return w.Public && w.Review == ReviewApproved && !w.AuthorBanned
}

// Quota is a user's daily allowance of generations.
type Quota struct {
	DailyLimit int
	UsedToday  int
	Remaining  int
	ResetsAt   time.Time
}
