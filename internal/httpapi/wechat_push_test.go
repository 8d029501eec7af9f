package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

const pushPath = "/api/v1/wechat/push"

// applied is one call of the fake verdict sink.
type applied struct {
	TraceID     string
	Verdict     wechat.MediaVerdict
	HasDeadline bool
}

// fakeVerdicts records what the push delivers; err is what it answers.
type fakeVerdicts struct {
	mu    sync.Mutex
	calls []applied
	err   error
}

func (f *fakeVerdicts) ApplyMediaCheck(ctx context.Context, traceID string, v wechat.MediaVerdict) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dl, ok := ctx.Deadline()
	f.calls = append(f.calls, applied{TraceID: traceID, Verdict: v, HasDeadline: ok && time.Until(dl) <= 5*time.Second})
	return f.err
}

func (f *fakeVerdicts) got() []applied {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]applied(nil), f.calls...)
}

// pushRouter is the API with message push configured (safe mode when
// safe) and sink taking the verdicts; no database is needed.
func pushRouter(t *testing.T, safe bool, sink httpapi.MediaVerdicts) *apitest.Client {
	t.Helper()
	cfg := wechat.PushConfig{Token: wechattest.PushToken}
	if safe {
		cfg.EncodingAESKey, cfg.AppID = wechattest.PushAESKey, wechattest.AppID
	}
	p, err := wechat.NewPush(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return routerWith(t, httpapi.Deps{WeChatPush: p, MediaVerdicts: sink})
}

func routerWith(t *testing.T, deps httpapi.Deps) *apitest.Client {
	t.Helper()
	deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	deps.Ready = func(context.Context) error { return nil }
	h, err := httpapi.New(httpapi.Config{MaxBodyBytes: 1 << 20}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return apitest.New(t, h)
}

// sendPush posts message as WeChat would. JSON pushes are held to the
// spec on the way in too; XML ones only on the way out (the spec's
// checker reads no XML).
func sendPush(t *testing.T, api *apitest.Client, message []byte, o wechattest.PushOptions) *apitest.Response {
	t.Helper()
	req, err := wechattest.NewPushRequest(pushPath, message, o)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(message, []byte("<")) {
		return api.Raw(req)
	}
	body, _ := io.ReadAll(req.Body)
	return api.Do(http.MethodPost, req.URL.RequestURI(), body)
}

func TestWeChatPushDeliversVerdicts(t *testing.T) {
	t.Parallel()
	event := wechattest.MediaCheckEvent
	numeric := []byte(`{"ToUserName":"gh_x","FromUserName":"o-sys","CreateTime":1762329554,"MsgType":"event","Event":"wxa_media_check","appid":"wx-fake-app","trace_id":"t-num","version":2,"errcode":0,"errmsg":"ok","result":{"suggest":"risky","label":20001},"detail":[{"strategy":"content_model","errcode":0,"suggest":"risky","label":20001,"prob":90}]}`)
	tests := []struct {
		name    string
		safe    bool
		message []byte
		want    applied
	}{
		{name: "pass, plaintext", message: event("t-pass", "pass", "100", false), want: applied{TraceID: "t-pass", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestPass, Label: 100}}},
		{name: "risky, plaintext", message: event("t-risky", "risky", "20002", false), want: applied{TraceID: "t-risky", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestRisky, Label: 20002}}},
		{name: "review, plaintext", message: event("t-review", "review", "21000", false), want: applied{TraceID: "t-review", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestReview, Label: 21000}}},
		{name: "pass, safe mode", safe: true, message: event("t-safe", "pass", "100", false), want: applied{TraceID: "t-safe", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestPass, Label: 100}}},
		{name: "risky, safe mode XML", safe: true, message: event("t-safe-xml", "risky", "20002", true), want: applied{TraceID: "t-safe-xml", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestRisky, Label: 20002}}},
		{name: "review, plaintext XML", message: event("t-xml", "review", "10001", true), want: applied{TraceID: "t-xml", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestReview, Label: 10001}}},
		{name: "label a number", message: numeric, want: applied{TraceID: "t-num", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestRisky, Label: 20001}}},
		// Which trace ids are ours is the sink's business.
		{name: "unknown trace id", message: event("t-nobody-asked", "pass", "100", false), want: applied{TraceID: "t-nobody-asked", Verdict: wechat.MediaVerdict{Suggest: wechat.SuggestPass, Label: 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := &fakeVerdicts{}
			api := pushRouter(t, tt.safe, sink).For(t)
			res := sendPush(t, api, tt.message, wechattest.PushOptions{Safe: tt.safe})
			if res.Status != http.StatusOK || string(res.Body) != "success" {
				t.Fatalf("push: %d %q; want 200 success", res.Status, res.Body)
			}
			tt.want.HasDeadline = true
			if got := sink.got(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("the sink got %+v; want once %+v (with a deadline inside WeChat's 5 s)", got, tt.want)
			}
		})
	}
}

