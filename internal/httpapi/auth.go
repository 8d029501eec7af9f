package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/auth"
)

const ctxUserID = "user_id"

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	// Code is the one-time code from wx.login; in dev without WeChat
	// credentials, dev-NAME logs in as the dev user NAME.
	Code string `json:"code" binding:"required" minLength:"1" maxLength:"128" example:"dev-alice"`
}

// DeleteAccountRequest is the body of POST /auth/delete-account.
type DeleteAccountRequest struct {
	// Code is a fresh one-time code from wx.login, as for login (dev-NAME
	// in dev without WeChat credentials).
	Code string `json:"code" binding:"required" minLength:"1" maxLength:"128" example:"dev-alice"`
}

// RefreshRequest is the body of POST /auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token" binding:"required" minLength:"1" example:"8Xr2m1f0bQ3Wq6yZpVj8kN4sT1uH5eLc9aR7dG2xK0o"`
}

// Session is the answer to a login or a refresh.
type Session struct {
	AccessToken string `json:"access_token" binding:"required" example:"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."`
	TokenType   string `json:"token_type" binding:"required" enums:"Bearer" example:"Bearer"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn    int    `json:"expires_in" binding:"required" example:"7200"`
	RefreshToken string `json:"refresh_token" binding:"required" example:"8Xr2m1f0bQ3Wq6yZpVj8kN4sT1uH5eLc9aR7dG2xK0o"`
	User         User   `json:"user" binding:"required"`
}

func (s *Server) authRoutes(api *gin.RouterGroup) {
	// Login and a banned user's account deletion spend one allowance per
	// client IP: both trade a wx.login code, and together they give no
	// more tries than login alone.
	codes := loginLimit(s.cfg.LoginRatePerMinute, time.Now)
	api.POST("/auth/login", codes, s.login)
	if s.deps.Accounts != nil {
		api.POST("/auth/delete-account", codes, s.deleteBannedAccount)
	}
	api.POST("/auth/refresh", s.refresh)
	api.POST("/auth/logout", s.requireUser, s.logout)
}

// login godoc
//
//	@Summary		Log in with a wx.login code
//	@Description	Exchanges the one-time code from `wx.login` with WeChat (code2Session), creates the user on first login, and starts a session: a short-lived access token (send it as `Authorization: Bearer …`) and a long-lived refresh token. In dev without WeChat credentials, `dev-NAME` logs in as the dev user NAME; prod refuses such codes. Rate limited per client IP.
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		LoginRequest	true	"the wx.login code"
//	@Success		200		{object}	Session
//	@Failure		400		{object}	ErrorBody	"invalid_request: no code, or not JSON"
//	@Failure		401		{object}	ErrorBody	"invalid_code: invalid or already used code"
//	@Failure		403		{object}	ErrorBody	"forbidden: the WeChat account is blocked; banned: the account is banned"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody
//	@Failure		415		{object}	ErrorBody
//	@Failure		429		{object}	ErrorBody	"rate_limited (see Retry-After)"
//	@Failure		500		{object}	ErrorBody
//	@Failure		502		{object}	ErrorBody	"upstream_error: WeChat is unreachable or failing"
//	@Failure		503		{object}	ErrorBody
//	@Header			429		{integer}	Retry-After	"seconds to wait"
//	@Router			/api/v1/auth/login [post]
func (s *Server) login(c *gin.Context) {
	var req LoginRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	sess, err := s.deps.Auth.Login(c.Request.Context(), req.Code)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.sessionJSON(c, sess))
}

// refresh godoc
//
//	@Summary		Rotate the refresh token
//	@Description	Trades a refresh token for a new access token and a new refresh token. The presented refresh token stops working; presenting it again revokes every token of its session (it has leaked), and the user must log in again. The one exception is a retry whose answer was lost: within REFRESH_REUSE_GRACE (10 s) of the rotation, and while the new token it got has not been used, the same token gets another new pair (the unreceived one is revoked). A session ends SESSION_MAX_AGE (90 days) after its login.
//	@Tags			auth
//	@Accept			json
//	@Produce		json
//	@Param			body	body		RefreshRequest	true	"the current refresh token"
//	@Success		200		{object}	Session
//	@Failure		400		{object}	ErrorBody
//	@Failure		401		{object}	ErrorBody	"unauthorized: unknown, expired, rotated or revoked refresh token"
//	@Failure		403		{object}	ErrorBody	"banned: the account is banned"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody
//	@Failure		415		{object}	ErrorBody
//	@Failure		500		{object}	ErrorBody
//	@Failure		503		{object}	ErrorBody
//	@Router			/api/v1/auth/refresh [post]
func (s *Server) refresh(c *gin.Context) {
	var req RefreshRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	sess, err := s.deps.Auth.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.sessionJSON(c, sess))
}

// logout godoc
//
//	@Summary		Log out
//	@Description	Revokes every refresh token of the caller (all devices). Access tokens already issued stay valid until they expire (at most ACCESS_TOKEN_TTL); the client drops its copy.
//	@Tags			auth
//	@Produce		json
//	@Security		BearerAuth
//	@Success		204
//	@Failure		400	{object}	ErrorBody	"invalid_request: a malformed query string"
//	@Failure		401	{object}	ErrorBody
//	@Failure		403	{object}	ErrorBody	"banned: the account is banned"
//	@Failure		405	{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		500	{object}	ErrorBody
//	@Failure		503	{object}	ErrorBody
//	@Router			/api/v1/auth/logout [post]
func (s *Server) logout(c *gin.Context) {
	id, _ := callerID(c)
	if err := s.deps.Auth.Logout(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) sessionJSON(c *gin.Context, sess auth.Session) Session {
	return Session{
		AccessToken:  sess.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    int(sess.ExpiresIn / time.Second),
		RefreshToken: sess.RefreshToken,
		User:         s.userJSON(c, sess.User),
	}
}

// requireUser lets the request through only with a valid access token; it
// records the caller for callerID.
func (s *Server) requireUser(c *gin.Context) {
	token, present := bearerToken(c)
	if !present {
		writeError(c, auth.ErrUnauthenticated)
		return
	}
	s.authenticate(c, token, false)
}

// requireUserDespiteBan is requireUser letting a banned account through:
// for DELETE /me only, since every user may delete their account.
func (s *Server) requireUserDespiteBan(c *gin.Context) {
	token, present := bearerToken(c)
	if !present {
		writeError(c, auth.ErrUnauthenticated)
		return
	}
	s.authenticate(c, token, true)
}

// optionalUser lets anonymous requests through and records the caller of a
// request with a valid access token; a token that is sent but invalid or
// expired is a 401, so that the client refreshes instead of silently
// seeing the anonymous view.
func (s *Server) optionalUser(c *gin.Context) {
	token, present := bearerToken(c)
	if !present {
		c.Next()
		return
	}
	s.authenticate(c, token, false)
}

func (s *Server) authenticate(c *gin.Context, token string, despiteBan bool) {
	if token == "" {
		writeError(c, auth.ErrUnauthenticated.With("the Authorization header must be `Bearer <access token>`", nil))
		return
	}
	if s.deps.Auth == nil { // a router built without auth (some tests) has no users
		writeError(c, auth.ErrUnauthenticated)
		return
	}
	verify := s.deps.Auth.Authenticate
	if despiteBan {
		verify = s.deps.Auth.AuthenticateDespiteBan
	}
	id, err := verify(token)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Set(ctxUserID, id)
	c.Next()
}

// bearerToken returns the token of an `Authorization: Bearer` header;
// present reports whether the header was sent at all (an empty token with
// present set is a malformed header).
func bearerToken(c *gin.Context) (token string, present bool) {
	h := strings.TrimSpace(c.GetHeader("Authorization"))
	if h == "" {
		return "", false
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(rest), true
}

// callerID is the authenticated caller set by requireUser or optionalUser;
// ok is false for an anonymous request.
func callerID(c *gin.Context) (uuid.UUID, bool) {
	v, ok := c.Get(ctxUserID)
	if !ok {
		return uuid.Nil, false
	}
	id, ok := v.(uuid.UUID)
	return id, ok
}
