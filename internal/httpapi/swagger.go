package httpapi

import (
	"github.com/gin-gonic/gin"
	swaggerfiles "github.com/swaggo/files"
	ginswagger "github.com/swaggo/gin-swagger"

	// The generated OpenAPI document registers itself with swag.
	_ "github.com/wallpaperd/wallpaperd/docs"
)

func (s *Server) swaggerRoutes(r *gin.Engine) {
	r.GET("/swagger/*any", ginswagger.WrapHandler(swaggerfiles.Handler,
		ginswagger.PersistAuthorization(true),
		ginswagger.DefaultModelsExpandDepth(1)))
}
