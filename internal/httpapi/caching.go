package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// HTTP caching of the gallery: every feed page and wallpaper detail has a
// strong entity tag (a hash of its body), so a client or proxy holding it
// revalidates with If-None-Match and gets a bodiless 304. Anonymous feed
// pages may be kept FEED_CACHE_TTL by anyone (nginx, a CDN); an answer
// that depends on the token (liked flags, the owner's review state) only
// by the caller, revalidated each time.

// The header values, made once; each is a one-element slice with no room
// to grow, so a middleware appending to one gets its own copy.
var (
	jsonContentType     = []string{"application/json; charset=utf-8"}
	privateCacheControl = []string{"private, no-cache"}
	// noStoreCacheControl is the token endpoints': nobody keeps a token.
	noStoreCacheControl = []string{"no-store"}
	// detailCacheControl is an anonymous detail's: anyone may keep it,
	// revalidating each time (a wallpaper made private must not linger).
	detailCacheControl = []string{"no-cache"}
)

// publicCacheControl is the Cache-Control of anonymous feed pages: kept
// for ttl by anyone, or revalidated each time with the cache off.
func publicCacheControl(ttl time.Duration) []string {
	if ttl <= 0 {
		return detailCacheControl
	}
	return []string{"public, max-age=" + strconv.Itoa(int(ttl/time.Second))}
}

// etag is body's strong entity tag.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// etagMatches reports whether an If-None-Match header (its values) names
// tag: `*`, or tag among the comma-separated list, weakly compared as
// RFC 9110 asks for If-None-Match.
func etagMatches(header []string, tag string) bool {
	tag = strings.TrimPrefix(tag, "W/")
	for _, h := range header {
		for h != "" {
			var one string
			one, h, _ = strings.Cut(h, ",")
			one = strings.TrimSpace(one)
			if one == "*" || strings.TrimPrefix(one, "W/") == tag {
				return true
			}
		}
	}
	return false
}

// writeCacheable answers body (JSON) with its entity tag, cacheControl
// and Vary: Authorization, or 304 when the request's If-None-Match names
// it.
func writeCacheable(c *gin.Context, tag string, cacheControl []string, body []byte) {
	h := c.Writer.Header()
	h["Etag"] = []string{tag}
	h["Cache-Control"] = cacheControl
	if !slices.Contains(h["Vary"], "Authorization") {
		h["Vary"] = append(h["Vary"], "Authorization")
	}
	if inm := c.Request.Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm, tag) {
		c.Status(http.StatusNotModified)
		return
	}
	h["Content-Type"] = jsonContentType
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(body)
}
