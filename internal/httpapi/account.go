package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

func (s *Server) accountRoutes(api *gin.RouterGroup) {
	if s.deps.Accounts == nil {
		return
	}
	api.DELETE("/me", s.requireUserDespiteBan, s.deleteMe)
}

// deleteMe godoc
//
//	@Summary		Delete the account (注销)
//	@Description	Deletes the caller's account at once for every purpose of the API: the profile, the avatar, every wallpaper (gone from every view), the caller's likes and all tokens (the access token used here stops working at once; on other replicas within BAN_SYNC_INTERVAL). Queued and running generations end as `failed` with the code `cancelled`. Stored images are removed by background jobs right after, finished by whichever replica runs next if this one stops. Kept, only for compliance and the retention period: the generation records (prompt, options, outcome) and image checks with the user replaced by an opaque id, reports the caller filed (anonymous). The same WeChat user logging in later starts a new, empty account; an active ban and the day's used quota still apply to it (a keyed hash of the openid is kept for that, nothing else). A banned user may delete their account too (the only call a ban leaves them); the ban refuses their next login.
//	@Tags			profile
//	@Produce		json
//	@Security		BearerAuth
//	@Success		204	"Deleted"
//	@Failure		400	{object}	ErrorBody	"invalid_request: the query string is malformed"
//	@Failure		401	{object}	ErrorBody	"unauthorized"
//	@Failure		404	{object}	ErrorBody	"not_found: the account no longer exists"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		500	{object}	ErrorBody
//	@Failure		503	{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/me [delete]
func (s *Server) deleteMe(c *gin.Context) {
	id, _ := callerID(c)
	if err := s.deps.Accounts.Delete(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
