// Package imagegentest holds fake image APIs for tests, httptest servers
// speaking each provider's real JSON whose answers can be scripted one
// request at a time: Fake is OpenAI's Images API (POST
// /v1/images/generations), Provider is Volcengine Ark's, Zhipu's or
// SiliconFlow's.
package imagegentest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
)

// APIKey is the key the fake accepts; any other gets a 401.
const APIKey = "sk-fake-0123456789abcdef"

// Reply is one scripted answer to an image request. The zero Reply is a
// success in the format the request asked for, with a PNG of the
// requested size.
type Reply struct {
	// Status of the API answer; 0 is 200. With 400 and above, Body is sent
	// as it is (see Error).
	Status int
	Body   string
	Header http.Header // extra headers, such as Retry-After
	// Hang never answers: the request waits until the client gives up.
	Hang bool

	// For a success: the image (nil paints a PNG of the requested size),
	// whether it comes as b64_json (true) or as a URL to download (false;
	// the default follows the request's response_format), and a revised
	// prompt as dall-e-3 returns.
	Image         []byte
	B64           *bool
	RevisedPrompt string
	// Download scripts how the image URL answers; nil serves Image.
	Download *Download
	// ImageURL, when set, is the URL answered instead of the fake's own
	// download URL (which is http on 127.0.0.1).
	ImageURL string
}

// Download is how the fake answers the download of an image URL.
type Download struct {
	Status      int // 0 is 200
	ContentType string
	Body        []byte
	Hang        bool
}

// OKURL answers with a URL from which img can be downloaded.
func OKURL(img []byte) Reply { f := false; return Reply{Image: img, B64: &f} }

// OKB64 answers with img as b64_json.
func OKB64(img []byte) Reply { t := true; return Reply{Image: img, B64: &t} }

// Error answers status with OpenAI's error body.
func Error(status int, code, typ, message string) Reply {
	var c any
	if code != "" {
		c = code
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": typ, "param": nil, "code": c}})
	return Reply{Status: status, Body: string(body)}
}

// RateLimited is a 429 with a Retry-After header (none when retryAfter is "").
func RateLimited(retryAfter string) Reply {
	r := Error(http.StatusTooManyRequests, "rate_limit_exceeded", "requests",
		"Rate limit exceeded for images per minute in organization org-fake. Limit: 5/1min. Current: 6/1min.")
	if retryAfter != "" {
		r.Header = http.Header{"Retry-After": {retryAfter}}
	}
	return r
}

// ContentPolicy is dall-e-3's refusal of a prompt.
func ContentPolicy() Reply {
	return Error(http.StatusBadRequest, "content_policy_violation", "invalid_request_error",
		"Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.")
}

// Billing is the answer of an account over its spending limit.
func Billing() Reply {
	return Error(http.StatusBadRequest, "billing_hard_limit_reached", "invalid_request_error", "Billing hard limit has been reached")
}

// ServerError is OpenAI's 500.
func ServerError() Reply {
	return Error(http.StatusInternalServerError, "", "server_error",
		"The server had an error while processing your request. Sorry about that!")
}

// Hang is an answer that never comes.
func Hang() Reply { return Reply{Hang: true} }

// Fake is a scripted OpenAI Images API.
type Fake struct {
	t       testing.TB
	srv     *httptest.Server
	release chan struct{}

	mu        sync.Mutex
	latency   time.Duration
	queue     []Reply
	requests  []openai.ImageRequest
	downloads int
	images    map[string]Reply
}

// NewFakeOpenAI starts a fake, stopped when the test ends. Point the
// client at BaseURL() with APIKey.
func NewFakeOpenAI(t testing.TB) *Fake {
	t.Helper()
	f := &Fake{t: t, release: make(chan struct{}), images: map[string]Reply{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/images/generations", f.generate)
	mux.HandleFunc("GET /files/{name}", f.download)
	f.srv = httptest.NewServer(mux)
	// Cleanups run last-in first-out: release hanging handlers first, so
	// that closing the server does not wait for them.
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.release) })
	return f
}

// BaseURL is the fake's OPENAI_BASE_URL.
func (f *Fake) BaseURL() string { return f.srv.URL + "/v1" }

// SetLatency makes every image request take d before its answer (or until
// the client gives up): a model slow enough to kill a process mid-job.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// Enqueue scripts the answers to the next requests, in order; once they
// are used up, every request succeeds.
func (f *Fake) Enqueue(replies ...Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, replies...)
}

// Calls is the number of image requests received.
func (f *Fake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// Requests returns the image requests received, in order.
func (f *Fake) Requests() []openai.ImageRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]openai.ImageRequest(nil), f.requests...)
}

