package wechat_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// The worked examples of WeChat's message push doc (mini-program,
// 消息推送): Token "AAAAA", and for safe mode EncodingAESKey 43 "A"s and
// appid wxba5fad812f8e6fb9.
const (
	docToken  = "AAAAA"
	docAESKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	docAppID  = "wxba5fad812f8e6fb9"
	docSealed = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
)

func docPlainQuery() url.Values {
	return url.Values{"signature": {"899cf89e464efb63f54ddac96b0a0a235f53aa78"}, "timestamp": {"1714037059"}, "nonce": {"486452656"}}
}

const docPlainBody = `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714037059,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}`

func docSafeQuery() url.Values {
	return url.Values{
		"signature": {"6c5c811b55cc85e0e1b54100749188c20beb3f5d"}, "timestamp": {"1714112445"}, "nonce": {"415670741"},
		"openid": {"o9AgO5Kd5ggOC-bXrbNODIiE3bGY"}, "encrypt_type": {"aes"}, "msg_signature": {"046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"},
	}
}

func docSafeBody(sealed string) []byte {
	b, _ := json.Marshal(map[string]string{"ToUserName": "gh_97417a04a28d", "Encrypt": sealed})
	return b
}

func newPush(t *testing.T, cfg wechat.PushConfig) *wechat.Push {
	t.Helper()
	p, err := wechat.NewPush(cfg)
	if err != nil {
		t.Fatalf("NewPush: %v", err)
	}
	return p
}

func TestVerifyURL(t *testing.T) {
	t.Parallel()
	p := newPush(t, wechat.PushConfig{Token: docToken})
	doc := url.Values{
		"signature": {"f464b24fc39322e44b38aa78f5edd27bd1441696"}, "echostr": {"4375120948345356249"},
		"timestamp": {"1714036504"}, "nonce": {"1514711492"},
	}
	tests := []struct {
		name    string
		change  func(url.Values)
		wantErr error
	}{
		{name: "the doc's example", change: func(url.Values) {}},
		{name: "upper-case hex", change: func(q url.Values) { q.Set("signature", strings.ToUpper(q.Get("signature"))) }},
		{name: "another nonce", change: func(q url.Values) { q.Set("nonce", "1514711493") }, wantErr: wechat.ErrPushSignature},
		{name: "no signature", change: func(q url.Values) { q.Del("signature") }, wantErr: wechat.ErrPushSignature},
		{name: "no timestamp", change: func(q url.Values) { q.Del("timestamp") }, wantErr: wechat.ErrPushSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := url.Values{}
			for k, v := range doc {
				q[k] = append([]string(nil), v...)
			}
			tt.change(q)
			echo, err := p.VerifyURL(q)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("VerifyURL = %q, %v; want error %v", echo, err, tt.wantErr)
			}
			if err == nil && echo != "4375120948345356249" {
				t.Errorf("echostr = %q", echo)
			}
		})
	}
	if _, err := newPush(t, wechat.PushConfig{Token: "BBBBB"}).VerifyURL(doc); !errors.Is(err, wechat.ErrPushSignature) {
		t.Errorf("VerifyURL with another token = %v; want ErrPushSignature", err)
	}
}

// tamper flips the low bit of the last plaintext byte (the PKCS#7 pad
// length) by flipping the matching bit of the previous cipher block.
func tamper(t *testing.T, sealed string) string {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		t.Fatal(err)
	}
	ct[len(ct)-17] ^= 1
	return base64.StdEncoding.EncodeToString(ct)
}

