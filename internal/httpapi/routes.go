package httpapi

import "github.com/gin-gonic/gin"

// apiRoutes registers the /api/v1 endpoints (documented in docs/swagger.json).
func (s *Server) apiRoutes(api *gin.RouterGroup) {
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
