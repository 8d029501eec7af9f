package wechattest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"slices"
)

// WXACodeRequest is one wxacode.getUnlimited request the fake answered.
type WXACodeRequest struct {
	Scene      string `json:"scene"`
	Page       string `json:"page"`
	CheckPath  *bool  `json:"check_path"`
	EnvVersion string `json:"env_version"`
	Width      int    `json:"width"`
}

// SubscribeMessage is one subscribe message the fake accepted.
type SubscribeMessage struct {
	ToUser           string                       `json:"touser"`
	TemplateID       string                       `json:"template_id"`
	Page             string                       `json:"page"`
	MiniprogramState string                       `json:"miniprogram_state"`
	Lang             string                       `json:"lang"`
	Data             map[string]map[string]string `json:"data"`
}

// WXACodes is every code request answered so far.
func (s *Server) WXACodes() []WXACodeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wxacodes)
}

// SubscribeMessages is every subscribe message accepted so far.
func (s *Server) SubscribeMessages() []SubscribeMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// FailSubscribe makes the subscribe send answer errcode code (0: accept);
// 43101 is a user with no grant left.
func (s *Server) FailSubscribe(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribeErrCode = code
}

// codeJPEG is the image the fake answers for every code: a small JPEG, as
// WeChat's codes are.
var codeJPEG = func() []byte {
	img := image.NewGray(image.Rect(0, 0, 43, 43))
	for i := range img.Pix {
		img.Pix[i] = uint8(255 * (i % 2))
	}
	img.SetGray(0, 0, color.Gray{})
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, nil)
	return b.Bytes()
}()

// CodeJPEG is what the fake's wxacode.getUnlimited answers.
func CodeJPEG() []byte { return slices.Clone(codeJPEG) }

func (s *Server) wxacode(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	if !s.tokenValid(w, r) {
		return
	}
	var req WXACodeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Scene) == 0 || len(req.Scene) > 32 {
		writeJSON(w, errBody(40169)) // invalid scene
		return
	}
	if len(req.Page) > 0 && req.Page[0] == '/' {
		writeJSON(w, errBody(41030)) // invalid page
		return
	}
	s.mu.Lock()
	s.wxacodes = append(s.wxacodes, req)
	s.mu.Unlock()
	// The SDK takes an answer only with exactly this content type.
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = w.Write(codeJPEG)
}

func (s *Server) subscribeSend(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	if !s.tokenValid(w, r) {
		return
	}
	var m SubscribeMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.ToUser == "" || m.TemplateID == "" {
		writeJSON(w, errBody(47003))
		return
	}
	s.mu.Lock()
	code := s.subscribeErrCode
	if code == 0 {
		s.messages = append(s.messages, m)
	}
	s.mu.Unlock()
	if code != 0 {
		writeJSON(w, errBody(code))
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}