func TestDecodeDocExamples(t *testing.T) {
	t.Parallel()
	plain := newPush(t, wechat.PushConfig{Token: docToken})
	safe := newPush(t, wechat.PushConfig{Token: docToken, EncodingAESKey: docAESKey, AppID: docAppID})
	resign := func(q url.Values, sealed string) url.Values {
		q.Set("msg_signature", wechat.Sign(docToken, q.Get("timestamp"), q.Get("nonce"), sealed))
		return q
	}
	tampered := tamper(t, docSealed)
	tests := []struct {
		name     string
		push     *wechat.Push
		query    url.Values
		body     []byte
		wantErr  *failure.Error
		wantTime int64
	}{
		{name: "plaintext", push: plain, query: docPlainQuery(), body: []byte(docPlainBody), wantTime: 1714037059},
		{name: "safe mode", push: safe, query: docSafeQuery(), body: docSafeBody(docSealed), wantTime: 1714112445},
		{
			name: "plaintext with another token", push: newPush(t, wechat.PushConfig{Token: "BBBBB"}),
			query: docPlainQuery(), body: []byte(docPlainBody), wantErr: wechat.ErrPushSignature,
		},
		{
			name: "safe mode with another token", push: newPush(t, wechat.PushConfig{Token: "BBBBB", EncodingAESKey: docAESKey, AppID: docAppID}),
			query: docSafeQuery(), body: docSafeBody(docSealed), wantErr: wechat.ErrPushSignature,
		},
		{
			// The doc: check msg_signature, never signature, in safe mode.
			name: "safe mode signed by signature only", push: safe,
			query: func() url.Values { q := docSafeQuery(); q.Del("msg_signature"); return q }(),
			body:  docSafeBody(docSealed), wantErr: wechat.ErrPushSignature,
		},
		{
			name: "tampered ciphertext under the old msg_signature", push: safe,
			query: docSafeQuery(), body: docSafeBody(tampered), wantErr: wechat.ErrPushSignature,
		},
		{
			// Only someone holding the token can re-sign; without the key
			// the message still does not open.
			name: "tampered ciphertext re-signed", push: safe,
			query: resign(docSafeQuery(), tampered), body: docSafeBody(tampered), wantErr: wechat.ErrPushMisconfigured,
		},
		{
			name: "wrong app id", push: newPush(t, wechat.PushConfig{Token: docToken, EncodingAESKey: docAESKey, AppID: "wx-other-app"}),
			query: docSafeQuery(), body: docSafeBody(docSealed), wantErr: wechat.ErrPushAppID,
		},
		{
			name: "another AES key", push: newPush(t, wechat.PushConfig{Token: docToken, EncodingAESKey: wechattest.PushAESKey, AppID: docAppID}),
			query: docSafeQuery(), body: docSafeBody(docSealed), wantErr: wechat.ErrPushMisconfigured,
		},
		{
			name: "safe mode push without a key configured", push: plain,
			query: docSafeQuery(), body: docSafeBody(docSealed), wantErr: wechat.ErrPushMisconfigured,
		},
		{
			// Its signature does not cover the body: refused once safe
			// mode is configured.
			name: "plaintext push to a safe-mode receiver", push: safe,
			query: docPlainQuery(), body: []byte(docPlainBody), wantErr: wechat.ErrPushPlaintext,
		},
		{
			name: "safe mode without Encrypt", push: safe,
			query: docSafeQuery(), body: []byte(`{"ToUserName":"gh_97417a04a28d"}`), wantErr: wechat.ErrPushMalformed,
		},
		{
			name: "ciphertext not base64", push: safe,
			query: resign(docSafeQuery(), "%%%"), body: docSafeBody("%%%"), wantErr: wechat.ErrPushMisconfigured,
		},
		{
			name: "signed plaintext that is not JSON", push: plain,
			query: docPlainQuery(), body: []byte(`{"ToUserName":`), wantErr: wechat.ErrPushMalformed,
		},
		{
			name: "signed empty body", push: plain,
			query: docPlainQuery(), body: nil, wantErr: wechat.ErrPushMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := tt.push.Decode(tt.query, tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Decode = %+v, %v; want %v", ev, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := wechat.Event{
				ToUser: "gh_97417a04a28d", FromUser: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
				CreateTime: wechat.Number(tt.wantTime), MsgType: "event", Event: "debug_demo",
			}
			if ev.ToUser != want.ToUser || ev.FromUser != want.FromUser || ev.CreateTime != want.CreateTime ||
				ev.MsgType != want.MsgType || ev.Event != want.Event {
				t.Errorf("Decode = %+v; want %+v", ev, want)
			}
		})
	}
}

