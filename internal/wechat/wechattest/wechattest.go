// Package wechattest is a fake WeChat API server for tests: it speaks the
// real JSON of jscode2session, stable_token, token and msg_sec_check, so
// that tests exercise the real SDK through the base-URL mechanism the
// service uses.
//
// Behaviour is chosen by the input:
//   - code "ok-NAME" logs in as openid "o-NAME" (with unionid "u-NAME");
//     "nounion-NAME" as "o-NAME" without unionid; "err-N" answers errcode N;
//     "http-N" answers HTTP status N; "hang" never answers; "garbage"
//     answers something that is not JSON. Any other code is errcode 40029.
//   - text containing "risky" or "review" gets that suggestion; text
//     "err-N" answers errcode N; anything else passes.
package wechattest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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

func (s *Server) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	s.mu.Lock()
	ok := s.valid[r.URL.Query().Get("access_token")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, errBody(40001))
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
