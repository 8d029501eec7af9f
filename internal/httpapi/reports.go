package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// ReportRequest is the body of POST /wallpapers/{id}/reports.
type ReportRequest struct {
	Reason string `json:"reason" binding:"required" enums:"porn,politics,violence,abuse,copyright,other" example:"porn"`
	// Detail is what the reporter adds: at most 200 characters after
	// trimming.
	Detail string `json:"detail,omitempty" maxLength:"200" example:"含有裸露内容"`
}

// Report is a report the caller filed.
type Report struct {
	ID        string    `json:"id" binding:"required" format:"uuid" example:"3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9"`
	Reason    string    `json:"reason" binding:"required" enums:"porn,politics,violence,abuse,copyright,other" example:"porn"`
	Detail    string    `json:"detail" binding:"required" example:"含有裸露内容"`
	CreatedAt time.Time `json:"created_at" binding:"required" format:"date-time" example:"2026-11-23T08:00:00Z"`
}

func (s *Server) reportRoutes(api *gin.RouterGroup) {
	if s.deps.Reports == nil {
		return
	}
	api.POST("/wallpapers/:id/reports", s.requireUser,
		perUserEvery("reports", s.cfg.ReportRatePerHour, time.Hour, time.Now), s.fileReport)
}

// fileReport godoc
//
//	@Summary		Report a wallpaper
//	@Description	Reports a wallpaper the caller can see to the operator, with a reason and an optional detail (at most 200 characters). One report per user and wallpaper: the same user again gets `200` with the first report. Reporting one's own wallpaper is `400`; a wallpaper the caller cannot see is `404`. When REPORT_HOLD_THRESHOLD different users (3 by default) have reported a wallpaper since an admin last decided on it, it is held out of every public view until an admin decides. Rate limited per account (REPORT_RATE_PER_HOUR). The operator answers within REPORT_RESPONSE_HOURS (docs/compliance.md).
//	@Tags			gallery
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			id		path		string			true	"Wallpaper id"	format(uuid)
//	@Param			body	body		ReportRequest	true	"Why"
//	@Success		200		{object}	Report			"reported before: the first report"
//	@Success		202		{object}	Report			"reported"
//	@Failure		400		{object}	ErrorBody		"invalid_request: bad reason or detail, or the caller's own wallpaper"
//	@Failure		401		{object}	ErrorBody		"unauthorized"
//	@Failure		403		{object}	ErrorBody		"banned"
//	@Failure		404		{object}	ErrorBody		"not_found"
//	@Failure		405		{object}	ErrorBody		"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413		{object}	ErrorBody		"payload_too_large"
//	@Failure		415		{object}	ErrorBody		"unsupported_media_type"
//	@Failure		429		{object}	ErrorBody		"rate_limited (see Retry-After)"
//	@Failure		503		{object}	ErrorBody		"unavailable"
//	@Header			429		{integer}	Retry-After		"seconds to wait"
//	@Router			/api/v1/wallpapers/{id}/reports [post]
func (s *Server) fileReport(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req ReportRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	uid, _ := callerID(c)
	r, created, err := s.deps.Reports.File(c.Request.Context(), uid, id, req.Reason, req.Detail)
	if err != nil {
		writeError(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	c.JSON(status, reportJSON(r))
}

func reportJSON(r wallpaper.Report) Report {
	return Report{ID: r.ID.String(), Reason: r.Reason, Detail: r.Detail, CreatedAt: r.CreatedAt.UTC()}
}
