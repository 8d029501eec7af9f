package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// QuotaReader reports a user's daily generation quota for GET /me.
type QuotaReader interface {
	Quota(ctx context.Context, userID uuid.UUID) (wallpaper.Quota, error)
}

// User is a user's own view of their account.
type User struct {
	ID string `json:"id" binding:"required" format:"uuid" example:"0b8f6a1e-8c1d-4a57-9d1e-6f2a3b4c5d6e"`
	// Nickname is "" until the user sets one.
	Nickname string `json:"nickname" binding:"required" example:"Alice"`
	// AvatarURL is absolute; "" when the user has no avatar.
	AvatarURL string    `json:"avatar_url" binding:"required" example:"https://api.example.com/media/avatars/0b8f6a1e-8c1d-4a57-9d1e-6f2a3b4c5d6e/5f1c.jpg"`
	CreatedAt time.Time `json:"created_at" binding:"required" format:"date-time" example:"2026-11-23T08:00:00Z"`
}

// Quota is the caller's daily generation allowance.
type Quota struct {
	DailyLimit int       `json:"daily_limit" binding:"required" example:"10"`
	UsedToday  int       `json:"used_today" binding:"required" example:"3"`
	Remaining  int       `json:"remaining" binding:"required" example:"7"`
	ResetsAt   time.Time `json:"resets_at" binding:"required" format:"date-time" example:"2026-11-23T16:00:00Z"`
}

// Me is the answer of GET /me: the caller's account and quota.
type Me struct {
	User
	Quota Quota `json:"quota" binding:"required"`
}

// NicknameRequest is the body of PATCH /me.
type NicknameRequest struct {
	// Nickname is 1-32 characters after trimming; it is moderated.
	Nickname *string `json:"nickname" binding:"required" minLength:"1" example:"Alice"`
}

func (s *Server) profileRoutes(api *gin.RouterGroup) {
	api.GET("/me", s.requireUser, s.me)
	api.PATCH("/me", s.requireUser, perUser("profile changes", s.cfg.UserRates.Profile, time.Now), s.updateMe)
	avatars := perUser("avatar uploads", s.cfg.UserRates.Avatar, time.Now)
	api.PUT("/me/avatar", s.requireUser, avatars, s.putAvatar)
	// wx.uploadFile can only POST.
	api.POST("/me/avatar", s.requireUser, avatars, s.postAvatar)
}

// me godoc
//
//	@Summary		The caller's profile and quota
//	@Description	The caller's account (id, nickname, avatar URL, creation time) and today's generation quota. The quota day starts at midnight in QUOTA_TZ; `resets_at` is the next such midnight.
//	@Tags			profile
//	@Produce		json
//	@Security		BearerAuth
//	@Success		200	{object}	Me
//	@Failure		400	{object}	ErrorBody	"invalid_request: a malformed query string"
//	@Failure		401	{object}	ErrorBody
//	@Failure		403	{object}	ErrorBody	"banned: the account is banned"
//	@Failure		404	{object}	ErrorBody	"not_found: the account no longer exists"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		500	{object}	ErrorBody
//	@Failure		503	{object}	ErrorBody
//	@Router			/api/v1/me [get]
func (s *Server) me(c *gin.Context) {
	id, _ := callerID(c)
	ctx := c.Request.Context()
	u, err := s.deps.Users.Profile(ctx, id)
	if err != nil {
		writeError(c, err)
		return
	}
	q, err := s.deps.Quota.Quota(ctx, id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, Me{User: s.userJSON(c, u), Quota: Quota{
		DailyLimit: q.DailyLimit, UsedToday: q.UsedToday, Remaining: q.Remaining, ResetsAt: q.ResetsAt.UTC(),
	}})
}

// updateMe godoc
//
//	@Summary		Change the nickname
//	@Description	Sets the caller's nickname: 1-32 characters after trimming, no control characters. When WeChat is configured it is checked with msgSecCheck first; a rejected nickname is `422 content_rejected` and nothing changes. wx.request cannot send PATCH: POST with `X-HTTP-Method-Override: PATCH` reaches this route too.
//	@Tags			profile
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			body	body		NicknameRequest	true	"the new nickname"
//	@Success		200		{object}	User
//	@Failure		400		{object}	ErrorBody	"invalid_request: missing, empty or too long nickname"
//	@Failure		401		{object}	ErrorBody
//	@Failure		403		{object}	ErrorBody	"banned: the account is banned"
//	@Failure		404		{object}	ErrorBody
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody
//	@Failure		415		{object}	ErrorBody
//	@Failure		422		{object}	ErrorBody	"content_rejected: moderation refused the nickname"
//	@Failure		429		{object}	ErrorBody	"rate_limited: over PROFILE_RATE_PER_MINUTE, or WeChat's moderation is rate limited (see Retry-After)"
//	@Header			429		{integer}	Retry-After	"seconds to wait"
//	@Failure		500		{object}	ErrorBody
//	@Failure		502		{object}	ErrorBody	"upstream_error: moderation unavailable"
//	@Failure		503		{object}	ErrorBody
//	@Router			/api/v1/me [patch]
func (s *Server) updateMe(c *gin.Context) {
	var req NicknameRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if req.Nickname == nil {
		writeError(c, failure.InvalidRequest("nickname is required"))
		return
	}
	id, _ := callerID(c)
	u, err := s.deps.Users.Rename(c.Request.Context(), id, *req.Nickname)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.userJSON(c, u))
}

