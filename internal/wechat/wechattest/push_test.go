package wechattest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// TestAutoPush: after each accepted media check the fake fetches the
// image and pushes the verdict its Verdict function gives, sealed and
// signed so that wechat.Push opens it; an image it cannot fetch gets no
// push.
func TestAutoPush(t *testing.T) {
	t.Parallel()
	p, err := wechat.NewPush(wechat.PushConfig{Token: wechattest.PushToken, EncodingAESKey: wechattest.PushAESKey, AppID: wechattest.AppID})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan wechat.Event, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := p.Decode(r.URL.Query(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		events <- ev
		_, _ = io.WriteString(w, "success")
	}))
	t.Cleanup(receiver.Close)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good.png":
			_, _ = io.WriteString(w, "GOOD")
		case "/bad.png":
			_, _ = io.WriteString(w, "BAD")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(images.Close)

	fake := wechattest.New(t)
	fake.AutoPush(t, wechattest.AutoPush{
		URL: receiver.URL, Safe: true, Delay: 10 * time.Millisecond,
		Verdict: func(_ wechattest.MediaCheck, image []byte) (string, string) {
			if string(image) == "BAD" {
				return "risky", "20002"
			}
			return "pass", "100"
		},
	})
	c, err := wechat.New(wechat.Config{AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]wechat.MediaVerdict{}
	for path, v := range map[string]wechat.MediaVerdict{
		"/good.png": {Suggest: wechat.SuggestPass, Label: 100},
		"/bad.png":  {Suggest: wechat.SuggestRisky, Label: 20002},
	} {
		id, err := c.CheckImage(context.Background(), "o-alice", images.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = v
	}
	missing, err := c.CheckImage(context.Background(), "o-alice", images.URL+"/missing.png")
	if err != nil {
		t.Fatal(err)
	}

	for range want {
		select {
		case ev := <-events:
			v, ok := ev.MediaVerdict()
			if w, known := want[ev.TraceID]; !known || !ok || v != w {
				t.Errorf("pushed %s: %+v (ok %v); want %+v", ev.TraceID, v, ok, w)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no push within 30 s")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := 0
		for _, mc := range fake.MediaChecks() {
			switch {
			case mc.TraceID == missing && mc.Fetched == http.StatusNotFound && mc.Err != "" && mc.Pushed == 0:
				done++
			case mc.TraceID != missing && mc.Fetched == http.StatusOK && mc.Pushed == http.StatusOK && mc.Err == "":
				done++
			}
		}
		if done == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("media checks = %+v", fake.MediaChecks())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case ev := <-events:
		t.Errorf("an image that could not be fetched was pushed: %+v", ev)
	default:
	}
}
