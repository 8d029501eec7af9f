package wechattest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/wechat"
)

// The fake's message push settings: configure the service under test with
// WECHAT_PUSH_TOKEN=PushToken, WECHAT_PUSH_AES_KEY=PushAESKey (safe mode)
// and WECHAT_APP_ID=AppID.
const (
	PushToken  = "fakePushToken42"
	PushAESKey = "fakeEncodingAESKey0123456789abcdefghijklmno" // 43 characters
	// OriginalID is the mini-program's original id, the ToUserName of
	// every push.
	OriginalID = "gh_fake0000001"
)

// PushOptions shape one push.
type PushOptions struct {
	// Safe seals the message (safe mode, encrypt_type=aes) instead of
	// sending it in plaintext.
	Safe bool
	// Token, AESKey and AppID replace the fake's own (PushToken,
	// PushAESKey, AppID), to push what a stranger or another app would.
	Token, AESKey, AppID string
}

// NewPushRequest is the POST WeChat would send to target (a URL, or a path
// for an in-process handler) to deliver message: signed with the token,
// and in safe mode sealed into {"ToUserName", "Encrypt"} (XML when the
// message is XML) with msg_signature and encrypt_type=aes in the query.
func NewPushRequest(target string, message []byte, o PushOptions) (*http.Request, error) {
	token, aesKey, appID := o.Token, o.AESKey, o.AppID
	if token == "" {
		token = PushToken
	}
	if aesKey == "" {
		aesKey = PushAESKey
	}
	if appID == "" {
		appID = AppID
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	timestamp := strconv.FormatInt(time.Now().Unix(), 10)
	n, err := rand.Int(rand.Reader, big.NewInt(1<<31))
	if err != nil {
		return nil, err
	}
	nonce := n.String()
	q := u.Query()
	q.Set("timestamp", timestamp)
	q.Set("nonce", nonce)
	q.Set("signature", wechat.Sign(token, timestamp, nonce))
	q.Set("openid", "o-fake-push") // WeChat's example URLs carry one too
	isXML := len(bytes.TrimSpace(message)) > 0 && bytes.TrimSpace(message)[0] == '<'
	body := message
	if o.Safe {
		p, err := wechat.NewPush(wechat.PushConfig{Token: token, EncodingAESKey: aesKey, AppID: appID})
		if err != nil {
			return nil, err
		}
		sealed, err := p.Encrypt(message)
		if err != nil {
			return nil, err
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", wechat.Sign(token, timestamp, nonce, sealed))
		if isXML {
			body = []byte("<xml><ToUserName><![CDATA[" + OriginalID + "]]></ToUserName><Encrypt><![CDATA[" + sealed + "]]></Encrypt></xml>")
		} else if body, err = json.Marshal(map[string]string{"ToUserName": OriginalID, "Encrypt": sealed}); err != nil {
			return nil, err
		}
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if isXML {
		req.Header.Set("Content-Type", "text/xml")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// MediaCheckEvent is a wxa_media_check message as WeChat pushes it (the
// fields of the mediaCheckAsync doc), in JSON or, with asXML, XML. The
// label is written as a string, as a real payload carried it.
func MediaCheckEvent(traceID, suggest, label string, asXML bool) []byte {
	type result struct {
		Suggest string `json:"suggest" xml:"suggest"`
		Label   string `json:"label" xml:"label"`
	}
	type detail struct {
		Strategy string `json:"strategy" xml:"strategy"`
		ErrCode  int    `json:"errcode" xml:"errcode"`
		Suggest  string `json:"suggest" xml:"suggest"`
		Label    string `json:"label" xml:"label"`
		Prob     int    `json:"prob" xml:"prob"`
	}
	ev := struct {
		XMLName      xml.Name `json:"-" xml:"xml"`
		ToUserName   string   `json:"ToUserName" xml:"ToUserName"`
		FromUserName string   `json:"FromUserName" xml:"FromUserName"`
		CreateTime   int64    `json:"CreateTime" xml:"CreateTime"`
		MsgType      string   `json:"MsgType" xml:"MsgType"`
		Event        string   `json:"Event" xml:"Event"`
		AppID        string   `json:"appid" xml:"appid"`
		TraceID      string   `json:"trace_id" xml:"trace_id"`
		Version      int      `json:"version" xml:"version"`
		Result       result   `json:"result" xml:"result"`
		Detail       []detail `json:"detail" xml:"detail"`
	}{
		ToUserName: OriginalID, FromUserName: "o-wechat-system", CreateTime: time.Now().Unix(),
		MsgType: "event", Event: wechat.EventMediaCheck, AppID: AppID, TraceID: traceID, Version: 2,
		Result: result{Suggest: suggest, Label: label},
		Detail: []detail{{Strategy: "content_model", Suggest: suggest, Label: label, Prob: 90}},
	}
	var b []byte
	if asXML {
		b, _ = xml.Marshal(ev)
	} else {
		b, _ = json.Marshal(ev)
	}
	return b
}

// Push posts message to pushURL as WeChat would (see NewPushRequest) and
// returns the answer with its body read, so the caller need not close it.
func (s *Server) Push(tb testing.TB, pushURL string, message []byte, o PushOptions) *http.Response {
	tb.Helper()
	req, err := NewPushRequest(pushURL, message, o)
	if err != nil {
		tb.Fatalf("wechattest: build the push: %v", err)
	}
	resp, err := pushClient.Do(req)
	if err != nil {
		tb.Fatalf("wechattest: push to %s: %v", pushURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("wechattest: read the answer to the push: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// PushMediaCheck pushes the verdict on traceID to pushURL, in plaintext
// or safe mode, as a JSON wxa_media_check event.
func (s *Server) PushMediaCheck(tb testing.TB, pushURL, traceID, suggest, label string, safe bool) *http.Response {
	tb.Helper()
	return s.Push(tb, pushURL, MediaCheckEvent(traceID, suggest, label, false), PushOptions{Safe: safe})
}

// pushClient gives up where WeChat does not wait much longer.
var pushClient = &http.Client{Timeout: 30 * time.Second}

// AutoPush is what the fake does after accepting a media check.
type AutoPush struct {
	// URL is the service's push endpoint.
	URL string
	// Safe pushes in safe mode.
	Safe bool
	// Delay is the wait between fetching the image and pushing.
	Delay time.Duration
	// Verdict decides from the check and the fetched image; nil: pass
	// with label 100.
	Verdict func(c MediaCheck, image []byte) (suggest, label string)
}

// AutoPush makes the fake behave like WeChat after every media check it
// accepts from now until the test ends: fetch the media URL, wait Delay,
// push the verdict once (no retries). Progress shows in MediaChecks.
func (s *Server) AutoPush(tb testing.TB, a AutoPush) {
	ctx, cancel := context.WithCancel(context.Background())
	ap := &autoPush{cfg: a, ctx: ctx}
	s.mu.Lock()
	s.auto = ap
	s.mu.Unlock()
	tb.Cleanup(func() {
		s.mu.Lock()
		s.auto = nil
		s.mu.Unlock()
		ap.mu.Lock()
		ap.closed = true
		ap.mu.Unlock()
		cancel()
		ap.wg.Wait()
	})
}

type autoPush struct {
	cfg    AutoPush
	ctx    context.Context
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (a *autoPush) start(s *Server, c MediaCheck) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.run(s, c); err != nil {
			s.updateMediaCheck(c.TraceID, func(m *MediaCheck) { m.Err = err.Error() })
		}
	}()
}

func (a *autoPush) run(s *Server, c MediaCheck) error {
	req, err := http.NewRequestWithContext(a.ctx, http.MethodGet, c.MediaURL, nil)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	resp, err := pushClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	image, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20)) // WeChat's 10 MB limit
	_ = resp.Body.Close()
	s.updateMediaCheck(c.TraceID, func(m *MediaCheck) { m.Fetched = resp.StatusCode })
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch: status %d, %v", resp.StatusCode, err)
	}
	select {
	case <-time.After(a.cfg.Delay):
	case <-a.ctx.Done():
		return a.ctx.Err()
	}
	suggest, label := "pass", "100"
	if a.cfg.Verdict != nil {
		suggest, label = a.cfg.Verdict(c, image)
	}
	push, err := NewPushRequest(a.cfg.URL, MediaCheckEvent(c.TraceID, suggest, label, false), PushOptions{Safe: a.cfg.Safe})
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	resp, err = pushClient.Do(push.WithContext(a.ctx))
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	s.updateMediaCheck(c.TraceID, func(m *MediaCheck) { m.Pushed = resp.StatusCode })
	return nil
}
