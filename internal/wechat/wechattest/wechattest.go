// Package wechattest is a fake WeChat API server for tests: it speaks the
// real JSON of jscode2session, stable_token, token, msg_sec_check and
// media_check_async, so that tests exercise the real SDK through the
// base-URL mechanism the service uses, and it sends message pushes the
// way WeChat does (push.go), by hand or after each media check.
//
// Behaviour is chosen by the input:
//   - code "ok-NAME" logs in as openid "o-NAME" (with unionid "u-NAME");
//     "nounion-NAME" as "o-NAME" without unionid; "err-N" answers errcode N;
//     "http-N" answers HTTP status N; "hang" never answers; "garbage"
//     answers something that is not JSON. Any other code is errcode 40029.
//   - text containing "risky" or "review" gets that suggestion; text
//     "err-N" answers errcode N; anything else passes.
//   - media_check_async answers a new trace id and records the request
//     (MediaChecks), or the errcode FailMediaChecks set; a media URL whose
//     last path segment is err-N, http-N, hang or garbage behaves as such a
//     login code does.
package wechattest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Credentials the fake accepts.
const (
	AppID     = "wx-fake-app"
	AppSecret = "fake-secret-0123456789abcdef"
)

// Server is a running fake.
type Server struct {
	*httptest.Server
	mu          sync.Mutex
	tokenSerial int
	valid       map[string]bool
	calls       map[string]int
	// TokenErrCode, when set, is what the token endpoints answer.
	tokenErrCode int
	mediaErrCode int
	mediaChecks  []MediaCheck
	auto         *autoPush

	wxacodes         []WXACodeRequest
	messages         []SubscribeMessage
	subscribeErrCode int
}

// New starts a fake, closed when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{valid: map[string]bool{}, calls: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sns/jscode2session", s.code2Session)
	mux.HandleFunc("POST /cgi-bin/stable_token", s.stableToken)
	mux.HandleFunc("GET /cgi-bin/token", s.token)
	mux.HandleFunc("POST /wxa/msg_sec_check", s.msgSecCheck)
	mux.HandleFunc("POST /wxa/media_check_async", s.mediaCheckAsync)
	mux.HandleFunc("POST /wxa/getwxacodeunlimit", s.wxacode)
	mux.HandleFunc("POST /cgi-bin/message/subscribe/send", s.subscribeSend)
	s.Server = httptest.NewServer(mux)
	tb.Cleanup(s.Close)
	return s
}

// Calls is how many requests reached path.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// InvalidateTokens makes every access token issued so far invalid
// (errcode 40001), as another replica fetching a token would.
func (s *Server) InvalidateTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.valid)
}

// FailTokens makes the token endpoints answer errcode code (0: succeed).
func (s *Server) FailTokens(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenErrCode = code
}

