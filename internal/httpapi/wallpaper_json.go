package httpapi

import (
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Author is the public face of a wallpaper's owner.
type Author struct {
	ID        string `json:"id" example:"0b8f6a1e-8c1d-4a57-9d1e-6f2a3b4c5d6e"`
	Nickname  string `json:"nickname" example:"Alice"`
	AvatarURL string `json:"avatar_url" example:"https://api.example.com/media/avatars/0b8f6a1e/5f1c.jpg"`
}

// Wallpaper is a finished image.
type Wallpaper struct {
	ID     string `json:"id" example:"7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"`
	Prompt string `json:"prompt" example:"a quiet lake at dawn, mist, pastel colours"`
	Size   string `json:"size" enums:"1024x1792,1792x1024,1024x1024" example:"1024x1792"`
	Width  int    `json:"width" example:"1024"`
	Height int    `json:"height" example:"1792"`
	// Provider is who painted it, Model the provider's model id (clients
	// need not show either).
	Provider string `json:"provider" enums:"openai,ark,zhipu,siliconflow,offline" example:"ark"`
	Model    string `json:"model" example:"doubao-seedream-4-5-251128"`
	// ImageURL is the display image, with the visible "AI生成" label: what
	// clients show and save. A wallpaper others cannot see has short-lived
	// signed URLs (its owner's only).
	ImageURL     string `json:"image_url" example:"https://api.example.com/media/public/w/7d3c1b2a/image.jpg"`
	ThumbnailURL string `json:"thumbnail_url" example:"https://api.example.com/media/public/w/7d3c1b2a/thumb.jpg"`
	Public       bool   `json:"public" example:"true"`
	// Preset is the style it was painted in, or null.
	Preset *string `json:"preset" extensions:"x-nullable" example:"guofeng"`
	// AIGenerated is always true: every client shows the in-app notice
	// that the image is AI-generated (the labelling measures, Art. 6).
	AIGenerated bool `json:"ai_generated" example:"true"`
	// Review is the image check's state, shown to the owner only:
	// unchecked (private, never checked), pending, approved, held (waiting
	// for an admin).
	Review    string `json:"review,omitempty" enums:"unchecked,pending,approved,held" example:"approved"`
	LikeCount int    `json:"like_count" example:"3"`
	// Liked says whether the caller likes it; present when a token was sent.
	Liked  *bool  `json:"liked,omitempty" example:"false"`
	Author Author `json:"author"`
	// Params is what the model was asked (detail only).
	Params    map[string]any `json:"params,omitempty"`
	CreatedAt time.Time      `json:"created_at" example:"2026-11-23T08:00:00Z"`
}

// WallpaperPage is one page of a newest-first wallpaper listing.
type WallpaperPage struct {
	Items []Wallpaper `json:"items"`
	// NextCursor fetches the next page; null on the last page.
	NextCursor *string `json:"next_cursor" extensions:"x-nullable" example:"AQFnXzQ2AAAAAH08Gy..."`
}

func (s *Server) wallpaperJSON(c *gin.Context, w *wallpaper.Wallpaper) Wallpaper {
	return s.wallpaperFor(s.viewOf(c), w)
}

// view is whom a wallpaper is shown to: the origin its relative URLs are
// made absolute on ("" when the store's URLs are absolute) and the caller
// (uuid.Nil: anonymous).
type view struct {
	origin string
	caller uuid.UUID
}

// viewOf is the request's view.
func (s *Server) viewOf(c *gin.Context) view {
	v := view{origin: s.urlOrigin(c)}
	v.caller, _ = callerID(c)
	return v
}

// urlOrigin is the origin the stored objects' URLs are absolute on: the
// caller's scheme://host with local storage (relative URLs), "" with S3.
func (s *Server) urlOrigin(c *gin.Context) string {
	if !s.relativeURLs {
		return ""
	}
	return s.origin(c)
}

// absolute is u on origin when u is relative.
func (v view) absolute(u string) string {
	if v.origin == "" || !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
		return u
	}
	return v.origin + u
}

// wallpaperFor is w as v sees it.
func (s *Server) wallpaperFor(v view, w *wallpaper.Wallpaper) Wallpaper {
	out := Wallpaper{
		ID: w.ID.String(), Prompt: w.Prompt, Size: w.Size, Width: w.Width, Height: w.Height,
		Provider: w.Provider, Model: w.Model,
		ImageURL:     v.absolute(s.objectURL(w.ImageKey)),
		ThumbnailURL: v.absolute(s.objectURL(w.ThumbnailKey)),
		Public:       w.Public, AIGenerated: true, Preset: presetJSON(w.Preset), LikeCount: w.LikeCount, Liked: w.Liked,
		Author: Author{
			ID: w.Author.ID.String(), Nickname: w.Author.Nickname,
		},
		CreatedAt: w.CreatedAt.UTC(),
	}
	if w.Author.AvatarKey != "" {
		out.Author.AvatarURL = v.absolute(s.deps.Objects.URL(w.Author.AvatarKey))
	}
	if v.caller != uuid.Nil && v.caller == w.Author.ID {
		out.Review = w.Review
	}
	return out
}

// objectURL is where a client GETs a stored object: a private one through
// a URL signed for PrivateURLTTL, any other at its public URL.
func (s *Server) objectURL(key string) string {
	if strings.HasPrefix(key, wallpaper.PrivatePrefix) {
		return s.deps.Objects.SignedURL(key, s.cfg.PrivateURLTTL)
	}
	return s.deps.Objects.URL(key)
}

func nextCursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}
