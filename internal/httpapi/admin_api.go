package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// AdminWallpaper is a wallpaper as an admin sees it: every state, signed
// URLs for private objects.
type AdminWallpaper struct {
	ID           string  `json:"id" binding:"required" format:"uuid" example:"7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"`
	GenerationID *string `json:"generation_id,omitempty" format:"uuid" example:"5b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e"`
	Prompt       string  `json:"prompt" binding:"required" example:"a quiet lake at dawn, mist, pastel colours"`
	Size         string  `json:"size" binding:"required" enums:"1024x1792,1792x1024,1024x1024" example:"1024x1792"`
	Provider     string  `json:"provider" binding:"required" example:"ark"`
	Model        string  `json:"model" binding:"required" example:"doubao-seedream-4-5-251128"`
	ImageURL     string  `json:"image_url" binding:"required" example:"https://api.example.com/media/private/w/7d3c1b2a/image.jpg?exp=…&sig=…"`
	ThumbnailURL string  `json:"thumbnail_url" binding:"required" example:"https://api.example.com/media/private/w/7d3c1b2a/thumb.jpg?exp=…&sig=…"`
	Public       bool    `json:"public" binding:"required" example:"true"`
	Review       string  `json:"review" binding:"required" enums:"unchecked,pending,approved,held" example:"held"`
	AuthorBanned bool    `json:"author_banned" binding:"required" example:"false"`
	// Visible says whether others see it now (public, approved, author not
	// banned, objects published).
	Visible    bool       `json:"visible" binding:"required" example:"false"`
	LikeCount  int        `json:"like_count" binding:"required" example:"3"`
	Author     Author     `json:"author" binding:"required"`
	CreatedAt  time.Time  `json:"created_at" binding:"required" format:"date-time" example:"2026-11-23T08:00:00Z"`
	ApprovedAt *time.Time `json:"approved_at,omitempty" format:"date-time" example:"2026-11-23T08:00:30Z"`
	DecidedAt  *time.Time `json:"decided_at,omitempty" format:"date-time" example:"2026-11-23T09:00:00Z"`
}

// AdminReport is a report as an admin sees it.
type AdminReport struct {
	ID          string `json:"id" binding:"required" format:"uuid" example:"3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9"`
	WallpaperID string `json:"wallpaper_id" binding:"required" format:"uuid" example:"7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"`
	// ReporterID is absent once the reporter deleted the account.
	ReporterID string    `json:"reporter_id,omitempty" format:"uuid" example:"0b8f6a1e-8c1d-4a57-9d1e-6f2a3b4c5d6e"`
	Reason     string    `json:"reason" binding:"required" enums:"porn,politics,violence,abuse,copyright,other" example:"porn"`
	Detail     string    `json:"detail" binding:"required" example:"含有裸露内容"`
	CreatedAt  time.Time `json:"created_at" binding:"required" format:"date-time" example:"2026-11-23T08:00:00Z"`
}

// ModerationCheck is the latest image check of a wallpaper.
type ModerationCheck struct {
	TraceID string `json:"trace_id" binding:"required" example:"6693b1b1-04cbe4c2-4d3c2fd8"`
	// Suggest is pass, review or risky; absent while WeChat has not
	// answered.
	Suggest    string     `json:"suggest,omitempty" enums:"pass,review,risky" example:"review"`
	Label      string     `json:"label" binding:"required" example:"20002"`
	AskedAt    time.Time  `json:"asked_at" binding:"required" format:"date-time" example:"2026-11-23T08:00:10Z"`
	AnsweredAt *time.Time `json:"answered_at,omitempty" format:"date-time" example:"2026-11-23T08:01:10Z"`
}

// QueueItem is a wallpaper waiting for an admin.
type QueueItem struct {
	Wallpaper AdminWallpaper `json:"wallpaper" binding:"required"`
	// OpenReports counts the reports since the last admin decision.
	OpenReports int           `json:"open_reports" binding:"required" example:"3"`
	Reports     []AdminReport `json:"reports" binding:"required"`
	// Check is the latest image check; absent when none was asked.
	Check *ModerationCheck `json:"check,omitempty"`
}

// ReviewQueue is the review queue: held, pending and reported wallpapers,
// most reported first.
type ReviewQueue struct {
	Items []QueueItem `json:"items" binding:"required"`
}

// DecisionRequest is an admin's decision on a wallpaper.
type DecisionRequest struct {
	Decision string `json:"decision" binding:"required" enums:"approve,hide,reject" example:"approve"`
	// Note is kept in the audit log (at most 500 characters).
	Note string `json:"note,omitempty" maxLength:"500" example:"举报不成立"`
}