// putAvatar godoc
//
//	@Summary		Upload an avatar
//	@Description	Replaces the caller's avatar with the image in the multipart field `file` (what `<button open-type="chooseAvatar">` gives). JPEG, PNG or WebP, judged by the bytes, at most 2 MiB; it is re-encoded as a JPEG of at most 512x512 pixels without metadata, stored under a new URL, and the old avatar is deleted.
//	@Tags			profile
//	@Accept			multipart/form-data
//	@Produce		json
//	@Security		BearerAuth
//	@Param			file	formData	file	true	"the image (jpeg, png or webp, at most 2 MiB)"
//	@Success		200		{object}	User
//	@Failure		400		{object}	ErrorBody	"invalid_request: no file field; invalid_image: unreadable image"
//	@Failure		401		{object}	ErrorBody
//	@Failure		403		{object}	ErrorBody	"banned: the account is banned"
//	@Failure		404		{object}	ErrorBody
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody	"payload_too_large: over 2 MiB, over 2048x2048 pixels, or too costly to decode (16-bit colour, a large progressive JPEG)"
//	@Failure		415		{object}	ErrorBody	"unsupported_media_type: not jpeg, png or webp, or not multipart"
//	@Failure		429		{object}	ErrorBody	"rate_limited: over AVATAR_RATE_PER_MINUTE (see Retry-After)"
//	@Header			429		{integer}	Retry-After	"seconds to wait"
//	@Failure		500		{object}	ErrorBody
//	@Failure		503		{object}	ErrorBody	"unavailable: every image decoding slot stayed busy (see Retry-After), or the database is unreachable"
//	@Router			/api/v1/me/avatar [put]
func (s *Server) putAvatar(c *gin.Context) { s.uploadAvatar(c) }

// postAvatar godoc
//
//	@Summary		Upload an avatar (POST alias for wx.uploadFile)
//	@Description	The same as `PUT /api/v1/me/avatar`, for `wx.uploadFile`, which can only POST. Send the image in the multipart field `file`.
//	@Tags			profile
//	@Accept			multipart/form-data
//	@Produce		json
//	@Security		BearerAuth
//	@Param			file	formData	file	true	"the image (jpeg, png or webp, at most 2 MiB)"
//	@Success		200		{object}	User
//	@Failure		400		{object}	ErrorBody	"invalid_request: no file field; invalid_image: unreadable image"
//	@Failure		401		{object}	ErrorBody
//	@Failure		403		{object}	ErrorBody	"banned: the account is banned"
//	@Failure		404		{object}	ErrorBody
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody	"payload_too_large: over 2 MiB, over 2048x2048 pixels, or too costly to decode (16-bit colour, a large progressive JPEG)"
//	@Failure		415		{object}	ErrorBody	"unsupported_media_type: not jpeg, png or webp, or not multipart"
//	@Failure		429		{object}	ErrorBody	"rate_limited: over AVATAR_RATE_PER_MINUTE (see Retry-After)"
//	@Header			429		{integer}	Retry-After	"seconds to wait"
//	@Failure		500		{object}	ErrorBody
//	@Failure		503		{object}	ErrorBody	"unavailable: every image decoding slot stayed busy (see Retry-After), or the database is unreachable"
//	@Router			/api/v1/me/avatar [post]
func (s *Server) postAvatar(c *gin.Context) { s.uploadAvatar(c) }

var errNotMultipart = failure.New(failure.UnsupportedMedia, "unsupported_media_type", "send the avatar as multipart/form-data with the image in the field \"file\"")

func (s *Server) uploadAvatar(c *gin.Context) {
	data, err := readAvatar(c)
	if err != nil {
		writeError(c, err)
		return
	}
	id, _ := callerID(c)
	u, err := s.deps.Users.SetAvatar(c.Request.Context(), id, data)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.userJSON(c, u))
}

// readAvatar streams the multipart body and reads the "file" part, at most
// one byte more than allowed so that an oversize file is recognised
// without buffering it.
func readAvatar(c *gin.Context) ([]byte, error) {
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, errNotMultipart
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, failure.InvalidRequest("the multipart body has no field \"file\"")
		}
		if err != nil {
			if isTooLarge(err) {
				return nil, user.ErrAvatarTooLarge
			}
			return nil, failure.InvalidRequest("the multipart body is malformed")
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, user.MaxAvatarBytes+1))
		if isTooLarge(err) || len(data) > user.MaxAvatarBytes {
			return nil, user.ErrAvatarTooLarge
		}
		if err != nil {
			return nil, failure.InvalidRequest("the multipart body is malformed")
		}
		return data, nil
	}
}

func (s *Server) userJSON(c *gin.Context, u user.User) User {
	return User{
		ID:        u.ID.String(),
		Nickname:  u.Nickname,
		AvatarURL: s.absoluteURL(c, s.deps.Users.AvatarURL(u)),
		CreatedAt: u.CreatedAt.UTC(),
	}
}

// absoluteURL makes a root-relative URL (local storage's /media/…)
// absolute, on the scheme and host the client used to reach us; absolute
// URLs (S3, CDN) and "" pass through.
func (s *Server) absoluteURL(c *gin.Context, u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
		return u
	}
	return s.origin(c) + u
}

const ctxOrigin = "origin"

// origin is scheme://host as the client reached us, worked out once per
// request: a feed page makes dozens of URLs.
func (s *Server) origin(c *gin.Context) string {
	if o, ok := c.Get(ctxOrigin); ok {
		return o.(string)
	}
	scheme := "http://"
	if s.isHTTPS(c) {
		scheme = "https://"
	}
	o := scheme + c.Request.Host
	c.Set(ctxOrigin, o)
	return o
}
