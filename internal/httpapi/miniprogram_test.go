package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

func TestClientConfig(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{NoWorkers: true, Vars: map[string]string{"DAILY_QUOTA": "7"}})
	var c httpapi.ClientConfig
	res := s.API.Do(http.MethodGet, "/api/v1/client-config", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /client-config: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &c)
	if c.DailyLimit != 7 || c.PresetsVersion != wallpaper.PresetsVersion || c.SubscribeTemplateID != "" ||
		strings.Join(c.Sizes, ",") != "1024x1792,1792x1024,1024x1024" {
		t.Errorf("client config = %+v", c)
	}
}

func TestPresets(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{OpenAI: true})
	var presets []httpapi.PresetJSON
	s.API.Do(http.MethodGet, "/api/v1/presets", nil).JSON(t, &presets)
	names := map[string]string{}
	for _, p := range presets {
		names[p.ID] = p.Name
		resp, body := s.Download(t, p.CoverURL)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("cover of %s: %d %s", p.ID, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if cfg, err := png.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width != 360 || cfg.Height != 640 {
			t.Errorf("cover of %s: %+v %v", p.ID, cfg, err)
		}
	}
	for id, name := range map[string]string{"guofeng": "国风", "anime": "二次元", "cyberpunk": "赛博朋克", "watercolor": "水彩",
		"minimal": "极简", "oil": "油画", "pixel": "像素"} {
		if names[id] != name {
			t.Errorf("preset %s is named %q, want %q", id, names[id], name)
		}
	}
	wantError(t, s.API.Do(http.MethodGet, "/api/v1/presets/nope/cover", nil), http.StatusNotFound, "not_found")

	token := s.Token(t, "painter")
	wantError(t, s.Submit(t, token, map[string]string{"prompt": "a temple", "preset": "baroque"}), http.StatusBadRequest, "invalid_request")
	if used := s.Me(t, token).Quota.UsedToday; used != 0 {
		t.Fatalf("an unknown preset spent %d units", used)
	}
	res := s.Submit(t, token, map[string]string{"prompt": "a temple in the rain", "preset": "guofeng"})
	if res.Status != http.StatusAccepted {
		t.Fatalf("submit with a preset: %d %s", res.Status, res.Body)
	}
	var g httpapi.Generation
	res.JSON(t, &g)
	done := s.Wait(t, token, g.ID, 120*time.Second)
	if done.Status != "succeeded" || done.Prompt != "a temple in the rain" || done.Preset == nil || *done.Preset != "guofeng" ||
		done.Wallpaper.Preset == nil || *done.Wallpaper.Preset != "guofeng" || done.Wallpaper.Prompt != "a temple in the rain" {
		t.Fatalf("generation with a preset: %+v, wallpaper %+v", done, done.Wallpaper)
	}
	reqs := s.OpenAI.Requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Prompt, "a temple in the rain, ") ||
		!strings.Contains(reqs[0].Prompt, "traditional Chinese painting") {
		t.Errorf("the model was asked %q; want the user's text and the preset's words", reqs[0].Prompt)
	}
}

// TestOfflinePainterFollowsPresets: in dev the same prompt painted in two
// presets gives visibly different pictures.
func TestOfflinePainterFollowsPresets(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{})
	token := s.Token(t, "dev")
	mean := func(preset string) [3]float64 {
		res := s.Submit(t, token, map[string]string{"prompt": "a harbour", "preset": preset, "size": "1024x1024"})
		var g httpapi.Generation
		res.JSON(t, &g)
		done := s.Wait(t, token, g.ID, 120*time.Second)
		_, body := s.Download(t, done.Wallpaper.ThumbnailURL)
		img, _, err := image.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var sum [3]float64
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				sum[0], sum[1], sum[2] = sum[0]+float64(r), sum[1]+float64(g), sum[2]+float64(bl)
			}
		}
		n := float64(b.Dx() * b.Dy() * 257)
		return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
	}
	a, b := mean("cyberpunk"), mean("watercolor")
	diff := 0.0
	for i := range a {
		diff += (a[i] - b[i]) * (a[i] - b[i])
	}
	if diff < 20*20 {
		t.Errorf("cyberpunk %v and watercolor %v look alike (distance² %.0f)", a, b, diff)
	}
}

// visibleWallpaper paints one wallpaper and waits until anyone may see it.
func visibleWallpaper(t *testing.T, s *apptest.Service, token string) string {
	t.Helper()
	g := s.Wait(t, token, s.Generate(t, token, "a red kite over a field"), 120*time.Second)
	if g.Status != "succeeded" {
		t.Fatalf("generation %s %+v", g.Status, g.Error)
	}
	if s.WeChat != nil {
		apptest.WaitFor(t, 60*time.Second, "the image check to be answered", func() bool {
			for _, c := range s.WeChat.MediaChecks() {
				if c.Pushed != 0 {
					return true
				}
			}
			return false
		}, func() string { return fmt.Sprintf("checks %+v", s.WeChat.MediaChecks()) })
	}
	waitShown(t, s, g.Wallpaper.ID, true)
	return g.Wallpaper.ID
}

func TestWXACodeDev(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{})
	token := s.Token(t, "sharer")
	id := visibleWallpaper(t, s, token)
	res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id+"/wxacode", nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("wxacode in dev: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The image is the code alone, with its quiet zone: read as such (the
	// general detector's guesses at finder patterns miss a few codes).
	got, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("the dev code is not a readable QR code: %v", err)
	}
	if b := img.Bounds(); b.Dx() != b.Dy() || b.Dx() < 400 {
		t.Errorf("the dev code is %v, want a square of at least 400 px", b)
	}
	if want := "pages/detail/detail?id=" + id; got.GetText() != want {
		t.Errorf("the QR code says %q, want %q", got.GetText(), want)
	}
	// Private: no code.
	private := s.Wait(t, token, submitPrivate(t, s, token), 120*time.Second)
	wantError(t, s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+private.Wallpaper.ID+"/wxacode", nil), http.StatusNotFound, "not_found")
}