func (s *Server) count(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[r.URL.Path]++
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func errBody(code int) map[string]any {
	return map[string]any{"errcode": code, "errmsg": fmt.Sprintf("fake error %d, rid: 1234", code)}
}

func (s *Server) code2Session(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	q := r.URL.Query()
	switch {
	case q.Get("appid") != AppID:
		writeJSON(w, errBody(40013))
		return
	case q.Get("secret") != AppSecret:
		writeJSON(w, errBody(40125))
		return
	case q.Get("grant_type") != "authorization_code":
		writeJSON(w, errBody(40002))
		return
	}
	code := q.Get("js_code")
	if s.special(w, r, code) {
		return
	}
	switch {
	case strings.HasPrefix(code, "ok-"):
		name := strings.TrimPrefix(code, "ok-")
		writeJSON(w, map[string]any{"openid": "o-" + name, "session_key": "SESSIONKEY-" + name, "unionid": "u-" + name})
	case strings.HasPrefix(code, "nounion-"):
		name := strings.TrimPrefix(code, "nounion-")
		writeJSON(w, map[string]any{"openid": "o-" + name, "session_key": "SESSIONKEY-" + name})
	default:
		writeJSON(w, errBody(40029))
	}
}

// special handles the err-N, http-N, hang and garbage inputs.
func (s *Server) special(w http.ResponseWriter, r *http.Request, in string) bool {
	switch {
	case strings.HasPrefix(in, "err-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(in, "err-"))
		writeJSON(w, errBody(n))
	case strings.HasPrefix(in, "http-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(in, "http-"))
		w.WriteHeader(n)
		_, _ = w.Write([]byte("<html>upstream says no</html>"))
	case in == "hang":
		<-r.Context().Done()
	case in == "garbage":
		_, _ = w.Write([]byte("<html>not json</html>"))
	default:
		return false
	}
	return true
}

func (s *Server) issueToken(w http.ResponseWriter) {
	s.mu.Lock()
	if s.tokenErrCode != 0 {
		code := s.tokenErrCode
		s.mu.Unlock()
		writeJSON(w, errBody(code))
		return
	}
	s.tokenSerial++
	tok := fmt.Sprintf("ACCESSTOKEN-%d", s.tokenSerial)
	s.valid[tok] = true
	s.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": 7200})
}

func (s *Server) stableToken(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	var req struct {
		GrantType string `json:"grant_type"`
		AppID     string `json:"appid"`
		Secret    string `json:"secret"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.GrantType != "client_credential" {
		writeJSON(w, errBody(40002))
		return
	}
	if req.AppID != AppID {
		writeJSON(w, errBody(40013))
		return
	}
	if req.Secret != AppSecret {
		writeJSON(w, errBody(40125))
		return
	}
	s.issueToken(w)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	q := r.URL.Query()
	if q.Get("appid") != AppID {
		writeJSON(w, errBody(40013))
		return
	}
	if q.Get("secret") != AppSecret {
		writeJSON(w, errBody(40125))
		return
	}
	s.issueToken(w)
}

// tokenValid answers errcode 40001 unless the request carries an access
// token the fake issued and has not invalidated.
func (s *Server) tokenValid(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	ok := s.valid[r.URL.Query().Get("access_token")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, errBody(40001))
	}
	return ok
}

func (s *Server) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	if !s.tokenValid(w, r) {
		return
	}
	var req struct {
		Version int    `json:"version"`
		OpenID  string `json:"openid"`
		Scene   int    `json:"scene"`
		Content string `json:"content"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Version != 2 || req.Scene < 1 || req.Scene > 4 {
		writeJSON(w, errBody(47001))
		return
	}
	if req.OpenID == "" {
		writeJSON(w, errBody(40003))
		return
	}
	if s.special(w, r, req.Content) {
		return
	}
	suggest, label := "pass", 100
	switch {
	case strings.Contains(req.Content, "risky"):
		suggest, label = "risky", 20001
	case strings.Contains(req.Content, "review"):
		suggest, label = "review", 10001
	}
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok", "trace_id": "trace-1",
		"result": map[string]any{"suggest": suggest, "label": label},
		"detail": []map[string]any{{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}},
	})
}

// MediaCheck is one media_check_async request the fake accepted.
type MediaCheck struct {
	TraceID   string // the trace id the fake answered
	OpenID    string
	MediaURL  string
	MediaType int
	Scene     int
	Version   int
	// With AutoPush: the HTTP status of fetching MediaURL, and of the push
	// that followed (0: not yet, or not done); Err says what went wrong.
	Fetched int
	Pushed  int
	Err     string
}

// MediaChecks returns the media checks accepted so far, oldest first.
func (s *Server) MediaChecks() []MediaCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MediaCheck(nil), s.mediaChecks...)
}

// FailMediaChecks makes media_check_async answer errcode code (0: accept).
func (s *Server) FailMediaChecks(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mediaErrCode = code
}

// mediaCheckAsync checks what WeChat documents for version 2: media_url,
// media_type (1 audio, 2 image), version 2, openid, scene 1-4.
func (s *Server) mediaCheckAsync(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	if !s.tokenValid(w, r) {
		return
	}
	var req struct {
		MediaURL  string `json:"media_url"`
		MediaType int    `json:"media_type"`
		Version   int    `json:"version"`
		OpenID    string `json:"openid"`
		Scene     int    `json:"scene"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Version != 2 || req.Scene < 1 || req.Scene > 4 ||
		(req.MediaType != 1 && req.MediaType != 2) || req.MediaURL == "" {
		writeJSON(w, errBody(47001))
		return
	}
	if req.OpenID == "" {
		writeJSON(w, errBody(40003))
		return
	}
	if u, err := url.Parse(req.MediaURL); err == nil && s.special(w, r, path.Base(u.Path)) {
		return
	}
	s.mu.Lock()
	if code := s.mediaErrCode; code != 0 {
		s.mu.Unlock()
		writeJSON(w, errBody(code))
		return
	}
	c := MediaCheck{
		TraceID: fmt.Sprintf("trace-media-%d", len(s.mediaChecks)+1), OpenID: req.OpenID, MediaURL: req.MediaURL,
		MediaType: req.MediaType, Scene: req.Scene, Version: req.Version,
	}
	s.mediaChecks = append(s.mediaChecks, c)
	auto := s.auto
	s.mu.Unlock()
	if auto != nil {
		auto.start(s, c)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "trace_id": c.TraceID})
}

// updateMediaCheck changes the record of traceID.
func (s *Server) updateMediaCheck(traceID string, change func(*MediaCheck)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.mediaChecks {
		if s.mediaChecks[i].TraceID == traceID {
			change(&s.mediaChecks[i])
		}
	}
}
