package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// The console is the operator's web page at /admin/: server-rendered
// HTML forms (no script of ours), in Chinese, embedded in the binary. An
// admin signs in with the admin token once; the console then holds an
// HttpOnly, SameSite=Strict session cookie scoped to /admin, which the
// console's forms and River UI (/admin/river/) use and nothing else
// accepts. Every form that changes something carries a CSRF token bound
// to the session, and every unsafe request must come from the console's
// own origin (Sec-Fetch-Site, else Origin). River UI, which cannot send
// the token, may make only the changes riverGuard lets through, and each
// is written to the audit log (river.go).

//go:embed console/*.html
var consoleFiles embed.FS

// consoleCookie names the session cookie.
const consoleCookie = "wallpaperd_admin"

const ctxSession = "admin_session"

var consoleReasons = map[string]string{
	wallpaper.ReasonPorn: "色情低俗", wallpaper.ReasonPolitics: "政治敏感", wallpaper.ReasonViolence: "暴力血腥",
	wallpaper.ReasonAbuse: "辱骂攻击", wallpaper.ReasonCopyright: "侵犯版权", wallpaper.ReasonOther: "其他问题",
}

var consoleReviews = map[string]string{
	wallpaper.ReviewUnchecked: "未检测（私有）", wallpaper.ReviewPending: "等待图片检测",
	wallpaper.ReviewApproved: "已通过", wallpaper.ReviewHeld: "待人工审核",
}

var consoleActions = map[string]string{
	admin.ActionApprove: "通过壁纸", admin.ActionHide: "隐藏壁纸", admin.ActionReject: "删除壁纸",
	admin.ActionBan: "封禁用户", admin.ActionUnban: "解封用户",
	admin.ActionAdminAdd: "添加管理员", admin.ActionAdminRevoke: "撤销管理员",
	admin.ActionJobCancel: "取消任务", admin.ActionJobDelete: "删除任务", admin.ActionJobRetry: "重试任务",
	admin.ActionQueuePause: "暂停队列", admin.ActionQueueResume: "恢复队列", admin.ActionQueueUpdate: "修改队列",
}

var consoleSuggests = map[string]string{
	wallpaper.SuggestPass: "通过", wallpaper.SuggestReview: "需人工审核", wallpaper.SuggestRisky: "违规",
}

// beijing is the console's clock: the operators are in mainland China.
var beijing = time.FixedZone("CST", 8*60*60)

func newConsoleTemplates() (*template.Template, error) {
	lookup := func(m map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := m[k]; ok {
				return v
			}
			return k
		}
	}
	return template.New("console").Funcs(template.FuncMap{
		"reason":  lookup(consoleReasons),
		"review":  lookup(consoleReviews),
		"action":  lookup(consoleActions),
		"suggest": lookup(consoleSuggests),
		"when":    func(t time.Time) string { return t.In(beijing).Format("2006-01-02 15:04:05") },
	}).ParseFS(consoleFiles, "console/*.html")
}

// consolePage is what every console template gets.
type consolePage struct {
	Title string
	Admin string // "" when signed out
	CSRF  string
	River bool
	Data  any
}

func (s *Server) consoleRoutes(r *gin.Engine) {
	if s.deps.Admins == nil {
		return
	}
	g := r.Group("/admin", sameOrigin)
	pages := g.Group("", consoleHeaders)
	pages.GET("/", s.consoleHome)
	pages.POST("/login", s.consoleSignIn)
	in := pages.Group("", s.requireConsole)
	in.POST("/logout", s.consoleCSRF, s.consoleSignOut)
	in.GET("/users", s.consoleUsers)
	in.GET("/users/:id", s.consoleUser)
	in.POST("/users/:id/ban", s.consoleCSRF, s.consoleBan)
	in.POST("/users/:id/unban", s.consoleCSRF, s.consoleUnban)
	in.POST("/wallpapers/:id/decision", s.consoleCSRF, s.consoleDecide)
	in.GET("/audit", s.consoleAudit)
	if s.deps.RiverUI != nil {
		g.Any("/river/*path", s.requireConsole, s.riverGuard, gin.WrapH(s.deps.RiverUI))
	}
}

// consoleHeaders: the pages run no script, load images from the object
// store, and are never cached or framed.
func consoleHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

