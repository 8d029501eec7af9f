package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// River UI (riverqueue.com/riverui, at /admin/river/) is a script we do
// not write: it cannot send the console's CSRF token, and it sends its
// changes as text/plain (a bare fetch body) or with no body at all, so a
// JSON-only rule would stop its own buttons. Its changes are guarded here
// instead: only the writes listed in riverWrite pass, each must carry the
// browser's own proof that it comes from this origin (Sec-Fetch-Site, else
// Origin; headers no page can set), and each one River UI carries out is
// written to the audit log.

// riverAPI is where River UI's JSON API is mounted (its prefix + /api).
const riverAPI = "/admin/river/api/"

// maxRiverBody bounds the body of a River UI change: a list of at most
// 1,000 job ids or a queue's settings.
const maxRiverBody = 1 << 20

var (
	errRiverWrite = failure.New(failure.Forbidden, "forbidden",
		"River UI may change jobs and queues only through cancel, delete, retry, pause, resume and queue settings")
	errRiverOrigin = failure.New(failure.Forbidden, "forbidden",
		"a change through River UI must come from River UI's own page (the browser's Sec-Fetch-Site or Origin)")
	errRiverMedia = failure.New(failure.UnsupportedMedia, "unsupported_media_type",
		"River UI's changes are sent as application/json, text/plain or without a body")
)

// riverChange is one change River UI is allowed to make.
type riverChange struct {
	action     string
	targetType string
	queue      string // the queue's name, for queue changes
}

// riverWrite names the change an unsafe request to River UI makes; ok is
// false for anything else. The path is the escaped one: River UI's router
// matches a queue name as one escaped segment.
func riverWrite(method, escapedPath string) (ch riverChange, ok bool) {
	rest, ok := strings.CutPrefix(escapedPath, riverAPI)
	if !ok {
		return ch, false
	}
	seg := strings.Split(rest, "/")
	queue := func() bool {
		name, err := url.PathUnescape(seg[1])
		ch.queue = name
		return err == nil && name != ""
	}
	switch {
	case method == http.MethodPost && len(seg) == 2 && seg[0] == "jobs":
		ch.targetType = admin.TargetJob
		switch seg[1] {
		case "cancel":
			ch.action = admin.ActionJobCancel
		case "delete":
			ch.action = admin.ActionJobDelete
		case "retry":
			ch.action = admin.ActionJobRetry
		default:
			return ch, false
		}
		return ch, true
	case method == http.MethodPut && len(seg) == 3 && seg[0] == "queues" && queue():
		ch.targetType = admin.TargetQueue
		switch seg[2] {
		case "pause":
			ch.action = admin.ActionQueuePause
		case "resume":
			ch.action = admin.ActionQueueResume
		default:
			return ch, false
		}
		return ch, true
	case method == http.MethodPatch && len(seg) == 2 && seg[0] == "queues" && queue():
		ch.targetType, ch.action = admin.TargetQueue, admin.ActionQueueUpdate
		return ch, true
	}
	return ch, false
}

// targets reads what a change applies to from its body: the job ids, or
// the queue with (for queue.update) its new settings as the note.
func (ch riverChange) targets(body []byte) (targets []string, note string, err error) {
	switch {
	case ch.targetType == admin.TargetJob:
		// River UI's own request type: ids as JSON strings or numbers.
		var req struct {
			IDs []json.RawMessage `json:"ids"`
		}
		if err := json.Unmarshal(body, &req); err != nil || len(req.IDs) == 0 {
			return nil, "", failure.InvalidRequest(`the body must be {"ids": [job ids]}`)
		}
		for _, raw := range req.IDs {
			s := strings.Trim(string(raw), `"`)
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, "", failure.InvalidRequest("ids must be job ids")
			}
			targets = append(targets, strconv.FormatInt(id, 10))
		}
		return targets, "", nil
	case ch.action == admin.ActionQueueUpdate:
		var req struct {
			Concurrency json.RawMessage `json:"concurrency"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, "", failure.InvalidRequest(`the body must be {"concurrency": …}`)
		}
		var settings bytes.Buffer
		if len(req.Concurrency) > 0 {
			_ = json.Compact(&settings, req.Concurrency) // valid: it was just decoded
		}
		return []string{ch.queue}, "concurrency: " + settings.String(), nil
	}
	return []string{ch.queue}, "", nil
}

// originProven reports whether the browser says the request comes from
// this origin; sameOrigin has refused one that says otherwise, but lets
// through a request with neither header (a non-browser client, or a
// browser too old to send them), which River UI's writes do not accept.
func originProven(c *gin.Context) bool {
	if site := c.GetHeader("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o := c.GetHeader("Origin")
	if o == "" || o == "null" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == c.Request.Host
}

// riverGuard lets River UI's reads through and its allowed writes (see
// the comment at the top), recording each write River UI answers with a
// 2xx. It runs after requireConsole, so the admin is known.
func (s *Server) riverGuard(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	ch, ok := riverWrite(c.Request.Method, c.Request.URL.EscapedPath())
	if !ok {
		writeError(c, errRiverWrite)
		return
	}
	if !originProven(c) {
		writeError(c, errRiverOrigin)
		return
	}
	// What River UI sends: text/plain (a fetch body without a type), JSON,
	// or nothing. An HTML form's encodings are never River UI's.
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			writeError(c, errRiverMedia)
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxRiverBody))
	if err != nil {
		if isTooLarge(err) {
			writeError(c, errTooLarge)
			return
		}
		writeError(c, failure.InvalidRequest("the body could not be read"))
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	// The targets are read before River UI acts, so that a change whose
	// targets cannot be told is refused rather than made unrecorded.
	targets, note, err := ch.targets(body)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Next()
	if st := c.Writer.Status(); st < 200 || st > 299 {
		return
	}
	a := callerAdmin(c)
	// The change is made: record it even if the browser has gone.
	ctx := context.WithoutCancel(c.Request.Context())
	if err := s.deps.Governance.RecordJobs(ctx, a, ch.action, ch.targetType, targets, note); err != nil {
		// River UI has committed the change in its own transaction and
		// answered; it cannot be undone from here, so the missing entry
		// goes to the error log, with everything it would have said.
		logger(c).ErrorContext(ctx, "River UI change made but not written to the audit log",
			"admin", a.Name, "action", ch.action, "target_type", ch.targetType, "targets", targets, "note", note,
			"err", err, "request_id", requestID(c))
	}
}
