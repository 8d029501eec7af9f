package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// GenerationRequest asks for a wallpaper.
type GenerationRequest struct {
	// Prompt: 1–1000 characters after trimming.
	Prompt  string `json:"prompt" example:"a quiet lake at dawn, mist, pastel colours" minLength:"1" maxLength:"1000"`
	Size    string `json:"size,omitempty" enums:"1024x1792,1792x1024,1024x1024" default:"1024x1792"`
	Style   string `json:"style,omitempty" enums:"vivid,natural" default:"vivid"`
	Quality string `json:"quality,omitempty" enums:"standard,hd" default:"standard"`
	// Public sends the wallpaper to the public gallery (with the author's
	// nickname) once the image check approves it; false keeps it private.
	Public *bool `json:"public,omitempty" default:"true"`
	// Preset is a style's id from GET /api/v1/presets; its words are added
	// to the prompt the model gets. Unknown: 400.
	Preset string `json:"preset,omitempty" example:"guofeng"`
	// Notify sends a subscribe message when the result is settled: set it
	// when the user accepted the template in wx.requestSubscribeMessage.
	Notify bool `json:"notify,omitempty" default:"false"`
}

// GenerationError is why a generation failed. The enum of Code is every
// code the Go code fails a generation with
// (TestGenerationFailureCodesAreDocumented).
type GenerationError struct {
	// Code says why; whichever it is, the quota unit is returned.
	// content_policy: the image model refused the prompt; content_rejected:
	// the image failed the content check, or a reviewer removed it;
	// cancelled: the account was banned or deleted; upstream_*: the image
	// model was rate limited, unavailable, too slow, out of credit or
	// misconfigured, or rejected the request; invalid_image: it returned an
	// unusable image; storage_unavailable, internal_error: our side.
	Code    string `json:"code" enums:"content_policy,content_rejected,cancelled,upstream_rate_limited,upstream_unavailable,upstream_timeout,upstream_billing,upstream_auth,upstream_rejected,invalid_image,storage_unavailable,internal_error" example:"content_policy"`
	Message string `json:"message" example:"The image model refused this prompt"`
}

// Generation is an accepted request and how far it got.
type Generation struct {
	ID       string           `json:"id" example:"5b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"`
	Status   string           `json:"status" enums:"queued,running,succeeded,failed" example:"queued"`
	Prompt   string           `json:"prompt" example:"a quiet lake at dawn, mist, pastel colours"`
	Size     string           `json:"size" enums:"1024x1792,1792x1024,1024x1024" example:"1024x1792"`
	Style    string           `json:"style" enums:"vivid,natural" example:"vivid"`
	Quality  string           `json:"quality" enums:"standard,hd" example:"standard"`
	Public   bool             `json:"public" example:"true"`
	Preset   *string          `json:"preset" extensions:"x-nullable" example:"guofeng"`
	Attempts int              `json:"attempts" example:"0"`
	Error    *GenerationError `json:"error,omitempty"`
	// Wallpaper is present once the generation succeeded (and until the
	// wallpaper is deleted).
	Wallpaper  *Wallpaper `json:"wallpaper,omitempty"`
	CreatedAt  time.Time  `json:"created_at" example:"2026-11-23T08:00:00Z"`
	FinishedAt *time.Time `json:"finished_at,omitempty" example:"2026-11-23T08:00:21Z"`
}

// GenerationPage is one page of the caller's generations.
type GenerationPage struct {
	Items []Generation `json:"items"`
	// NextCursor fetches the next page; null on the last page.
	NextCursor *string `json:"next_cursor" extensions:"x-nullable" example:"AQNnXzQ2AAAAAH08Gy..."`
}

const headerIdempotencyKey = "Idempotency-Key"

func (s *Server) generationRoutes(api *gin.RouterGroup) {
	g := api.Group("", s.requireUser)
	g.POST("/generations", perUser("generation requests", s.cfg.UserRates.Generations, time.Now), s.createGeneration)
	g.GET("/generations/:id", s.getGeneration)
	g.GET("/me/generations", s.listGenerations)
}

