package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/feedcache"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// VisibilityRequest shows or hides a wallpaper in the public feed.
type VisibilityRequest struct {
	Public *bool `json:"public" example:"false"`
}

// LikeState is a wallpaper's like count and whether the caller likes it.
type LikeState struct {
	Liked bool `json:"liked" example:"true"`
	// LikeCount is exact at its moment: the number of likes the wallpaper
	// had at an instant after the caller's change was made and before the
	// answer (others' likes and unlikes until then included).
	LikeCount int `json:"like_count" example:"4"`
}

func (s *Server) galleryRoutes(api *gin.RouterGroup) {
	api.GET("/wallpapers", s.optionalUser, s.feed)
	api.GET("/wallpapers/:id", s.optionalUser, s.getWallpaper)
	auth := api.Group("", s.requireUser)
	auth.GET("/wallpapers/:id/original", s.getOriginal)
	auth.PATCH("/wallpapers/:id", s.patchWallpaper)
	auth.DELETE("/wallpapers/:id", s.deleteWallpaper)
	likes := perUser("likes", s.cfg.UserRates.Likes, time.Now)
	auth.PUT("/wallpapers/:id/like", likes, s.like)
	auth.DELETE("/wallpapers/:id/like", likes, s.unlike)
	auth.GET("/me/wallpapers", s.myWallpapers)
}

