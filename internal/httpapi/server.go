// Package httpapi is wallpaperd's HTTP face: the Gin router, middleware,
// handlers, request and response types, the error mapping and the swag
// annotations that document them.
package httpapi

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/feedcache"
	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
)

// Config shapes the router.
type Config struct {
	Prod               bool
	MaxBodyBytes       int64
	CORSAllowedOrigins []string       // empty: any origin, without credentials
	TrustedProxies     []netip.Prefix // peers whose X-Forwarded-* headers are believed
	Swagger            bool
	// LoginRatePerMinute bounds POST /auth/login per client IP.
	LoginRatePerMinute int
	// UserRates bound each user's costly calls.
	UserRates UserRates
	// Metrics, when set, is served at /metrics on this router.
	Metrics http.Handler
	// Observe, when set, runs around every request (the metrics
	// middleware); it sees the matched route and the final status.
	Observe gin.HandlerFunc
	// PrivateURLTTL is how long a signed URL of a private object is valid
	// (an hour when zero).
	PrivateURLTTL time.Duration
	// Client is GET /api/v1/client-config's deployment part.
	Client ClientConfig
	// ReportRatePerHour bounds POST /wallpapers/{id}/reports per user.
	ReportRatePerHour int
	// CSRFKey binds the console's forms to their session.
	CSRFKey []byte
}

// Deps are the services the handlers call.
type Deps struct {
	Logger *slog.Logger
	// Ready reports whether the service can serve: database reachable and
	// migrations applied. Its error text is shown to the caller.
	Ready func(context.Context) error
	// Media serves locally stored objects at /media/; nil with S3.
	Media http.Handler
	// Auth authenticates callers and runs login, refresh and logout.
	Auth *auth.Service
	// Users serves the caller's profile.
	Users *user.Service
	// Quota reports a user's daily quota for GET /me.
	Quota QuotaReader
	// Generations accepts prompts and reports on them.
	Generations *wallpaper.Service
	// Gallery is the feed, collections, likes, visibility and deletion.
	Gallery *wallpaper.Gallery
	// Feed keeps the public feed's pages for FEED_CACHE_TTL; nil: off.
	Feed *feedcache.Cache
	// Objects turns storage keys into URLs clients can GET.
	Objects interface {
		URL(key string) string
		SignedURL(key string, ttl time.Duration) string
	}
	// WeChatPush verifies WeChat's message pushes; nil: message push is
	// not configured and /api/v1/wechat/push answers 404.
	WeChatPush *wechat.Push
	// MediaVerdicts takes the wxa_media_check verdicts; nil: they are
	// logged and dropped.
	MediaVerdicts MediaVerdicts
	// Covers paints the presets' covers.
	Covers Covers
	// Codes makes wallpapers' mini-program codes; nil: not served.
	Codes Codes
	// Reports takes users' reports of wallpapers; nil: not served.
	Reports *wallpaper.Reports
	// Accounts deletes accounts (DELETE /me); nil: not served.
	Accounts *user.Accounts
	// Admins authenticates admins; with Governance, the admin API and the
	// console at /admin/. Nil: neither is served.
	Admins     *admin.Admins
	Governance *admin.Governance
	// RiverUI is the job queue's dashboard, served at /admin/river/ behind
	// the console's sign-in; nil: not served.
	RiverUI http.Handler
}

// Server holds the handlers' dependencies.
type Server struct {
	cfg     Config
	deps    Deps
	trusted []netip.Prefix
	console *template.Template
	// relativeURLs says the object store's URLs are paths on our own host
	// (local storage), made absolute on the host each caller reached.
	relativeURLs bool
	// feedCacheControl is the Cache-Control of anonymous feed pages.
	feedCacheControl []string
}

// New builds the API handler: the router with every route and middleware,
// behind the method override the mini-program needs.
func New(cfg Config, deps Deps) (http.Handler, error) {
	r, err := newRouter(cfg, deps)
	if err != nil {
		return nil, err
	}
	return methodOverride(r), nil
}