func submitPrivate(t *testing.T, s *apptest.Service, token string) string {
	t.Helper()
	res := s.Submit(t, token, map[string]any{"prompt": "a private garden", "public": false, "size": "1024x1024"})
	if res.Status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", res.Status, res.Body)
	}
	var g httpapi.Generation
	res.JSON(t, &g)
	if g.Public {
		t.Fatal("public: false came back public")
	}
	return g.ID
}

// wechatService is the service with WeChat configured against the fake,
// which answers each image check and pushes pass at once.
func wechatService(t *testing.T, vars map[string]string) *apptest.Service {
	t.Helper()
	v := map[string]string{"WECHAT_PUSH_TOKEN": wechattest.PushToken, "WECHAT_SUBSCRIBE_TEMPLATE_ID": "tmpl-ready",
		"WECHAT_MINIPROGRAM_ENV": "trial"}
	for k, x := range vars {
		v[k] = x
	}
	s := apptest.New(t, apptest.Options{WeChat: true, S3: true, OpenAI: true, Vars: v})
	s.WeChat.AutoPush(t, wechattest.AutoPush{URL: s.URL + "/api/v1/wechat/push"})
	return s
}

func TestWXACodeWeChat(t *testing.T) {
	t.Parallel()
	s := wechatService(t, nil)
	token := s.Token(t, "sharer")
	id := visibleWallpaper(t, s, token)
	for range 2 { // the second from storage
		res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id+"/wxacode", nil)
		if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(res.Body, wechattest.CodeJPEG()) {
			t.Fatalf("wxacode: %d %s, %d bytes", res.Status, res.Header.Get("Content-Type"), len(res.Body))
		}
	}
	codes := s.WeChat.WXACodes()
	if len(codes) != 1 {
		t.Fatalf("WeChat was asked for %d codes, want 1 (kept after the first)", len(codes))
	}
	if c := codes[0]; c.Scene != strings.ReplaceAll(id, "-", "") || c.Page != "pages/detail/detail" || c.EnvVersion != "trial" {
		t.Errorf("code asked %+v", c)
	}
}

func TestSubscribeMessages(t *testing.T) {
	t.Parallel()
	s := wechatService(t, nil)
	token := s.Token(t, "waiter")
	submit := func(body map[string]any) httpapi.Generation {
		t.Helper()
		body["size"] = "1024x1024"
		res := s.Submit(t, token, body)
		if res.Status != http.StatusAccepted {
			t.Fatalf("submit: %d %s", res.Status, res.Body)
		}
		var g httpapi.Generation
		res.JSON(t, &g)
		return s.Wait(t, token, g.ID, 120*time.Second)
	}
	// A public one: the message comes once the image check has passed it.
	public := submit(map[string]any{"prompt": "lanterns on a river", "notify": true})
	waitShown(t, s, public.Wallpaper.ID, true)
	apptest.WaitFor(t, 60*time.Second, "one message", func() bool { return len(s.WeChat.SubscribeMessages()) == 1 })
	m := s.WeChat.SubscribeMessages()[0]
	if m.ToUser != "o-waiter" || m.TemplateID != "tmpl-ready" || m.MiniprogramState != "trial" ||
		m.Data["thing1"]["value"] != "lanterns on a river" || m.Data["phrase2"]["value"] == "" || m.Data["time3"]["value"] == "" {
		t.Errorf("message = %+v", m)
	}
	// Without notify: none.
	submit(map[string]any{"prompt": "quiet snow"})
	// A failure: one message, its outcome said.
	s.OpenAI.Enqueue(imagegentest.ContentPolicy())
	failed := submit(map[string]any{"prompt": "a refused prompt", "notify": true})
	if failed.Status != "failed" {
		t.Fatalf("want a failed generation, got %s", failed.Status)
	}
	apptest.WaitFor(t, 60*time.Second, "the failure's message", func() bool { return len(s.WeChat.SubscribeMessages()) == 2 })
	if m := s.WeChat.SubscribeMessages()[1]; m.Data["thing1"]["value"] != "a refused prompt" || !strings.Contains(m.Data["thing4"]["value"], "额度已退回") {
		t.Errorf("failure message = %+v", m)
	}
	// A refusal (43101) is logged, never retried, and the generation is
	// untouched.
	s.WeChat.FailSubscribe(43101)
	refused := submit(map[string]any{"prompt": "a field of stars", "notify": true, "public": false})
	time.Sleep(3 * time.Second)
	if n := len(s.WeChat.SubscribeMessages()); n != 2 {
		t.Errorf("%d messages after a refused one, want still 2", n)
	}
	if again := s.Wait(t, token, refused.ID, time.Second); again.Status != "succeeded" {
		t.Errorf("a refused message changed the generation to %s", again.Status)
	}
	var claimed int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM generations WHERE notified_at IS NOT NULL`).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != 3 {
		t.Errorf("%d messages claimed, want 3 (each at most once, the one without notify none)", claimed)
	}
	if got := s.Metric(t, `wallpaperd_dependency_calls_total{dependency="wechat",operation="subscribe_send",outcome="subscribe_refused"}`); got != 1 {
		t.Errorf("refused messages counted %v, want 1", got)
	}
}