func TestDecodeMediaCheck(t *testing.T) {
	t.Parallel()
	safe := newPush(t, wechat.PushConfig{Token: wechattest.PushToken, EncodingAESKey: wechattest.PushAESKey, AppID: wechattest.AppID})
	plain := newPush(t, wechat.PushConfig{Token: wechattest.PushToken})
	// The payload a developer posted on WeChat's forum (2025), label a
	// string in result and detail.
	const forum = `{"ToUserName":"gh_7bf1f1389686","FromUserName":"or9bw69jaWwJlF-6u0z3qT3KmO2k","CreateTime":1762329554,"MsgType":"event","Event":"wxa_media_check","appid":"wxb04d1be1ede56d47","trace_id":"690b03d2-301f6111-35ffbd44","version":2,"result":{"suggest":"pass","label":"100"},"detail":[{"strategy":"content_model","errcode":0,"suggest":"pass","label":"100","prob":90}]}`
	// The same shape with numbers, as the doc shows it.
	const numeric = `{"ToUserName":"gh_x","FromUserName":"o-sys","CreateTime":1762329554,"MsgType":"event","Event":"wxa_media_check","appid":"wx-fake-app","trace_id":"t-num","version":2,"errcode":0,"errmsg":"ok","result":{"suggest":"risky","label":20002},"detail":[{"strategy":"content_model","errcode":0,"suggest":"risky","label":20002,"prob":90.0}]}`
	tests := []struct {
		name        string
		push        *wechat.Push
		message     []byte
		safe        bool
		wantTrace   string
		wantVerdict wechat.MediaVerdict
		wantOK      bool
	}{
		{name: "forum payload, label a string", push: plain, message: []byte(forum), wantTrace: "690b03d2-301f6111-35ffbd44", wantVerdict: wechat.MediaVerdict{Suggest: wechat.SuggestPass, Label: 100}, wantOK: true},
		{name: "label a number", push: plain, message: []byte(numeric), wantTrace: "t-num", wantVerdict: wechat.MediaVerdict{Suggest: wechat.SuggestRisky, Label: 20002}, wantOK: true},
		{name: "safe mode JSON", push: safe, safe: true, message: wechattest.MediaCheckEvent("t-safe", "review", "21000", false), wantTrace: "t-safe", wantVerdict: wechat.MediaVerdict{Suggest: wechat.SuggestReview, Label: 21000}, wantOK: true},
		{name: "plaintext XML", push: plain, message: wechattest.MediaCheckEvent("t-xml", "risky", "20002", true), wantTrace: "t-xml", wantVerdict: wechat.MediaVerdict{Suggest: wechat.SuggestRisky, Label: 20002}, wantOK: true},
		{name: "safe mode XML", push: safe, safe: true, message: wechattest.MediaCheckEvent("t-safe-xml", "pass", "100", true), wantTrace: "t-safe-xml", wantVerdict: wechat.MediaVerdict{Suggest: wechat.SuggestPass, Label: 100}, wantOK: true},
		{name: "failed check", push: plain, message: []byte(`{"MsgType":"event","Event":"wxa_media_check","trace_id":"t-fail","errcode":"-1","result":{}}`), wantTrace: "t-fail"},
		{name: "unknown suggestion", push: plain, message: []byte(`{"MsgType":"event","Event":"wxa_media_check","trace_id":"t-odd","result":{"suggest":"maybe","label":""}}`), wantTrace: "t-odd"},
		{name: "another event", push: plain, message: []byte(`{"MsgType":"event","Event":"debug_demo","trace_id":"t-other","result":{"suggest":"pass"}}`), wantTrace: "t-other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := wechattest.NewPushRequest("/push", tt.message, wechattest.PushOptions{Safe: tt.safe})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(req.Body)
			ev, err := tt.push.Decode(req.URL.Query(), body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			v, ok := ev.MediaVerdict()
			if ev.TraceID != tt.wantTrace || v != tt.wantVerdict || ok != tt.wantOK {
				t.Errorf("Decode = trace %q, verdict %+v (ok %v); want %q, %+v (ok %v)", ev.TraceID, v, ok, tt.wantTrace, tt.wantVerdict, tt.wantOK)
			}
			if tt.wantOK && (len(ev.Detail) != 1 || ev.Detail[0].Label != wechat.Number(tt.wantVerdict.Label) || ev.Detail[0].Prob != 90) {
				t.Errorf("detail = %+v", ev.Detail)
			}
		})
	}
}