// feed godoc
//
//	@Summary		Public gallery
//	@Description	Public wallpapers, newest first, with their authors. No login needed; with a token each item says whether the caller likes it (`liked`). Keyset pagination: pass `next_cursor` back as `cursor`; a malformed or altered cursor is 400.
//	@Description	Cached: the same page is served to everyone for up to FEED_CACHE_TTL (1 s) after it was read, so a new wallpaper appears within that time; one leaving public view (made private, deleted, hidden, its author banned) is gone at once from the replica that hid it and within FEED_CACHE_TTL from the others. Every page has an `ETag`: send it back as `If-None-Match` and an unchanged page is a bodiless 304. Anonymous pages are `Cache-Control: public, max-age=<FEED_CACHE_TTL>` (proxies and CDNs may keep them; `no-cache` with the cache off); with a token, `private, no-cache`. Always `Vary: Authorization`.
//	@Tags			gallery
//	@Produce		json
//	@Security		BearerAuth
//	@Param			limit			query		int		false	"Page size"	minimum(1)	maximum(50)	default(20)
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Param			If-None-Match	header		string	false	"the ETag of the page the client holds"
//	@Success		200				{object}	WallpaperPage
//	@Success		304				"Not Modified: the page is the one whose ETag was sent"
//	@Header			200,304			{string}	ETag			"the page's entity tag (a hash of its body)"
//	@Header			200,304			{string}	Cache-Control	"public, max-age=<FEED_CACHE_TTL> without a token; private, no-cache with one"
//	@Header			200,304			{string}	Vary			"Authorization"
//	@Failure		400				{object}	ErrorBody		"invalid_request: bad limit or cursor"
//	@Failure		401				{object}	ErrorBody		"unauthorized: a token was sent but is invalid or expired"
//	@Failure		405				{object}	ErrorBody		"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		403				{object}	ErrorBody		"banned: the account is banned"
//	@Failure		503				{object}	ErrorBody		"unavailable"
//	@Router			/api/v1/wallpapers [get]
func (s *Server) feed(c *gin.Context) {
	limit, ok := queryLimit(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	cursor := c.Query("cursor")
	key := feedcache.Key{Origin: s.urlOrigin(c), Limit: limit, Cursor: cursor}
	page, err := s.deps.Feed.Get(ctx, key, func(ctx context.Context) (*feedcache.Page, error) {
		// The anonymous page, whoever asks first: the same bytes for all.
		p, err := s.deps.Gallery.Feed(ctx, nil, cursor, limit)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(s.wallpaperPageFor(view{origin: key.Origin}, p))
		if err != nil {
			return nil, err
		}
		return &feedcache.Page{Feed: p, Body: body, ETag: etag(body)}, nil
	})
	if err != nil {
		writeError(c, err)
		return
	}
	uid, known := callerID(c)
	if !known {
		writeCacheable(c, page.ETag, s.feedCacheControl, page.Body)
		return
	}
	// The caller's page is the public one with their liked flags (and
	// their own items' review state), from one look-up of its ids.
	items := slices.Clone(page.Feed.Items)
	if err := s.deps.Gallery.MarkLiked(ctx, uid, items); err != nil {
		writeError(c, err)
		return
	}
	body, err := json.Marshal(s.wallpaperPageFor(view{origin: key.Origin, caller: uid},
		wallpaper.Page[wallpaper.Wallpaper]{Items: items, Next: page.Feed.Next}))
	if err != nil {
		writeError(c, err)
		return
	}
	writeCacheable(c, etag(body), privateCacheControl, body)
}

// myWallpapers godoc
//
//	@Summary		My wallpapers
//	@Description	The caller's wallpapers, private ones too, newest first, with keyset pagination.
//	@Tags			gallery
//	@Produce		json
//	@Security		BearerAuth
//	@Param			limit	query		int		false	"Page size"	minimum(1)	maximum(50)	default(20)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	WallpaperPage
//	@Failure		400		{object}	ErrorBody	"invalid_request: bad limit or cursor"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		403		{object}	ErrorBody	"banned: the account is banned"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/me/wallpapers [get]
func (s *Server) myWallpapers(c *gin.Context) {
	limit, ok := queryLimit(c)
	if !ok {
		return
	}
	uid, _ := callerID(c)
	page, err := s.deps.Gallery.Mine(c.Request.Context(), uid, c.Query("cursor"), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.wallpaperPage(c, page))
}

// getWallpaper godoc
//
//	@Summary		One wallpaper
//	@Description	A wallpaper with its prompt, model and the parameters the model was given. No login needed for a wallpaper anyone may see (public, approved by the image check, its author not banned), so a shared link opens anywhere; with a token the answer says whether the caller likes it. Any other wallpaper exists only for its owner: anyone else gets 404.
//	@Description	It has an `ETag`: send it back as `If-None-Match` and an unchanged answer is a bodiless 304. `Cache-Control: no-cache` without a token (keep it, but ask again each time), `private, no-cache` with one; `Vary: Authorization`.
//	@Tags			gallery
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id				path		string	true	"Wallpaper id"	format(uuid)
//	@Param			If-None-Match	header		string	false	"the ETag of the answer the client holds"
//	@Success		200				{object}	Wallpaper
//	@Success		304				"Not Modified: the answer is the one whose ETag was sent"
//	@Header			200,304			{string}	ETag			"the answer's entity tag (a hash of its body)"
//	@Header			200,304			{string}	Cache-Control	"no-cache without a token; private, no-cache with one"
//	@Header			200,304			{string}	Vary			"Authorization"
//	@Failure		400				{object}	ErrorBody		"invalid_request: not a wallpaper id"
//	@Failure		401				{object}	ErrorBody		"unauthorized: a token was sent but is invalid or expired"
//	@Failure		403				{object}	ErrorBody		"banned: the account is banned"
//	@Failure		404				{object}	ErrorBody		"not_found"
//	@Failure		405				{object}	ErrorBody		"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503				{object}	ErrorBody		"unavailable"
//	@Router			/api/v1/wallpapers/{id} [get]
func (s *Server) getWallpaper(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var caller *uuid.UUID
	if uid, known := callerID(c); known {
		caller = &uid
	}
	w, err := s.deps.Gallery.Wallpaper(c.Request.Context(), caller, id)
	if err != nil {
		writeError(c, err)
		return
	}
	out := s.wallpaperJSON(c, w)
	out.Params = w.Params
	if out.Params == nil {
		out.Params = map[string]any{}
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(c, err)
		return
	}
	cacheControl := detailCacheControl
	if caller != nil {
		cacheControl = privateCacheControl
	}
	writeCacheable(c, etag(body), cacheControl, body)
}

var errPublicRequired = failure.InvalidRequest("public (true or false) is required")

// patchWallpaper godoc
//
//	@Summary		Show or hide a wallpaper
//	@Description	The owner sets whether the wallpaper is in the public feed. Another user's public wallpaper is 403, a private one 404. Clients that cannot send PATCH (wx.request) may POST with `X-HTTP-Method-Override: PATCH`.
//	@Tags			gallery
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string				true	"Wallpaper id"	format(uuid)
//	@Param			request	body		VisibilityRequest	true	"The new visibility"
//	@Success		200		{object}	Wallpaper
//	@Failure		400		{object}	ErrorBody	"invalid_request"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		403		{object}	ErrorBody	"forbidden: someone else's wallpaper; banned: the account is banned"
//	@Failure		404		{object}	ErrorBody	"not_found"
//	@Failure		409		{object}	ErrorBody	"conflict: held for review, only an admin releases it"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody	"payload_too_large"
//	@Failure		415		{object}	ErrorBody	"unsupported_media_type"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/wallpapers/{id} [patch]
func (s *Server) patchWallpaper(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req VisibilityRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if req.Public == nil {
		writeError(c, errPublicRequired)
		return
	}
	uid, _ := callerID(c)
	w, err := s.deps.Gallery.SetPublic(c.Request.Context(), uid, id, *req.Public)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.wallpaperJSON(c, w))
}

// originalURLTTL is how long the link to a master is valid: long enough to
// start the download, no longer.
const originalURLTTL = 10 * time.Minute