func newRouter(cfg Config, deps Deps) (*gin.Engine, error) {
	// Release mode always: our own access log replaces Gin's debug output.
	gin.SetMode(gin.ReleaseMode)
	if cfg.PrivateURLTTL <= 0 {
		cfg.PrivateURLTTL = time.Hour
	}
	console, err := newConsoleTemplates()
	if err != nil {
		return nil, err
	}
	if len(cfg.CSRFKey) == 0 && deps.Admins != nil {
		return nil, errors.New("httpapi: the console needs a CSRF key")
	}
	s := &Server{cfg: cfg, deps: deps, trusted: cfg.TrustedProxies, console: console,
		relativeURLs:     deps.Objects != nil && strings.HasPrefix(deps.Objects.URL("probe"), "/"),
		feedCacheControl: publicCacheControl(deps.Feed.TTL())}
	ginTrusted := make([]string, 0, len(cfg.TrustedProxies))
	for _, p := range cfg.TrustedProxies {
		ginTrusted = append(ginTrusted, p.Masked().String())
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Only peers in TrustedProxies may set the client address; an empty
	// list trusts nobody (gin.New alone would trust everyone).
	if err := r.SetTrustedProxies(ginTrusted); err != nil {
		return nil, err
	}
	r.RemoteIPHeaders = []string{"X-Forwarded-For", "X-Real-IP"}

	if cfg.Observe != nil {
		// Outside recovery, so a panic is counted as the 500 it becomes.
		r.Use(cfg.Observe)
	}
	r.Use(withLogger(deps.Logger), requestIDMiddleware, recovery(deps.Logger), accessLog(deps.Logger),
		securityHeaders(s.isHTTPS), corsMiddleware(cfg.CORSAllowedOrigins), bodyLimit(cfg.MaxBodyBytes), strictQuery)
	r.NoRoute(func(c *gin.Context) { writeError(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { writeError(c, errNoMethod) })

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	if cfg.Metrics != nil {
		r.GET("/metrics", gin.WrapH(cfg.Metrics))
	}
	if deps.Media != nil {
		// storage.Local's handler reads the key from the full /media/… path.
		r.GET("/media/*path", mediaHandler(deps.Media))
		r.HEAD("/media/*path", mediaHandler(deps.Media))
	}
	if cfg.Swagger {
		s.swaggerRoutes(r)
	}
	s.apiRoutes(r.Group("/api/v1"))
	s.consoleRoutes(r)
	return r, nil
}

// isHTTPS tells whether the client reached us over TLS, directly or through
// a trusted proxy that says so.
func (s *Server) isHTTPS(c *gin.Context) bool {
	if c.Request.TLS != nil {
		return true
	}
	return s.trustedPeer(c) && strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

// trustedPeer reports whether the connection comes from a trusted proxy.
func (s *Server) trustedPeer(c *gin.Context) bool {
	addr, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		return false
	}
	for _, p := range s.trusted {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

func corsMiddleware(origins []string) gin.HandlerFunc {
	cfg := cors.Config{
		AllowMethods:     []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
		AllowHeaders:     []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "X-HTTP-Method-Override"},
		ExposeHeaders:    []string{"X-Request-ID", "Retry-After"},
		AllowCredentials: false,
		MaxAge:           12 * time.Hour,
	}
	if len(origins) == 0 {
		cfg.AllowAllOrigins = true
	} else {
		cfg.AllowOrigins = origins
	}
	return cors.New(cfg)
}

var (
	errNoRoute = failure.New(failure.NotFound, "not_found", "no such endpoint")
	// errNoMethod is HTTP's own refusal, not the domain's: writeError
	// answers it 405, after the router has set Allow to the methods the
	// path has.
	errNoMethod = failure.New(failure.Invalid, "method_not_allowed", "method not allowed on this endpoint: see the Allow header")
)

var errNoMedia = failure.New(failure.NotFound, "not_found", "no such image")

// mediaHandler serves stored images; the store's plain-text 404 (a bad or
// unknown key, a traversal attempt) becomes the API's JSON error like
// every other error.
func mediaHandler(h http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		w := &mediaErrorWriter{ResponseWriter: c.Writer}
		h.ServeHTTP(w, c.Request)
		if w.notFound {
			writeError(c, errNoMedia)
		}
	}
}

// mediaErrorWriter swallows a 404 and its text body.
type mediaErrorWriter struct {
	http.ResponseWriter
	notFound bool
}

func (w *mediaErrorWriter) WriteHeader(status int) {
	if status == http.StatusNotFound {
		w.notFound = true
		w.Header().Del("Content-Type")
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *mediaErrorWriter) Write(b []byte) (int, error) {
	if w.notFound {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// methodOverride lets a POST carrying `X-HTTP-Method-Override: PATCH` reach
// the PATCH route: wx.request cannot send PATCH. Only that one override is
// honoured, so it cannot turn a request into a DELETE or a GET.
func methodOverride(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.EqualFold(r.Header.Get("X-HTTP-Method-Override"), http.MethodPatch) {
			r.Method = http.MethodPatch
		}
		next.ServeHTTP(w, r)
	})
}