func TestDecodeRefusesABadLabel(t *testing.T) {
	t.Parallel()
	p := newPush(t, wechat.PushConfig{Token: wechattest.PushToken})
	req, err := wechattest.NewPushRequest("/push", []byte(`{"MsgType":"event","Event":"wxa_media_check","result":{"suggest":"pass","label":"porn"}}`), wechattest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if _, err := p.Decode(req.URL.Query(), body); !errors.Is(err, wechat.ErrPushMalformed) {
		t.Fatalf("Decode with a non-numeric label = %v; want ErrPushMalformed", err)
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	t.Parallel()
	p := newPush(t, wechat.PushConfig{Token: docToken, EncodingAESKey: docAESKey, AppID: docAppID})
	// Lengths around the 32-byte padding block, the empty message included.
	for _, n := range []int{0, 1, 12, 13, 14, 31, 32, 33, 200} {
		msg := []byte(strings.Repeat("x", n))
		sealed, err := p.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := p.Encrypt(msg)
		if again == sealed {
			t.Errorf("two seals of %d bytes are equal: the random prefix is missing", n)
		}
		q := url.Values{"timestamp": {"1"}, "nonce": {"2"}, "encrypt_type": {"aes"}, "msg_signature": {wechat.Sign(docToken, "1", "2", sealed)}}
		got, err := p.Open(q, docSafeBody(sealed))
		if err != nil || string(got) != string(msg) {
			t.Errorf("Open(Encrypt(%d bytes)) = %q, %v", n, got, err)
		}
	}
	if _, err := newPush(t, wechat.PushConfig{Token: docToken}).Encrypt([]byte("x")); err == nil {
		t.Error("Encrypt without a key succeeded")
	}
}

func TestNewPushRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  wechat.PushConfig
	}{
		{name: "no token", cfg: wechat.PushConfig{EncodingAESKey: docAESKey, AppID: docAppID}},
		{name: "key of 42 characters", cfg: wechat.PushConfig{Token: docToken, EncodingAESKey: docAESKey[1:], AppID: docAppID}},
		{name: "key of 44 characters", cfg: wechat.PushConfig{Token: docToken, EncodingAESKey: docAESKey + "A", AppID: docAppID}},
		{name: "key not base64", cfg: wechat.PushConfig{Token: docToken, EncodingAESKey: "-" + docAESKey[1:], AppID: docAppID}},
		{name: "key without app id", cfg: wechat.PushConfig{Token: docToken, EncodingAESKey: docAESKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := wechat.NewPush(tt.cfg); err == nil {
				t.Fatal("NewPush accepted it")
			}
		})
	}
}

// FuzzPushOpen feeds any ciphertext, correctly signed, to a safe-mode
// Push: it must not panic, must fail with one of its own errors, and what
// it opens must survive being sealed and opened again.
func FuzzPushOpen(f *testing.F) {
	seed, _ := base64.StdEncoding.DecodeString(docSealed)
	f.Add(seed)
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Add(make([]byte, 32))
	f.Add(make([]byte, 64))
	p, err := wechat.NewPush(wechat.PushConfig{Token: docToken, EncodingAESKey: docAESKey, AppID: docAppID})
	if err != nil {
		f.Fatal(err)
	}
	open := func(sealed string) ([]byte, error) {
		q := url.Values{"timestamp": {"1"}, "nonce": {"2"}, "encrypt_type": {"aes"}, "msg_signature": {wechat.Sign(docToken, "1", "2", sealed)}}
		return p.Open(q, docSafeBody(sealed))
	}
	f.Fuzz(func(t *testing.T, ct []byte) {
		msg, err := open(base64.StdEncoding.EncodeToString(ct))
		if err != nil {
			if !errors.Is(err, wechat.ErrPushMalformed) && !errors.Is(err, wechat.ErrPushMisconfigured) && !errors.Is(err, wechat.ErrPushAppID) {
				t.Fatalf("Open failed with a foreign error: %v", err)
			}
			return
		}
		sealed, err := p.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := open(sealed)
		if err != nil || string(again) != string(msg) {
			t.Fatalf("Open(Encrypt(%q)) = %q, %v", msg, again, err)
		}
	})
}