// TestWeChatPushReplay: WeChat pushes again when it missed our answer;
// each push is delivered, and the sink makes the second one change
// nothing.
func TestWeChatPushReplay(t *testing.T) {
	t.Parallel()
	sink := &fakeVerdicts{}
	api := pushRouter(t, true, sink)
	msg := wechattest.MediaCheckEvent("t-twice", "pass", "100", false)
	for i := range 2 {
		if res := sendPush(t, api, msg, wechattest.PushOptions{Safe: true}); res.Status != http.StatusOK {
			t.Fatalf("push %d: %d %s", i+1, res.Status, res.Body)
		}
	}
	if got := sink.got(); len(got) != 2 || got[0].TraceID != "t-twice" || got[1] != got[0] {
		t.Errorf("the sink got %+v; want the same verdict twice", got)
	}
}

func TestWeChatPushRefusals(t *testing.T) {
	t.Parallel()
	msg := wechattest.MediaCheckEvent("t-1", "pass", "100", false)
	tests := []struct {
		name       string
		safe       bool
		message    []byte
		opts       wechattest.PushOptions
		wantStatus int
		wantCode   string
	}{
		{name: "plaintext signed with another token", message: msg, opts: wechattest.PushOptions{Token: "anotherToken"}, wantStatus: http.StatusUnauthorized, wantCode: "bad_signature"},
		{name: "safe mode signed with another token", safe: true, message: msg, opts: wechattest.PushOptions{Safe: true, Token: "anotherToken"}, wantStatus: http.StatusUnauthorized, wantCode: "bad_signature"},
		{name: "sealed for another app", safe: true, message: msg, opts: wechattest.PushOptions{Safe: true, AppID: "wx-another-app"}, wantStatus: http.StatusUnauthorized, wantCode: "wrong_appid"},
		{name: "plaintext to a safe-mode endpoint", safe: true, message: msg, wantStatus: http.StatusUnauthorized, wantCode: "bad_signature"},
		{name: "sealed with another AES key", safe: true, message: msg, opts: wechattest.PushOptions{Safe: true, AESKey: strings.Repeat("B", 43)}, wantStatus: http.StatusInternalServerError, wantCode: "internal_error"},
		{name: "safe mode without a key configured", message: msg, opts: wechattest.PushOptions{Safe: true}, wantStatus: http.StatusInternalServerError, wantCode: "internal_error"},
		{name: "signed but unreadable", message: []byte(`{"MsgType":`), wantStatus: http.StatusBadRequest, wantCode: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := &fakeVerdicts{}
			api := pushRouter(t, tt.safe, sink).For(t)
			req, err := wechattest.NewPushRequest(pushPath, tt.message, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			res := api.Raw(req)
			if res.Status != tt.wantStatus || res.ErrorCode() != tt.wantCode {
				t.Fatalf("push: %d %s; want %d %s", res.Status, res.Body, tt.wantStatus, tt.wantCode)
			}
			if got := sink.got(); len(got) != 0 {
				t.Errorf("the sink was called: %+v", got)
			}
		})
	}
}

func TestWeChatPushAcknowledgesWithoutDelivering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		message []byte
	}{
		{name: "another event", message: []byte(`{"ToUserName":"gh_x","FromUserName":"o-1","CreateTime":1714037059,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}`)},
		{name: "a customer-service text", message: []byte(`{"ToUserName":"gh_x","FromUserName":"o-1","CreateTime":1714037059,"MsgType":"text","Content":"hi","MsgId":1}`)},
		{name: "a check WeChat could not finish", message: []byte(`{"ToUserName":"gh_x","MsgType":"event","Event":"wxa_media_check","trace_id":"t-failed","version":2,"errcode":-1,"errmsg":"system error","result":{},"detail":[]}`)},
		{name: "a suggestion we do not know", message: wechattest.MediaCheckEvent("t-odd", "maybe", "100", false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := &fakeVerdicts{}
			res := sendPush(t, pushRouter(t, false, sink).For(t), tt.message, wechattest.PushOptions{})
			if res.Status != http.StatusOK || string(res.Body) != "success" {
				t.Fatalf("push: %d %q; want 200 success", res.Status, res.Body)
			}
			if got := sink.got(); len(got) != 0 {
				t.Errorf("the sink was called: %+v", got)
			}
		})
	}
}

// TestWeChatPushSinkFailure: an error applying the verdict answers 500,
// so that WeChat pushes again.
func TestWeChatPushSinkFailure(t *testing.T) {
	t.Parallel()
	sink := &fakeVerdicts{err: errors.New("database unreachable")}
	res := sendPush(t, pushRouter(t, false, sink), wechattest.MediaCheckEvent("t-1", "pass", "100", false), wechattest.PushOptions{})
	if res.Status != http.StatusInternalServerError || strings.Contains(string(res.Body), "database") {
		t.Fatalf("push with a failing sink: %d %s; want 500 without the cause", res.Status, res.Body)
	}
	if got := sink.got(); len(got) != 1 {
		t.Errorf("the sink was called %d times; want 1", len(got))
	}
}