// DecisionResult is what a decision did.
type DecisionResult struct {
	WallpaperID string `json:"wallpaper_id" binding:"required" format:"uuid" example:"7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"`
	Decision    string `json:"decision" binding:"required" enums:"approve,hide,reject" example:"approve"`
	// Wallpaper is the wallpaper after the decision; absent when rejected
	// (removed).
	Wallpaper *AdminWallpaper `json:"wallpaper,omitempty"`
}

// AdminBan is a user's ban.
type AdminBan struct {
	Reason string    `json:"reason" binding:"required" example:"多次发布违规内容"`
	By     string    `json:"by" binding:"required" example:"me"`
	At     time.Time `json:"at" binding:"required" format:"date-time" example:"2026-11-23T10:00:00Z"`
}

// AdminUser is a user as an admin sees them.
type AdminUser struct {
	ID        string    `json:"id" binding:"required" format:"uuid" example:"0b8f6a1e-8c1d-4a57-9d1e-6f2a3b4c5d6e"`
	Nickname  string    `json:"nickname" binding:"required" example:"Alice"`
	AvatarURL string    `json:"avatar_url" binding:"required" example:"https://api.example.com/media/avatars/0b8f6a1e/5f1c.jpg"`
	CreatedAt time.Time `json:"created_at" binding:"required" format:"date-time" example:"2026-11-23T08:00:00Z"`
	Banned    bool      `json:"banned" binding:"required" example:"false"`
	// Ban is present while the user is banned.
	Ban *AdminBan `json:"ban,omitempty"`
}

// AdminUserList is the users a search found.
type AdminUserList struct {
	Items []AdminUser `json:"items" binding:"required"`
}

// AdminUserDetail is everything about one user.
type AdminUserDetail struct {
	User            AdminUser        `json:"user" binding:"required"`
	Wallpapers      []AdminWallpaper `json:"wallpapers" binding:"required"`
	Generations     []Generation     `json:"generations" binding:"required"`
	ReportsFiled    []AdminReport    `json:"reports_filed" binding:"required"`
	ReportsReceived []AdminReport    `json:"reports_received" binding:"required"`
}

// BanRequest bans a user.
type BanRequest struct {
	// Reason is required (at most 500 characters); it is kept with the ban
	// and in the audit log.
	Reason string `json:"reason" binding:"required" minLength:"1" maxLength:"500" example:"多次发布违规内容"`
}