// Downloads is the number of image downloads received.
func (f *Fake) Downloads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.downloads
}

func (f *Fake) generate(w http.ResponseWriter, r *http.Request) {
	var req openai.ImageRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeReply(w, Error(http.StatusBadRequest, "", "invalid_request_error", "We could not parse the JSON body of your request."))
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	reply := Reply{}
	if len(f.queue) > 0 {
		reply, f.queue = f.queue[0], f.queue[1:]
	}
	n := len(f.requests)
	latency := f.latency
	f.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		case <-f.release:
			return
		}
	}

	if r.Header.Get("Authorization") != "Bearer "+APIKey {
		// OpenAI echoes a masked key; the fake echoes it whole, so tests
		// can prove that the client never passes it on.
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		writeReply(w, Error(http.StatusUnauthorized, "invalid_api_key", "invalid_request_error",
			"Incorrect API key provided: "+key+". You can find your API key at https://platform.openai.com/account/api-keys."))
		return
	}
	if reply.Hang {
		f.hang(r)
		return
	}
	if reply.Status >= 400 {
		for k, v := range reply.Header {
			w.Header()[k] = v
		}
		writeReply(w, reply)
		return
	}

	if reply.Image == nil {
		reply.Image = paint(f.t, req.Size)
	}
	b64 := req.ResponseFormat == openai.CreateImageResponseFormatB64JSON || req.ResponseFormat == "" && strings.HasPrefix(req.Model, "gpt-image")
	if reply.B64 != nil {
		b64 = *reply.B64
	}
	item := map[string]any{}
	if b64 {
		item["b64_json"] = base64.StdEncoding.EncodeToString(reply.Image)
	} else if reply.ImageURL != "" {
		item["url"] = reply.ImageURL
	} else {
		name := strconv.Itoa(n) + ".png"
		f.mu.Lock()
		f.images[name] = reply
		f.mu.Unlock()
		item["url"] = f.srv.URL + "/files/" + name + "?se=2030-01-01&sig=fake"
	}
	if reply.RevisedPrompt != "" {
		item["revised_prompt"] = reply.RevisedPrompt
	}
	body := map[string]any{"created": time.Now().Unix(), "data": []any{item}}
	if strings.HasPrefix(req.Model, "gpt-image") {
		body["usage"] = map[string]any{"total_tokens": 4200, "input_tokens": 10, "output_tokens": 4190,
			"input_tokens_details": map[string]any{"text_tokens": 10, "image_tokens": 0}}
	}
	for k, v := range reply.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (f *Fake) download(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		f.t.Errorf("imagegentest: the image download carried an Authorization header")
	}
	f.mu.Lock()
	f.downloads++
	reply, ok := f.images[r.PathValue("name")]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	serveImage(w, r, reply, f.hang)
}

// serveImage answers the download of reply's image as it is scripted (by
// default the image as a PNG); a hanging one waits in hang.
func serveImage(w http.ResponseWriter, r *http.Request, reply Reply, hang func(*http.Request)) {
	d := reply.Download
	if d == nil {
		d = &Download{ContentType: "image/png", Body: reply.Image}
	}
	if d.Hang {
		hang(r)
		return
	}
	if d.ContentType != "" {
		w.Header().Set("Content-Type", d.ContentType)
	}
	w.WriteHeader(max(d.Status, http.StatusOK))
	_, _ = w.Write(d.Body)
}

// hang waits until the client gives up or the test ends.
func (f *Fake) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.release:
	}
}

func writeReply(w http.ResponseWriter, r Reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_, _ = w.Write([]byte(r.Body))
}

// painted caches paint's PNGs by size: encoding a 1440x2560 picture takes
// a second under the race detector, and tests ask for the same few sizes.
var painted sync.Map // "WxH" → []byte

// paint returns a one-colour PNG of size "WxH" (1024x1024 when unreadable):
// cheap to make at any size, and a real image of the size asked for.
func paint(t testing.TB, size string) []byte {
	w, h := 1024, 1024
	if ws, hs, ok := strings.Cut(size, "x"); ok {
		if a, err := strconv.Atoi(ws); err == nil && a > 0 {
			w = a
		}
		if b, err := strconv.Atoi(hs); err == nil && b > 0 {
			h = b
		}
	}
	key := fmt.Sprintf("%dx%d", w, h)
	if b, ok := painted.Load(key); ok {
		return b.([]byte)
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.RGBA{70, 110, 200, 255}})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Errorf("imagegentest: painting %dx%d: %v", w, h, err)
	}
	painted.Store(key, buf.Bytes())
	return buf.Bytes()
}

// PNG returns a PNG of w x h pixels, for scripting replies.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	return paint(t, fmt.Sprintf("%dx%d", w, h))
}
