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
//	@Description	Deletes the caller's account at once for every purpose of the API: the profile, the avatar, every wallpaper (gone from every view), the caller's likes and all tokens (the access token used here stops working at once; on other replicas within BAN_SYNC_INTERVAL). Queued and running generations end as `failed` with the code `cancelled`. Stored images are removed by background jobs right after, finished by whichever replica runs next if this one stops. Kept, only for compliance and the retention period: the generation records (prompt, options, outcome) and image checks with the user replaced by an opaque id, reports the caller filed (anonymous). The same WeChat user logging in later starts a new, empty account; an active ban and the day's used quota still apply to it (a keyed hash of the openid is kept for that, nothing else). A banned user may delete their account too (the only call a ban leaves them); the ban refuses their next login. A banned user whose token is gone deletes the account with a wx.login code instead (POST /api/v1/auth/delete-account).
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

// deleteBannedAccount godoc
//
//	@Summary		Delete a banned account with a wx.login code (注销)
//	@Description	For a banned user, who has no token: a ban revokes the refresh tokens and refuses login, and deleting the account stays every user's right (PIPL Art. 47). The one-time code from `wx.login` is exchanged with WeChat as for login (`dev-NAME` in dev without WeChat credentials); the account of that WeChat user is then deleted exactly as `DELETE /api/v1/me` deletes it (see there for what goes and what is kept). The ban outlives the deletion: the same WeChat user's next login is still `403 banned`. A user who is not banned is refused with `403 not_banned` and nothing changes: they log in and use `DELETE /api/v1/me`. Rate limited per client IP, sharing login's allowance.
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body	DeleteAccountRequest	true	"a fresh wx.login code"
//	@Success		204		"Deleted"
//	@Failure		400		{object}	ErrorBody	"invalid_request: no code, or not JSON"
//	@Failure		401		{object}	ErrorBody	"invalid_code: invalid or already used code"
//	@Failure		403		{object}	ErrorBody	"not_banned: the account is not banned (log in and use DELETE /api/v1/me); forbidden: the WeChat account is blocked"
//	@Failure		404		{object}	ErrorBody	"not_found: this WeChat user has no account"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody
//	@Failure		415		{object}	ErrorBody
//	@Failure		429		{object}	ErrorBody	"rate_limited (see Retry-After)"
//	@Failure		500		{object}	ErrorBody
//	@Failure		502		{object}	ErrorBody	"upstream_error: WeChat is unreachable or failing"
//	@Failure		503		{object}	ErrorBody
//	@Header			429		{integer}	Retry-After	"seconds to wait"
//	@Router			/api/v1/auth/delete-account [post]
func (s *Server) deleteBannedAccount(c *gin.Context) {
	var req DeleteAccountRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	openID, err := s.deps.Auth.Identify(c.Request.Context(), req.Code)
	if err != nil {
		writeError(c, err)
		return
	}
	if err := s.deps.Accounts.DeleteBanned(c.Request.Context(), openID); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