// createGeneration godoc
//
//	@Summary		Submit a prompt
//	@Description	Validates the options, answers an Idempotency-Key replay, checks the quota, moderates the prompt (a rejected prompt spends nothing), spends one unit of today's quota and queues the generation. Answers at once: poll GET /api/v1/generations/{id}. With an `Idempotency-Key`, repeating the same request within 24 h returns the original generation (200, no second unit); the same key with a different body is 409.
//	@Tags			generations
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			Idempotency-Key	header		string				false	"Makes retries safe: same key + same body = same generation"	maxLength(255)
//	@Param			request			body		GenerationRequest	true	"What to paint"
//	@Success		202				{object}	Generation			"Accepted and queued"
//	@Success		200				{object}	Generation			"An Idempotency-Key replay: the original generation"
//	@Failure		400				{object}	ErrorBody			"invalid_request: bad prompt, size, style, quality or key"
//	@Failure		401				{object}	ErrorBody			"unauthorized"
//	@Failure		405				{object}	ErrorBody			"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		403				{object}	ErrorBody			"banned: the account is banned"
//	@Failure		409				{object}	ErrorBody			"conflict: Idempotency-Key reused with another body"
//	@Failure		413				{object}	ErrorBody			"payload_too_large"
//	@Failure		415				{object}	ErrorBody			"unsupported_media_type"
//	@Failure		422				{object}	ErrorBody			"prompt_rejected"
//	@Failure		429				{object}	ErrorBody			"quota_exceeded (Retry-After: seconds to the daily reset); rate_limited: over GENERATION_RATE_PER_MINUTE (Retry-After: seconds to wait)"
//	@Header			429				{integer}	Retry-After			"Seconds to wait: until the quota resets (quota_exceeded), or until another request is allowed (rate_limited)"
//	@Failure		502				{object}	ErrorBody			"upstream_error: moderation did not answer"
//	@Failure		503				{object}	ErrorBody			"unavailable"
//	@Router			/api/v1/generations [post]
func (s *Server) createGeneration(c *gin.Context) {
	var req GenerationRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	uid, _ := callerID(c)
	g, created, err := s.deps.Generations.Submit(c.Request.Context(), uid, wallpaper.SubmitInput{
		Prompt:         req.Prompt,
		Options:        wallpaper.Options{Size: req.Size, Style: req.Style, Quality: req.Quality},
		IdempotencyKey: c.GetHeader(headerIdempotencyKey),
		Public:         req.Public,
		Preset:         req.Preset,
		Notify:         req.Notify,
	})
	if err != nil {
		writeError(c, err)
		return
	}
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	c.Header("Location", "/api/v1/generations/"+g.ID.String())
	c.JSON(status, s.generationJSON(c, g))
}

// getGeneration godoc
//
//	@Summary		Poll a generation
//	@Description	The caller's own generation: status, attempts, the error when it failed, the wallpaper when it succeeded. Anyone else's is 404. A generation can end `failed` after it `succeeded`: when the image check calls its image risky, the wallpaper is removed, `error.code` is `content_rejected` and the quota unit comes back. Other failure codes: `content_policy`, `upstream_rate_limited`, `upstream_unavailable`, `upstream_timeout`, `upstream_billing`, `upstream_auth`, `upstream_rejected`, `invalid_image`, `storage_unavailable`, `internal_error`.
//	@Tags			generations
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id	path		string	true	"Generation id"	format(uuid)
//	@Success		200	{object}	Generation
//	@Failure		400	{object}	ErrorBody	"invalid_request: not a generation id"
//	@Failure		401	{object}	ErrorBody	"unauthorized"
//	@Failure		403	{object}	ErrorBody	"banned: the account is banned"
//	@Failure		404	{object}	ErrorBody	"not_found"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503	{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/generations/{id} [get]
func (s *Server) getGeneration(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	uid, _ := callerID(c)
	g, err := s.deps.Generations.Generation(c.Request.Context(), uid, id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.generationJSON(c, g))
}

// listGenerations godoc
//
//	@Summary		My generations
//	@Description	The caller's generations, newest first, with keyset pagination: pass `next_cursor` back as `cursor`.
//	@Tags			generations
//	@Produce		json
//	@Security		BearerAuth
//	@Param			limit	query		int		false	"Page size"	minimum(1)	maximum(50)	default(20)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	GenerationPage
//	@Failure		400		{object}	ErrorBody	"invalid_request: bad limit or cursor"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		403		{object}	ErrorBody	"banned: the account is banned"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/me/generations [get]
func (s *Server) listGenerations(c *gin.Context) {
	limit, ok := queryLimit(c)
	if !ok {
		return
	}
	uid, _ := callerID(c)
	page, err := s.deps.Generations.ListGenerations(c.Request.Context(), uid, c.Query("cursor"), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	out := GenerationPage{Items: make([]Generation, 0, len(page.Items)), NextCursor: nextCursor(page.Next)}
	for i := range page.Items {
		out.Items = append(out.Items, s.generationJSON(c, &page.Items[i]))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) generationJSON(c *gin.Context, g *wallpaper.Generation) Generation {
	out := Generation{
		ID: g.ID.String(), Status: g.Status, Prompt: g.Prompt,
		Size: g.Options.Size, Style: g.Options.Style, Quality: g.Options.Quality, Public: g.Public,
		Attempts: g.Attempts, CreatedAt: g.CreatedAt.UTC(), Preset: presetJSON(g.Preset),
	}
	if g.FinishedAt != nil {
		t := g.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	if g.Error != nil {
		out.Error = &GenerationError{Code: g.Error.Code, Message: g.Error.Message}
	}
	if g.Wallpaper != nil {
		w := s.wallpaperJSON(c, g.Wallpaper)
		out.Wallpaper = &w
	}
	return out
}

var errBadID = failure.InvalidRequest("the id in the path is not a valid id")

// pathID parses the :id path parameter; on failure it has answered 400.
func pathID(c *gin.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil || len(c.Param("id")) != 36 {
		writeError(c, errBadID)
		return uuid.Nil, false
	}
	return id, true
}

// queryLimit parses ?limit= (default 20, 1..50); on failure it has
// answered 400.
func queryLimit(c *gin.Context) (int, bool) {
	raw, given := c.GetQuery("limit")
	if !given {
		return wallpaper.DefaultLimit, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || wallpaper.CheckLimit(n) != nil {
		writeError(c, wallpaper.ErrBadLimit)
		return 0, false
	}
	return n, true
}

// presetJSON is a preset id, or null for none.
func presetJSON(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}