// getOriginal godoc
//
//	@Summary		Download the master
//	@Description	The owner's download of the image as painted, without the visible "AI生成" label (it still carries the implicit label in its metadata): a 302 to a link valid for 10 minutes. Every download is recorded (user, wallpaper, time) and kept at least six months: whoever publishes the image elsewhere must label it (the labelling measures, Art. 8 and 9). Anyone else: 404, or 403 for a wallpaper they can see.
//	@Tags			gallery
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path	string	true	"Wallpaper id"	format(uuid)
//	@Success		302	"Location: the master's URL"
//	@Header			302	{string}	Location	"A signed URL of the master, valid for 10 minutes"
//	@Failure		400	{object}	ErrorBody	"invalid_request: not a wallpaper id"
//	@Failure		401	{object}	ErrorBody	"unauthorized"
//	@Failure		403	{object}	ErrorBody	"forbidden: someone else's wallpaper; banned: the account is banned"
//	@Failure		404	{object}	ErrorBody	"not_found"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503	{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/wallpapers/{id}/original [get]
func (s *Server) getOriginal(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	uid, _ := callerID(c)
	w, err := s.deps.Gallery.Original(c.Request.Context(), uid, id)
	if err != nil {
		writeError(c, err)
		return
	}
	key := w.MasterKey
	if key == "" {
		key = w.ImageKey // made before labelling: the image is its own master
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, s.absoluteURL(c, s.deps.Objects.SignedURL(key, originalURLTTL)))
}

// deleteWallpaper godoc
//
//	@Summary		Delete a wallpaper
//	@Description	The owner deletes the wallpaper; its image and thumbnail leave storage right after (retried until they are gone). Another user's public wallpaper is 403, a private one 404.
//	@Tags			gallery
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path	string	true	"Wallpaper id"	format(uuid)
//	@Success		204	"Deleted"
//	@Failure		400	{object}	ErrorBody	"invalid_request: not a wallpaper id"
//	@Failure		401	{object}	ErrorBody	"unauthorized"
//	@Failure		403	{object}	ErrorBody	"forbidden: someone else's wallpaper; banned: the account is banned"
//	@Failure		404	{object}	ErrorBody	"not_found"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503	{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/wallpapers/{id} [delete]
func (s *Server) deleteWallpaper(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	uid, _ := callerID(c)
	if err := s.deps.Gallery.Delete(c.Request.Context(), uid, id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// like godoc
//
//	@Summary		Like a wallpaper
//	@Description	Idempotent: liking twice counts once. Only wallpapers the caller can see (public ones and their own).
//	@Tags			gallery
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Wallpaper id"	format(uuid)
//	@Success		200	{object}	LikeState
//	@Failure		400	{object}	ErrorBody	"invalid_request: not a wallpaper id"
//	@Failure		401	{object}	ErrorBody	"unauthorized"
//	@Failure		403	{object}	ErrorBody	"banned: the account is banned"
//	@Failure		404	{object}	ErrorBody	"not_found"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		429	{object}	ErrorBody	"rate_limited: over LIKE_RATE_PER_MINUTE (see Retry-After)"
//	@Header			429	{integer}	Retry-After	"seconds to wait"
//	@Failure		503	{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/wallpapers/{id}/like [put]
func (s *Server) like(c *gin.Context) { s.setLike(c, true) }

// unlike godoc
//
//	@Summary		Unlike a wallpaper
//	@Description	Idempotent: unliking what the caller does not like changes nothing.
//	@Tags			gallery
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Wallpaper id"	format(uuid)
//	@Success		200	{object}	LikeState
//	@Failure		400	{object}	ErrorBody	"invalid_request: not a wallpaper id"
//	@Failure		401	{object}	ErrorBody	"unauthorized"
//	@Failure		403	{object}	ErrorBody	"banned: the account is banned"
//	@Failure		404	{object}	ErrorBody	"not_found"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		429	{object}	ErrorBody	"rate_limited: over LIKE_RATE_PER_MINUTE (see Retry-After)"
//	@Header			429	{integer}	Retry-After	"seconds to wait"
//	@Failure		503	{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/wallpapers/{id}/like [delete]
func (s *Server) unlike(c *gin.Context) { s.setLike(c, false) }

func (s *Server) setLike(c *gin.Context, liked bool) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	uid, _ := callerID(c)
	n, err := s.deps.Gallery.SetLike(c.Request.Context(), uid, id, liked)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, LikeState{Liked: liked, LikeCount: n})
}

func (s *Server) wallpaperPage(c *gin.Context, p wallpaper.Page[wallpaper.Wallpaper]) WallpaperPage {
	return s.wallpaperPageFor(s.viewOf(c), p)
}

func (s *Server) wallpaperPageFor(v view, p wallpaper.Page[wallpaper.Wallpaper]) WallpaperPage {
	out := WallpaperPage{Items: make([]Wallpaper, 0, len(p.Items)), NextCursor: nextCursor(p.Next)}
	for i := range p.Items {
		out.Items = append(out.Items, s.wallpaperFor(v, &p.Items[i]))
	}
	return out
}