// UnbanRequest lifts a ban.
type UnbanRequest struct {
	Note string `json:"note,omitempty" maxLength:"500" example:"申诉通过"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID         string    `json:"id" binding:"required" example:"42"`
	At         time.Time `json:"at" binding:"required" format:"date-time" example:"2026-11-23T10:00:00Z"`
	Admin      string    `json:"admin" binding:"required" example:"me"`
	Action     string    `json:"action" binding:"required" enums:"wallpaper.approve,wallpaper.hide,wallpaper.reject,user.ban,user.unban,admin.add,admin.revoke,job.cancel,job.delete,job.retry,queue.pause,queue.resume,queue.update" example:"user.ban"`
	TargetType string    `json:"target_type" binding:"required" enums:"wallpaper,user,admin,job,queue" example:"user"`
	TargetID   string    `json:"target_id" binding:"required" example:"0b8f6a1e-8c1d-4a57-9d1e-6f2a3b4c5d6e"`
	Note       string    `json:"note" binding:"required" example:"多次发布违规内容"`
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Items []AuditEntry `json:"items" binding:"required"`
	// NextCursor fetches the next (older) page; null on the last page.
	NextCursor *string `json:"next_cursor" extensions:"x-nullable" example:"41"`
}

func (s *Server) adminRoutes(api *gin.RouterGroup) {
	if s.deps.Admins == nil {
		return
	}
	a := api.Group("/admin", s.requireAdmin)
	a.GET("/queue", s.adminQueue)
	a.POST("/wallpapers/:id/decision", s.adminDecide)
	a.GET("/users", s.adminFindUsers)
	a.GET("/users/:id", s.adminUser)
	a.POST("/users/:id/ban", s.adminBan)
	a.POST("/users/:id/unban", s.adminUnban)
	a.GET("/audit", s.adminAudit)
}

const ctxAdmin = "admin"

// requireAdmin lets a request through only with a live admin's token in
// `Authorization: Bearer`; a user's access token is not one.
func (s *Server) requireAdmin(c *gin.Context) {
	token, present := bearerToken(c)
	if !present || token == "" {
		writeError(c, admin.ErrUnauthenticated)
		return
	}
	a, err := s.deps.Admins.Authenticate(c.Request.Context(), token)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Set(ctxAdmin, a)
	c.Next()
}

func callerAdmin(c *gin.Context) admin.Admin {
	a, _ := c.Get(ctxAdmin)
	out, _ := a.(admin.Admin)
	return out
}

// adminLimit parses ?limit= for admin lists (default 50, 1..100); on
// failure it has answered 400.
func adminLimit(c *gin.Context) (int, bool) {
	raw, given := c.GetQuery("limit")
	if !given {
		return 50, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > admin.MaxList {
		writeError(c, failure.InvalidRequest("limit must be between 1 and 100"))
		return 0, false
	}
	return n, true
}

// adminQueue godoc
//
//	@Summary		The review queue
//	@Description	Held and pending wallpapers, and every wallpaper with reports no admin has decided on yet, most reported (since the last decision) first, then oldest first, each with its reports and the latest image check. Images are signed URLs.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminAuth
//	@Param			limit	query		int	false	"How many"	minimum(1)	maximum(100)	default(50)
//	@Success		200		{object}	ReviewQueue
//	@Failure		400		{object}	ErrorBody	"invalid_request: bad limit"
//	@Failure		401		{object}	ErrorBody	"unauthorized: no live admin token"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/admin/queue [get]
func (s *Server) adminQueue(c *gin.Context) {
	limit, ok := adminLimit(c)
	if !ok {
		return
	}
	items, err := s.deps.Governance.Queue(c.Request.Context(), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	out := ReviewQueue{Items: make([]QueueItem, 0, len(items))}
	for i := range items {
		out.Items = append(out.Items, s.queueItemJSON(c, &items[i]))
	}
	c.JSON(http.StatusOK, out)
}

// adminDecide godoc
//
//	@Summary		Decide on a wallpaper
//	@Description	`approve` releases a held or pending wallpaper (others see it when it is public and its author is not banned) or dismisses the reports of an approved one (409 for a private wallpaper never checked); `hide` keeps or puts it held, out of every public view; `reject` removes it and its objects, and fails its generation with the quota unit returned only when it was never approved (a wallpaper that was public is removed without a refund). Reports filed before a decision do not hold the wallpaper again. Recorded in the audit log with the note.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminAuth
//	@Param			id		path		string			true	"Wallpaper id"	format(uuid)
//	@Param			body	body		DecisionRequest	true	"The decision"
//	@Success		200		{object}	DecisionResult
//	@Failure		400		{object}	ErrorBody	"invalid_request"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		404		{object}	ErrorBody	"not_found"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		409		{object}	ErrorBody	"conflict: approving a private wallpaper that was never checked"
//	@Failure		413		{object}	ErrorBody	"payload_too_large"
//	@Failure		415		{object}	ErrorBody	"unsupported_media_type"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/admin/wallpapers/{id}/decision [post]
func (s *Server) adminDecide(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req DecisionRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	w, err := s.deps.Governance.Decide(c.Request.Context(), callerAdmin(c), id, req.Decision, req.Note)
	if err != nil {
		writeError(c, err)
		return
	}
	out := DecisionResult{WallpaperID: id.String(), Decision: req.Decision}
	if w != nil {
		aw := s.adminWallpaperJSON(c, w)
		out.Wallpaper = &aw
	}
	c.JSON(http.StatusOK, out)
}

// adminFindUsers godoc
//
//	@Summary		Find users
//	@Description	The user with this id, or the users whose nickname contains q (newest first).
//	@Tags			admin
//	@Produce		json
//	@Security		AdminAuth
//	@Param			q		query		string	true	"A user id or a part of a nickname"	minLength(1)	maxLength(64)
//	@Param			limit	query		int		false	"How many"							minimum(1)		maximum(100)	default(50)
//	@Success		200		{object}	AdminUserList
//	@Failure		400		{object}	ErrorBody	"invalid_request: no q, or a bad limit"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/admin/users [get]
func (s *Server) adminFindUsers(c *gin.Context) {
	limit, ok := adminLimit(c)
	if !ok {
		return
	}
	accs, err := s.deps.Governance.FindUsers(c.Request.Context(), c.Query("q"), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	out := AdminUserList{Items: make([]AdminUser, 0, len(accs))}
	for i := range accs {
		out.Items = append(out.Items, s.adminUserJSON(c, accs[i]))
	}
	c.JSON(http.StatusOK, out)
}

// adminUser godoc
//
//	@Summary		One user
//	@Description	A user's profile and ban, their newest wallpapers (private ones too) and generations, the reports they filed and the reports of their wallpapers.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminAuth
//	@Param			id		path		string	true	"User id"				format(uuid)
//	@Param			limit	query		int		false	"How many of each list"	minimum(1)	maximum(100)	default(50)
//	@Success		200		{object}	AdminUserDetail
//	@Failure		400		{object}	ErrorBody	"invalid_request"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		404		{object}	ErrorBody	"not_found"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/admin/users/{id} [get]
func (s *Server) adminUser(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	limit, ok := adminLimit(c)
	if !ok {
		return
	}
	d, err := s.deps.Governance.User(c.Request.Context(), id, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.adminUserDetailJSON(c, d))
}

// adminBan godoc
//
//	@Summary		Ban a user
//	@Description	The user's login is refused (`403 banned`), their access tokens stop working for everything but deleting the account (at once on the replica that banned, on the others within BAN_SYNC_INTERVAL), their refresh tokens are revoked, their wallpapers leave every public view and their queued and running generations end as `failed` with the code `cancelled`, the quota unit returned. The ban outlives a deletion of the account. Banning a banned user changes nothing. Recorded in the audit log with the reason.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminAuth
//	@Param			id		path		string		true	"User id"	format(uuid)
//	@Param			body	body		BanRequest	true	"Why"
//	@Success		200		{object}	AdminUser
//	@Failure		400		{object}	ErrorBody	"invalid_request: no reason"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		404		{object}	ErrorBody	"not_found"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody	"payload_too_large"
//	@Failure		415		{object}	ErrorBody	"unsupported_media_type"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/admin/users/{id}/ban [post]
func (s *Server) adminBan(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req BanRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	acc, err := s.deps.Governance.Ban(c.Request.Context(), callerAdmin(c), id, req.Reason)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.adminUserJSON(c, acc))
}

// adminUnban godoc
//
//	@Summary		Lift a user's ban
//	@Description	The user can log in again, and their wallpapers are as visible as their own state says: exactly what the ban hid comes back (a wallpaper held or made private meanwhile stays so). Recorded in the audit log with the note.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminAuth
//	@Param			id		path		string			true	"User id"	format(uuid)
//	@Param			body	body		UnbanRequest	true	"A note"
//	@Success		200		{object}	AdminUser
//	@Failure		400		{object}	ErrorBody	"invalid_request"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		404		{object}	ErrorBody	"not_found"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		409		{object}	ErrorBody	"conflict: the user is not banned"
//	@Failure		413		{object}	ErrorBody	"payload_too_large"
//	@Failure		415		{object}	ErrorBody	"unsupported_media_type"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/admin/users/{id}/unban [post]
func (s *Server) adminUnban(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req UnbanRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	acc, err := s.deps.Governance.Unban(c.Request.Context(), callerAdmin(c), id, req.Note)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.adminUserJSON(c, acc))
}

var errBadAuditCursor = failure.InvalidRequest("cursor is not one this API gave out")

// adminAudit godoc
//
//	@Summary		The audit log
//	@Description	Every admin action (decisions, bans, unbans, admins added and revoked on the command line, and jobs cancelled, deleted or retried and queues paused, resumed or changed in the console's River UI: one entry per job id or queue name, the queue's new settings as the note), newest first: who, when, what, on what, and the note. Nothing in the API changes it.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminAuth
//	@Param			limit	query		int		false	"Page size"	minimum(1)	maximum(100)	default(50)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	AuditPage
//	@Failure		400		{object}	ErrorBody	"invalid_request: bad limit or cursor"
//	@Failure		401		{object}	ErrorBody	"unauthorized"
//	@Failure		405		{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		503		{object}	ErrorBody	"unavailable"
//	@Router			/api/v1/admin/audit [get]
func (s *Server) adminAudit(c *gin.Context) {
	limit, ok := adminLimit(c)
	if !ok {
		return
	}
	before, ok := auditCursor(c)
	if !ok {
		return
	}
	entries, err := s.deps.Governance.Audit(c.Request.Context(), before, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	out := AuditPage{Items: make([]AuditEntry, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, auditJSON(e))
	}
	if len(entries) == limit {
		next := strconv.FormatInt(entries[len(entries)-1].ID, 10)
		out.NextCursor = &next
	}
	c.JSON(http.StatusOK, out)
}

// auditCursor parses ?cursor= (an entry id); on failure it has answered
// 400.
func auditCursor(c *gin.Context) (int64, bool) {
	raw := c.Query("cursor")
	if raw == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		writeError(c, errBadAuditCursor)
		return 0, false
	}
	return n, true
}

func (s *Server) adminWallpaperJSON(c *gin.Context, w *wallpaper.Wallpaper) AdminWallpaper {
	out := AdminWallpaper{
		ID: w.ID.String(), Prompt: w.Prompt, Size: w.Size, Provider: w.Provider, Model: w.Model,
		ImageURL:     s.absoluteURL(c, s.objectURL(w.ImageKey)),
		ThumbnailURL: s.absoluteURL(c, s.objectURL(w.ThumbnailKey)),
		Public:       w.Public, Review: w.Review, AuthorBanned: w.AuthorBanned, Visible: w.Visible,
		LikeCount: w.LikeCount, Author: Author{ID: w.Author.ID.String(), Nickname: w.Author.Nickname},
		CreatedAt: w.CreatedAt.UTC(), ApprovedAt: utcPtr(w.ApprovedAt), DecidedAt: utcPtr(w.DecidedAt),
	}
	if w.GenerationID != nil {
		g := w.GenerationID.String()
		out.GenerationID = &g
	}
	if w.Author.AvatarKey != "" {
		out.Author.AvatarURL = s.absoluteURL(c, s.deps.Objects.URL(w.Author.AvatarKey))
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func adminReportJSON(r wallpaper.Report) AdminReport {
	out := AdminReport{ID: r.ID.String(), WallpaperID: r.WallpaperID.String(), Reason: r.Reason, Detail: r.Detail,
		CreatedAt: r.CreatedAt.UTC()}
	if r.ReporterID != uuid.Nil {
		out.ReporterID = r.ReporterID.String()
	}
	return out
}

func adminReportsJSON(rs []wallpaper.Report) []AdminReport {
	out := make([]AdminReport, 0, len(rs))
	for _, r := range rs {
		out = append(out, adminReportJSON(r))
	}
	return out
}

func (s *Server) queueItemJSON(c *gin.Context, it *admin.QueueItem) QueueItem {
	out := QueueItem{Wallpaper: s.adminWallpaperJSON(c, &it.Wallpaper), OpenReports: it.OpenReports,
		Reports: adminReportsJSON(it.Reports)}
	if ch := it.Check; ch != nil {
		out.Check = &ModerationCheck{TraceID: ch.TraceID, Suggest: ch.Suggest, Label: ch.Label,
			AskedAt: ch.AskedAt.UTC(), AnsweredAt: utcPtr(ch.AnsweredAt)}
	}
	return out
}

func (s *Server) adminUserJSON(c *gin.Context, a admin.Account) AdminUser {
	out := AdminUser{ID: a.User.ID.String(), Nickname: a.User.Nickname, CreatedAt: a.User.CreatedAt.UTC(),
		Banned: a.Ban != nil}
	if a.User.AvatarKey != "" {
		out.AvatarURL = s.absoluteURL(c, s.deps.Objects.URL(a.User.AvatarKey))
	}
	if b := a.Ban; b != nil {
		out.Ban = &AdminBan{Reason: b.Reason, By: b.AdminName, At: b.At.UTC()}
	}
	return out
}

func (s *Server) adminUserDetailJSON(c *gin.Context, d admin.AccountDetail) AdminUserDetail {
	out := AdminUserDetail{
		User:            s.adminUserJSON(c, d.Account),
		Wallpapers:      make([]AdminWallpaper, 0, len(d.Wallpapers)),
		Generations:     make([]Generation, 0, len(d.Generations)),
		ReportsFiled:    adminReportsJSON(d.ReportsFiled),
		ReportsReceived: adminReportsJSON(d.ReportsReceived),
	}
	for i := range d.Wallpapers {
		out.Wallpapers = append(out.Wallpapers, s.adminWallpaperJSON(c, &d.Wallpapers[i]))
	}
	for i := range d.Generations {
		out.Generations = append(out.Generations, s.generationJSON(c, &d.Generations[i]))
	}
	return out
}

func auditJSON(e admin.Entry) AuditEntry {
	return AuditEntry{ID: strconv.FormatInt(e.ID, 10), At: e.At.UTC(), Admin: e.AdminName, Action: e.Action,
		TargetType: e.TargetType, TargetID: e.TargetID, Note: e.Note}
}