var errCrossSite = failure.New(failure.Forbidden, "forbidden", "a change to the console must come from the console's own pages")

// sameOrigin refuses an unsafe request that a browser says comes from
// another site: Sec-Fetch-Site when the browser sends it, else an Origin
// that is not ours. SameSite=Strict already keeps the cookie off such
// requests; this also covers the sign-in form, which has no session yet.
func sameOrigin(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	if site := c.GetHeader("Sec-Fetch-Site"); site != "" {
		if site != "same-origin" {
			writeError(c, errCrossSite)
			return
		}
	} else if o := c.GetHeader("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != c.Request.Host {
			writeError(c, errCrossSite)
			return
		}
	}
	c.Next()
}

// csrfToken binds a form to the session it was rendered for.
func (s *Server) csrfToken(session string) string {
	m := hmac.New(sha256.New, s.cfg.CSRFKey)
	m.Write([]byte(session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requireConsole lets through requests with a live console session; River
// UI's calls without one get 401, the pages are sent to the sign-in page.
func (s *Server) requireConsole(c *gin.Context) {
	session, err := c.Cookie(consoleCookie)
	var a admin.Admin
	if err == nil {
		a, err = s.deps.Admins.Session(c.Request.Context(), session)
	}
	if err != nil {
		if fe := failure.From(err); fe != nil && fe.Kind == failure.Unavailable {
			s.consoleError(c, err)
			return
		}
		if strings.HasPrefix(c.Request.URL.Path, "/admin/river/") {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Redirect(http.StatusSeeOther, "/admin/")
		c.Abort()
		return
	}
	c.Set(ctxAdmin, a)
	c.Set(ctxSession, session)
	c.Next()
}

var errCSRF = failure.New(failure.Forbidden, "forbidden", "the form is stale or not the console's own: reload the page and try again")

// consoleCSRF checks the form's CSRF token against the session.
func (s *Server) consoleCSRF(c *gin.Context) {
	want := s.csrfToken(c.GetString(ctxSession))
	if subtle.ConstantTimeCompare([]byte(c.PostForm("csrf")), []byte(want)) != 1 {
		s.consoleError(c, errCSRF)
		return
	}
	c.Next()
}

func (s *Server) page(c *gin.Context, status int, name, title string, data any) {
	p := consolePage{Title: title, Data: data, River: s.deps.RiverUI != nil}
	if a := callerAdmin(c); a.ID != uuid.Nil {
		p.Admin = a.Name
		p.CSRF = s.csrfToken(c.GetString(ctxSession))
	}
	var buf bytes.Buffer
	if err := s.console.ExecuteTemplate(&buf, name, p); err != nil {
		logger(c).ErrorContext(c.Request.Context(), "rendering the console", "page", name, "err", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

var consoleErrorTitles = map[failure.Kind]string{
	failure.Invalid:     "输入有误",
	failure.Forbidden:   "不允许的操作",
	failure.NotFound:    "不存在（可能已被删除）",
	failure.Conflict:    "状态已变化，请刷新后再试",
	failure.Unavailable: "服务暂时不可用，请稍后再试",
}

// consoleError answers an error as a page; details of an internal one
// stay in the log.
func (s *Server) consoleError(c *gin.Context, err error) {
	fe := failure.From(err)
	if fe == nil || fe.Kind == failure.Internal {
		logger(c).ErrorContext(c.Request.Context(), "internal error", "err", err, "request_id", requestID(c), "route", c.FullPath())
		s.page(c, http.StatusInternalServerError, "error", "出错了", "请求编号 "+requestID(c))
		c.Abort()
		return
	}
	title := consoleErrorTitles[fe.Kind]
	if title == "" {
		title = "操作失败"
	}
	s.page(c, statusOf[fe.Kind], "error", title, fe.Message)
	c.Abort()
}

func (s *Server) consoleHome(c *gin.Context) {
	session, err := c.Cookie(consoleCookie)
	if err == nil {
		var a admin.Admin
		if a, err = s.deps.Admins.Session(c.Request.Context(), session); err == nil {
			c.Set(ctxAdmin, a)
			c.Set(ctxSession, session)
			s.consoleQueue(c)
			return
		}
	}
	s.page(c, http.StatusOK, "signin", "登录", "")
}

func (s *Server) consoleSignIn(c *gin.Context) {
	a, session, expires, err := s.deps.Admins.SignIn(c.Request.Context(), strings.TrimSpace(c.PostForm("token")))
	if errors.Is(err, admin.ErrUnauthenticated) {
		s.page(c, http.StatusUnauthorized, "signin", "登录", "令牌无效或已被撤销。")
		return
	}
	if err != nil {
		s.consoleError(c, err)
		return
	}
	logger(c).InfoContext(c.Request.Context(), "admin signed in to the console", "admin", a.Name)
	s.setSessionCookie(c, session, time.Until(expires))
	c.Redirect(http.StatusSeeOther, "/admin/")
}

func (s *Server) setSessionCookie(c *gin.Context, value string, maxAge time.Duration) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: consoleCookie, Value: value, Path: "/admin", MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: s.isHTTPS(c), SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) consoleSignOut(c *gin.Context) {
	if err := s.deps.Admins.SignOut(c.Request.Context(), c.GetString(ctxSession)); err != nil {
		s.consoleError(c, err)
		return
	}
	s.setSessionCookie(c, "", -time.Second)
	c.Redirect(http.StatusSeeOther, "/admin/")
}

func (s *Server) consoleQueue(c *gin.Context) {
	items, err := s.deps.Governance.Queue(c.Request.Context(), admin.MaxList)
	if err != nil {
		s.consoleError(c, err)
		return
	}
	out := make([]QueueItem, 0, len(items))
	for i := range items {
		out = append(out, s.queueItemJSON(c, &items[i]))
	}
	s.page(c, http.StatusOK, "queue", "审核队列", out)
}

func (s *Server) consoleDecide(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		s.consoleError(c, errBadID)
		return
	}
	if _, err := s.deps.Governance.Decide(c.Request.Context(), callerAdmin(c), id, c.PostForm("decision"), c.PostForm("note")); err != nil {
		s.consoleError(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/")
}

func (s *Server) consoleUsers(c *gin.Context) {
	q := strings.TrimSpace(c.Query("q"))
	data := struct {
		Query string
		Users []AdminUser
	}{Query: q}
	if q != "" {
		accs, err := s.deps.Governance.FindUsers(c.Request.Context(), q, admin.MaxList)
		if err != nil {
			s.consoleError(c, err)
			return
		}
		for _, a := range accs {
			data.Users = append(data.Users, s.adminUserJSON(c, a))
		}
	}
	s.page(c, http.StatusOK, "users", "用户", data)
}

func (s *Server) consoleUser(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		s.consoleError(c, errBadID)
		return
	}
	d, err := s.deps.Governance.User(c.Request.Context(), id, admin.MaxList)
	if err != nil {
		s.consoleError(c, err)
		return
	}
	s.page(c, http.StatusOK, "user", "用户", s.adminUserDetailJSON(c, d))
}

func (s *Server) consoleBan(c *gin.Context) {
	s.consoleUserChange(c, func(id uuid.UUID) error {
		_, err := s.deps.Governance.Ban(c.Request.Context(), callerAdmin(c), id, c.PostForm("reason"))
		return err
	})
}

func (s *Server) consoleUnban(c *gin.Context) {
	s.consoleUserChange(c, func(id uuid.UUID) error {
		_, err := s.deps.Governance.Unban(c.Request.Context(), callerAdmin(c), id, c.PostForm("note"))
		return err
	})
}

func (s *Server) consoleUserChange(c *gin.Context, change func(uuid.UUID) error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		s.consoleError(c, errBadID)
		return
	}
	if err := change(id); err != nil {
		s.consoleError(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/users/"+id.String())
}

func (s *Server) consoleAudit(c *gin.Context) {
	before := int64(0)
	if raw := c.Query("cursor"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			s.consoleError(c, errBadAuditCursor)
			return
		}
		before = n
	}
	const pageSize = admin.MaxList
	entries, err := s.deps.Governance.Audit(c.Request.Context(), before, pageSize)
	if err != nil {
		s.consoleError(c, err)
		return
	}
	data := struct {
		Entries []admin.Entry
		Next    int64
	}{Entries: entries}
	if len(entries) == pageSize {
		data.Next = entries[len(entries)-1].ID
	}
	s.page(c, http.StatusOK, "audit", "审计日志", data)
}
