package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// apiRoutes registers the /api/v1 endpoints (documented in docs/swagger.json).
func (s *Server) apiRoutes(api *gin.RouterGroup) {
	api.Use(callersOwn)
	s.authRoutes(api)
	s.profileRoutes(api)
	s.generationRoutes(api)
	s.galleryRoutes(api)
	s.miniProgramRoutes(api)
	s.wechatRoutes(api)
	s.reportRoutes(api)
	s.accountRoutes(api)
	s.adminRoutes(api)
}

// callersOwn keeps answers that depend on the caller out of shared
// caches: the token endpoints' answers are never stored, and an answer to
// a request with a token is the caller's alone, revalidated each time,
// varying with Authorization. A handler that knows better (feed pages and
// details, which carry an ETag) sets its own Cache-Control.
func callersOwn(c *gin.Context) {
	h := c.Writer.Header()
	switch {
	case strings.HasPrefix(c.Request.URL.Path, "/api/v1/auth/"):
		h["Cache-Control"] = noStoreCacheControl
	case c.Request.Header.Get("Authorization") != "":
		h["Cache-Control"] = privateCacheControl
		h["Vary"] = append(h["Vary"], "Authorization")
	}
	c.Next()
}
