package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Status is the body of /healthz and /readyz.
type Status struct {
	Status string `json:"status" example:"ok"`
}

// healthz godoc
//
//	@Summary		Liveness
//	@Description	Answers 200 while the process is alive.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	Status
//	@Failure		400	{object}	ErrorBody	"invalid_request: a malformed query string"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Router			/healthz [get]
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, Status{Status: "ok"})
}

// readyz godoc
//
//	@Summary		Readiness
//	@Description	Answers 200 when the database is reachable and every migration is applied, 503 otherwise.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	Status
//	@Failure		400	{object}	ErrorBody	"invalid_request: a malformed query string"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503	{object}	ErrorBody
//	@Router			/readyz [get]
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	if err := s.deps.Ready(ctx); err != nil {
		writeError(c, failure.ErrUnavailable.With("not ready: "+err.Error(), err))
		return
	}
	c.JSON(http.StatusOK, Status{Status: "ok"})
}