func TestWeChatPushWithoutSink(t *testing.T) {
	t.Parallel()
	res := sendPush(t, pushRouter(t, false, nil), wechattest.MediaCheckEvent("t-1", "pass", "100", false), wechattest.PushOptions{})
	if res.Status != http.StatusOK || string(res.Body) != "success" {
		t.Fatalf("push without a sink: %d %q; want 200 success", res.Status, res.Body)
	}
}

func TestWeChatPushTooLarge(t *testing.T) {
	t.Parallel()
	sink := &fakeVerdicts{}
	big := []byte(`{"MsgType":"event","Event":"wxa_media_check","pad":"` + strings.Repeat("x", 70<<10) + `"}`)
	req, err := wechattest.NewPushRequest(pushPath, big, wechattest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res := pushRouter(t, false, sink).Raw(req); res.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("push of 70 KiB: %d %s; want 413", res.Status, res.Body)
	}
	if got := sink.got(); len(got) != 0 {
		t.Errorf("the sink was called: %+v", got)
	}
}

func TestWeChatPushURLVerification(t *testing.T) {
	t.Parallel()
	api := pushRouter(t, true, &fakeVerdicts{})
	query := func(token string) string {
		q := url.Values{"timestamp": {"1714036504"}, "nonce": {"1514711492"}, "echostr": {"4375120948345356249"}}
		q.Set("signature", wechat.Sign(token, "1714036504", "1514711492"))
		return pushPath + "?" + q.Encode()
	}
	res := api.Do(http.MethodGet, query(wechattest.PushToken), nil)
	if res.Status != http.StatusOK || string(res.Body) != "4375120948345356249" {
		t.Fatalf("URL verification: %d %q; want 200 and the echostr", res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q; want text/plain", ct)
	}
	res = api.Do(http.MethodGet, query("anotherToken"), nil)
	if res.Status != http.StatusUnauthorized || strings.Contains(string(res.Body), "4375120948345356249") {
		t.Fatalf("URL verification with another token: %d %s; want 401 without the echostr", res.Status, res.Body)
	}
}

func TestWeChatPushNotConfigured(t *testing.T) {
	t.Parallel()
	api := routerWith(t, httpapi.Deps{MediaVerdicts: &fakeVerdicts{}})
	q := url.Values{"timestamp": {"1"}, "nonce": {"2"}, "echostr": {"3"}, "signature": {wechat.Sign(wechattest.PushToken, "1", "2")}}
	if res := api.Do(http.MethodGet, pushPath+"?"+q.Encode(), nil); res.Status != http.StatusNotFound {
		t.Errorf("GET without push configured: %d; want 404", res.Status)
	}
	req, err := wechattest.NewPushRequest(pushPath, wechattest.MediaCheckEvent("t-1", "pass", "100", false), wechattest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res := api.Raw(req); res.Status != http.StatusNotFound {
		t.Errorf("POST without push configured: %d; want 404", res.Status)
	}
}

// TestWeChatPushThroughTheService: the service built from its settings
// serves the push endpoint exactly when WECHAT_PUSH_TOKEN is set, and the
// fake WeChat's pushes reach it over a socket.
func TestWeChatPushThroughTheService(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		vars       map[string]string
		safe       bool
		wantStatus int
	}{
		{name: "safe mode", vars: map[string]string{"WECHAT_PUSH_TOKEN": wechattest.PushToken, "WECHAT_PUSH_AES_KEY": wechattest.PushAESKey}, safe: true, wantStatus: http.StatusOK},
		{name: "plaintext mode", vars: map[string]string{"WECHAT_PUSH_TOKEN": wechattest.PushToken}, wantStatus: http.StatusOK},
		{name: "not configured", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ta := apptest.New(t, apptest.Options{WeChat: true, NoWorkers: true, Vars: tt.vars})
			pushURL := ta.URL + pushPath
			q := url.Values{"timestamp": {"1714036504"}, "nonce": {"1514711492"}, "echostr": {"echo-42%s"}}
			q.Set("signature", wechat.Sign(wechattest.PushToken, "1714036504", "1514711492"))
			resp, err := http.Get(pushURL + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || (tt.wantStatus == http.StatusOK && string(body) != "echo-42%s") {
				t.Fatalf("URL verification: %d %q; want %d", resp.StatusCode, body, tt.wantStatus)
			}
			resp = ta.WeChat.PushMediaCheck(t, pushURL, "trace-media-1", "pass", "100", tt.safe)
			body, _ = io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || (tt.wantStatus == http.StatusOK && string(body) != "success") {
				t.Fatalf("push: %d %q; want %d", resp.StatusCode, body, tt.wantStatus)
			}
		})
	}
}
