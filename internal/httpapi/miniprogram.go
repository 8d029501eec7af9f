package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// ClientConfig is what the mini-program needs to know of this deployment.
type ClientConfig struct {
	// SubscribeTemplateID is the template to ask wx.requestSubscribeMessage
	// for; "" when no message is sent.
	SubscribeTemplateID string `json:"subscribe_template_id" example:"Xv2y9-abcdEFGH"`
	// Sizes are the sizes a generation may ask for, the default first.
	Sizes []string `json:"sizes" example:"1024x1792,1792x1024,1024x1024"`
	// PresetsVersion changes when the presets do.
	PresetsVersion string `json:"presets_version" example:"3f9a1c0b2d4e"`
	// DailyLimit is each user's generations a day.
	DailyLimit int `json:"daily_limit" example:"10"`
	// ReportsEnabled says whether POST /wallpapers/{id}/reports is served.
	ReportsEnabled bool `json:"reports_enabled" example:"true"`
	// ReportResponseHours is the time within which the operator commits to
	// act on a report.
	ReportResponseHours int `json:"report_response_hours" example:"24"`
}

// PresetJSON is a style a generation can be painted in.
type PresetJSON struct {
	ID          string `json:"id" example:"guofeng"`
	Name        string `json:"name" example:"国风"`
	Description string `json:"description" example:"水墨与工笔的东方意境"`
	CoverURL    string `json:"cover_url" example:"https://api.example.com/api/v1/presets/guofeng/cover"`
}

// Covers paints the presets' covers.
type Covers interface {
	Cover(ctx context.Context, id string) (data []byte, ok bool, err error)
}

// Codes makes the mini-program code of a wallpaper.
type Codes interface {
	Code(ctx context.Context, id uuid.UUID) (data []byte, contentType string, err error)
}

func (s *Server) miniProgramRoutes(api *gin.RouterGroup) {
	api.GET("/client-config", s.clientConfig)
	api.GET("/presets", s.presets)
	api.GET("/presets/:preset/cover", s.presetCover)
	if s.deps.Codes != nil {
		api.GET("/wallpapers/:id/wxacode", s.wxacode)
	}
}

// clientConfig godoc
//
//	@Summary		Client configuration
//	@Description	What the mini-program needs to know of this deployment: the subscribe message template (empty: none is sent), the sizes, the presets' version, the daily limit, and whether reports are taken and how soon the operator answers them.
//	@Tags			mini-program
//	@Produce		json
//	@Success		200	{object}	ClientConfig
//	@Failure		400	{object}	ErrorBody	"invalid_request: the query string is malformed"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Router			/api/v1/client-config [get]
func (s *Server) clientConfig(c *gin.Context) {
	cfg := s.cfg.Client
	cfg.Sizes = []string{wallpaper.SizePortrait, wallpaper.SizeLandscape, wallpaper.SizeSquare}
	cfg.PresetsVersion = wallpaper.PresetsVersion
	c.JSON(http.StatusOK, cfg)
}

// presets godoc
//
//	@Summary		Presets
//	@Description	The styles a generation can be painted in, with Chinese names and a cover. Send a preset's `id` as `preset` with POST /api/v1/generations: the server adds the style's words to the prompt the model gets; the user's own text is what is stored, shown and moderated.
//	@Tags			mini-program
//	@Produce		json
//	@Success		200	{array}		PresetJSON
//	@Failure		400	{object}	ErrorBody	"invalid_request: the query string is malformed"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Router			/api/v1/presets [get]
func (s *Server) presets(c *gin.Context) {
	out := make([]PresetJSON, 0, len(wallpaper.Presets))
	for _, p := range wallpaper.Presets {
		out = append(out, PresetJSON{ID: p.ID, Name: p.Name, Description: p.Description,
			CoverURL: s.absoluteURL(c, "/api/v1/presets/"+p.ID+"/cover")})
	}
	c.JSON(http.StatusOK, out)
}

var errNoPreset = failure.New(failure.NotFound, "not_found", "no such preset")

// presetCover godoc
//
//	@Summary		A preset's cover
//	@Description	A 360×640 PNG in the preset's style.
//	@Tags			mini-program
//	@Produce		png,json
//	@Param			preset	path		string		true	"Preset id"
//	@Success		200		{file}		binary		"PNG"
//	@Failure		404		{object}	ErrorBody	"not_found"
//	@Failure		400		{object}	ErrorBody	"invalid_request: the query string is malformed"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Router			/api/v1/presets/{preset}/cover [get]
func (s *Server) presetCover(c *gin.Context) {
	data, ok, err := s.deps.Covers.Cover(c.Request.Context(), c.Param("preset"))
	if err != nil {
		writeError(c, err)
		return
	}
	if !ok {
		writeError(c, errNoPreset)
		return
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, "image/png", data)
}

// wxacode godoc
//
//	@Summary		The wallpaper's mini-program code
//	@Description	An image of the mini-program code that opens this wallpaper's detail page (`pages/detail/detail`, scene: the id without dashes), for posters: the JPEG WeChat's wxacode.getUnlimited returns, unchanged; without WeChat (dev) a PNG QR code of `pages/detail/detail?id=<id>`. Made once and kept. Only for a wallpaper anyone may see; any other is 404.
//	@Tags			mini-program
//	@Produce		jpeg,png,json
//	@Param			id	path		string		true	"Wallpaper id"	format(uuid)
//	@Success		200	{file}		binary		"image/jpeg (WeChat) or image/png (dev)"
//	@Failure		400	{object}	ErrorBody	"invalid_request: not a wallpaper id"
//	@Failure		404	{object}	ErrorBody	"not_found"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		502	{object}	ErrorBody	"upstream_error: WeChat did not answer"
//	@Failure		503	{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/wallpapers/{id}/wxacode [get]
func (s *Server) wxacode(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	// The one visibility rule: the detail as an anonymous caller sees it.
	if _, err := s.deps.Gallery.Wallpaper(c.Request.Context(), nil, id); err != nil {
		writeError(c, err)
		return
	}
	data, ct, err := s.deps.Codes.Code(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, ct, data)
}
