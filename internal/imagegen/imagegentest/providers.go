package imagegentest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialect is what makes a fake one provider: where its API lives, how it
// answers a success and a bad key.
type dialect struct {
	name     string
	basePath string
	sizeKey  string // the request field holding "WxH"
	success  func(req map[string]any, url, b64, size string) any
	badKey   func(key string) Reply
}

// Provider is a scripted fake of Volcengine Ark, Zhipu or SiliconFlow:
// an httptest server answering POST {BaseURL}/images/generations with the
// provider's own JSON, success and error alike, and serving the images it
// hands out by URL. Replies script the answers one request at a time, as
// for the OpenAI fake; once the queue is used up every request gets the
// default reply (a success, unless SetDefault says otherwise).
type Provider struct {
	t       testing.TB
	d       dialect
	srv     *httptest.Server
	release chan struct{}

	mu        sync.Mutex
	queue     []Reply
	fallback  Reply
	requests  []map[string]any
	downloads int
	images    map[string]Reply
}

func newProvider(t testing.TB, d dialect) *Provider {
	t.Helper()
	p := &Provider{t: t, d: d, release: make(chan struct{}), images: map[string]Reply{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+d.basePath+"/images/generations", p.generate)
	mux.HandleFunc("GET /files/{name}", p.download)
	p.srv = httptest.NewServer(mux)
	// Release hanging handlers before closing the server (cleanups run
	// last-in first-out).
	t.Cleanup(p.srv.Close)
	t.Cleanup(func() { close(p.release) })
	return p
}

// NewFakeArk starts a fake Volcengine Ark images API (Seedream).
func NewFakeArk(t testing.TB) *Provider {
	t.Helper()
	return newProvider(t, dialect{
		name: "ark", basePath: "/api/v3", sizeKey: "size",
		success: func(req map[string]any, url, b64, size string) any {
			item := map[string]any{"size": size}
			if b64 != "" {
				item["b64_json"] = b64
			} else {
				item["url"] = url
			}
			return map[string]any{
				"model": req["model"], "created": time.Now().Unix(), "data": []any{item},
				"usage": map[string]any{"generated_images": 1, "output_tokens": 14400, "total_tokens": 14400},
			}
		},
		badKey: func(string) Reply {
			return ArkError(http.StatusUnauthorized, "AuthenticationError",
				"The API key or AK/SK in the request is missing or invalid. Request id: 0217fake")
		},
	})
}

// NewFakeZhipu starts a fake Zhipu (BigModel) images API (CogView).
func NewFakeZhipu(t testing.TB) *Provider {
	t.Helper()
	return newProvider(t, dialect{
		name: "zhipu", basePath: "/api/paas/v4", sizeKey: "size",
		success: func(_ map[string]any, url, _, _ string) any {
			return map[string]any{
				"created": time.Now().Unix(), "data": []any{map[string]any{"url": url}},
				"content_filter": []any{map[string]any{"role": "assistant", "level": 3}},
			}
		},
		badKey: func(string) Reply { return ZhipuError(http.StatusUnauthorized, "1000", "身份验证失败。") },
	})
}

// NewFakeSiliconFlow starts a fake SiliconFlow images API.
func NewFakeSiliconFlow(t testing.TB) *Provider {
	t.Helper()
	return newProvider(t, dialect{
		name: "siliconflow", basePath: "/v1", sizeKey: "image_size",
		success: func(_ map[string]any, url, _, _ string) any {
			return map[string]any{
				"images": []any{map[string]any{"url": url}}, "timings": map[string]any{"inference": 3.2}, "seed": 1234567,
			}
		},
		// SiliconFlow answers a bad key in plain text.
		badKey: func(string) Reply { return Reply{Status: http.StatusUnauthorized, Body: "Invalid token"} },
	})
}

// ArkError answers status with Ark's error body.
func ArkError(status int, code, message string) Reply {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": code, "message": message, "param": "", "type": strings.ReplaceAll(http.StatusText(status), " ", ""),
	}})
	return Reply{Status: status, Body: string(body)}
}

// ZhipuError answers status with Zhipu's error body.
func ZhipuError(status int, code, message string) Reply {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": message}})
	return Reply{Status: status, Body: string(body)}
}

// SiliconFlowError answers status with SiliconFlow's error body; code 0
// leaves the code out, as its 429 does.
func SiliconFlowError(status, code int, message string) Reply {
	m := map[string]any{"message": message, "data": nil}
	if code != 0 {
		m["code"] = code
	}
	body, _ := json.Marshal(m)
	return Reply{Status: status, Body: string(body)}
}

// Expired is a success whose image URL has expired by the time it is
// fetched: the storage behind it answers 403 with its XML error.
func Expired() Reply {
	return Reply{Download: &Download{Status: http.StatusForbidden, ContentType: "application/xml",
		Body: []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)}}
}

// BaseURL is the fake's API root (ARK_BASE_URL, ZHIPU_BASE_URL,
// SILICONFLOW_BASE_URL).
func (p *Provider) BaseURL() string { return p.srv.URL + p.d.basePath }

// Enqueue scripts the answers to the next requests, in order.
func (p *Provider) Enqueue(replies ...Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, replies...)
}

// SetDefault is the answer once the queue is used up: a provider that is
// down answers every request the same way.
func (p *Provider) SetDefault(r Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fallback = r
}

// Calls is the number of image requests received.
func (p *Provider) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests)
}

// Requests returns the JSON bodies of the image requests, in order.
func (p *Provider) Requests() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.requests...)
}

// Downloads is the number of image downloads received.
func (p *Provider) Downloads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.downloads
}

func (p *Provider) generate(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeReply(w, Reply{Status: http.StatusBadRequest, Body: `{"error":{"code":"InvalidParameter","message":"bad json"}}`})
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	reply := p.fallback
	if len(p.queue) > 0 {
		reply, p.queue = p.queue[0], p.queue[1:]
	}
	n := len(p.requests)
	p.mu.Unlock()

	if key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); key != APIKey {
		writeReply(w, p.d.badKey(key))
		return
	}
	if reply.Hang {
		p.hang(r)
		return
	}
	for k, v := range reply.Header {
		w.Header()[k] = v
	}
	if reply.Status >= 400 {
		writeReply(w, reply)
		return
	}
	size, _ := req[p.d.sizeKey].(string)
	if reply.Image == nil {
		reply.Image = paint(p.t, size)
	}
	var url, b64 string
	switch {
	case reply.B64 != nil && *reply.B64, req["response_format"] == "b64_json":
		b64 = base64.StdEncoding.EncodeToString(reply.Image)
	case reply.ImageURL != "":
		url = reply.ImageURL
	default:
		name := strconv.Itoa(n) + ".png"
		p.mu.Lock()
		p.images[name] = reply
		p.mu.Unlock()
		url = p.srv.URL + "/files/" + name + "?X-Tos-Expires=86400&X-Tos-Signature=fake"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p.d.success(req, url, b64, size))
}

func (p *Provider) download(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		p.t.Errorf("imagegentest: the %s image download carried an Authorization header", p.d.name)
	}
	p.mu.Lock()
	p.downloads++
	reply, ok := p.images[r.PathValue("name")]
	p.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	serveImage(w, r, reply, p.hang)
}

func (p *Provider) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.release:
	}
}
