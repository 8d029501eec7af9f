package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/imagegen/imagegentest"
)

// checkImage downloads url, checks its type and pixel size and returns it.
func checkImage(t *testing.T, ta *apptest.Service, url, wantFormat string, w, h int) []byte {
	t.Helper()
	resp, body := ta.Download(t, url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s is not an image: %v", url, err)
	}
	if format != wantFormat || cfg.Width != w || cfg.Height != h {
		t.Errorf("%s is a %dx%d %s, want %dx%d %s", url, cfg.Width, cfg.Height, format, w, h, wantFormat)
	}
	return body
}

func TestGenerationEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		opts         apptest.Options
		size         string
		wantProvider string
		wantModel    string
		wantW        int
		wantH        int
		wantThumbWH  [2]int
	}{
		{
			name:         "dev defaults: offline painter, local storage",
			size:         "1024x1792",
			wantProvider: "offline", wantModel: "offline", wantW: 1024, wantH: 1792, wantThumbWH: [2]int{360, 630},
		},
		{
			name:         "the default OpenAI model paints the product size itself",
			opts:         apptest.Options{OpenAI: true},
			size:         "1024x1792",
			wantProvider: "openai", wantModel: "gpt-image-2.6-flare", wantW: 1024, wantH: 1792, wantThumbWH: [2]int{360, 630},
		},
		{
			name:         "dall-e-3 by URL into S3",
			opts:         apptest.Options{S3: true, OpenAI: true, Vars: map[string]string{"IMAGE_MODEL": "dall-e-3"}},
			size:         "1792x1024",
			wantProvider: "openai", wantModel: "dall-e-3", wantW: 1792, wantH: 1024, wantThumbWH: [2]int{630, 360},
		},
		{
			name:         "gpt-image-1 by base64 into S3",
			opts:         apptest.Options{S3: true, OpenAI: true, Vars: map[string]string{"IMAGE_MODEL": "gpt-image-1"}},
			size:         "1024x1792",
			wantProvider: "openai", wantModel: "gpt-image-1", wantW: 1024, wantH: 1536, wantThumbWH: [2]int{360, 540},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ta := apptest.New(t, tt.opts)
			token := ta.Token(t, "alice")

			res := ta.Submit(t, token, map[string]string{"prompt": "  a quiet lake at dawn  ", "size": tt.size})
			if res.Status != http.StatusAccepted {
				t.Fatalf("submit: %d %s", res.Status, res.Body)
			}
			var g httpapi.Generation
			res.JSON(t, &g)
			if g.Status != "queued" || g.Prompt != "a quiet lake at dawn" || g.Style != "vivid" || g.Quality != "standard" {
				t.Errorf("accepted generation = %+v", g)
			}
			if q := ta.Me(t, token).Quota; q.UsedToday != 1 || q.Remaining != 9 {
				t.Errorf("quota after submit = %+v", q)
			}

			done := ta.Wait(t, token, g.ID, 90*time.Second)
			if done.Status != "succeeded" || done.Wallpaper == nil || done.FinishedAt == nil || done.Attempts != 1 {
				t.Fatalf("finished generation = %+v", done)
			}
			w := done.Wallpaper
			if w.Provider != tt.wantProvider || w.Model != tt.wantModel || w.Width != tt.wantW || w.Height != tt.wantH || w.Size != tt.size || !w.Public {
				t.Errorf("wallpaper = %+v", w)
			}
			// The image check (the local one here) approves it and the
			// storage sync publishes it: then it is in the public gallery,
			// its images at public URLs anyone can fetch, labelled.
			apptest.WaitFor(t, 60*time.Second, "the wallpaper to reach the public gallery", func() bool {
				var feed httpapi.WallpaperPage
				ta.API.Do(http.MethodGet, "/api/v1/wallpapers", nil).JSON(t, &feed)
				return len(feed.Items) == 1 && feed.Items[0].ID == w.ID
			})
			var shown httpapi.Wallpaper
			ta.API.Do(http.MethodGet, "/api/v1/wallpapers/"+w.ID, nil).JSON(t, &shown)
			if !shown.AIGenerated || shown.Review != "" {
				t.Errorf("to others the wallpaper says ai_generated %v, review %q; want true and no review", shown.AIGenerated, shown.Review)
			}
			var mine httpapi.Wallpaper
			ta.API.Do(http.MethodGet, "/api/v1/wallpapers/"+w.ID, nil, apitest.Bearer(token)).JSON(t, &mine)
			if mine.Review != "approved" {
				t.Errorf("to its owner the review is %q, want approved", mine.Review)
			}
			for _, u := range []string{shown.ImageURL, shown.ThumbnailURL} {
				if !strings.Contains(u, "/public/w/") {
					t.Errorf("a visible wallpaper's URL %s is not under the public prefix", u)
				}
			}
			image := checkImage(t, ta, shown.ImageURL, "jpeg", tt.wantW, tt.wantH)
			checkImage(t, ta, shown.ThumbnailURL, "jpeg", tt.wantThumbWH[0], tt.wantThumbWH[1])
			if l, ok, err := aigc.Read(image); err != nil || !ok || l.Label != aigc.Generated || l.ProduceID != w.ID {
				t.Errorf("the display image's AIGC label: %+v, %v, %v; want one for %s", l, ok, err, w.ID)
			}
			if q := ta.Me(t, token).Quota; q.UsedToday != 1 {
				t.Errorf("quota after success = %+v, want 1 used", q)
			}

			list := ta.API.Do(http.MethodGet, "/api/v1/me/generations", nil, apitest.Bearer(token))
			var page httpapi.GenerationPage
			list.JSON(t, &page)
			if len(page.Items) != 1 || page.Items[0].ID != g.ID || page.NextCursor != nil {
				t.Errorf("my generations = %+v", page)
			}
		})
	}
}

func TestGenerationFailuresRefund(t *testing.T) {
	t.Parallel()
	img := func() imagegentest.Reply { return imagegentest.Reply{} }
	tests := []struct {
		name         string
		replies      []imagegentest.Reply
		vars         map[string]string
		wantStatus   string
		wantCode     string
		wantAttempts int
		wantCalls    int
	}{
		{"content policy fails at once", []imagegentest.Reply{imagegentest.ContentPolicy()}, nil, "failed", "content_policy", 1, 1},
		{"billing fails at once", []imagegentest.Reply{imagegentest.Billing()}, nil, "failed", "upstream_billing", 1, 1},
		{"bad key fails at once", []imagegentest.Reply{imagegentest.Error(401, "invalid_api_key", "invalid_request_error", "Incorrect API key provided")}, nil, "failed", "upstream_auth", 1, 1},
		{"500 then success", []imagegentest.Reply{imagegentest.ServerError(), img()}, nil, "succeeded", "", 2, 2},
		{"429 until out of attempts", []imagegentest.Reply{imagegentest.RateLimited("1"), imagegentest.RateLimited("1"), imagegentest.RateLimited("1")},
			map[string]string{"JOB_MAX_ATTEMPTS": "3"}, "failed", "upstream_rate_limited", 3, 3},
		{"hang past the timeout", []imagegentest.Reply{imagegentest.Hang(), imagegentest.Hang()},
			map[string]string{"JOB_MAX_ATTEMPTS": "2", "OPENAI_TIMEOUT": "300ms"}, "failed", "upstream_timeout", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ta := apptest.New(t, apptest.Options{OpenAI: true, Vars: tt.vars})
			ta.OpenAI.Enqueue(tt.replies...)
			token := ta.Token(t, "bob")
			res := ta.Submit(t, token, map[string]string{"prompt": "a red fox in snow"})
			if res.Status != http.StatusAccepted {
				t.Fatalf("submit: %d %s", res.Status, res.Body)
			}
			var g httpapi.Generation
			res.JSON(t, &g)
			done := ta.Wait(t, token, g.ID, 90*time.Second)
			if done.Status != tt.wantStatus || done.Attempts != tt.wantAttempts {
				t.Errorf("status %s after %d attempts, want %s after %d (error %+v)", done.Status, done.Attempts, tt.wantStatus, tt.wantAttempts, done.Error)
			}
			if tt.wantCode != "" && (done.Error == nil || done.Error.Code != tt.wantCode || done.Error.Message == "") {
				t.Errorf("error = %+v, want code %s", done.Error, tt.wantCode)
			}
			wantUsed := 0
			if tt.wantStatus == "succeeded" {
				wantUsed = 1
			}
			if q := ta.Me(t, token).Quota; q.UsedToday != wantUsed || q.Remaining != 10-wantUsed {
				t.Errorf("quota = %+v, want %d used", q, wantUsed)
			}
			if got := ta.OpenAI.Calls(); got != tt.wantCalls {
				t.Errorf("the image API was called %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestQuotaIsExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	// Painting is beside the point here: the model hangs (until the test
	// stops the workers) so the accepted jobs cost no CPU.
	ta := apptest.New(t, apptest.Options{OpenAI: true, Vars: map[string]string{"DAILY_QUOTA": "10", "GENERATION_RATE_PER_MINUTE": "1000"}})
	for range 10 {
		ta.OpenAI.Enqueue(imagegentest.Hang())
	}
	token := ta.Token(t, "carol")

	const n = 50
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := ta.Submit(t, token, map[string]string{"prompt": fmt.Sprintf("storm over the sea #%d", i)})
			statuses[i] = res.Status
			if res.Status == http.StatusTooManyRequests {
				if res.ErrorCode() != "quota_exceeded" || res.Header.Get("Retry-After") == "" {
					t.Errorf("429 without quota_exceeded and Retry-After: %s %v", res.Body, res.Header)
				}
			}
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusAccepted] != 10 || count[http.StatusTooManyRequests] != 40 {
		t.Fatalf("statuses = %v, want 10×202 and 40×429", count)
	}
	var rows int
	if err := ta.Pool.QueryRow(context.Background(), `SELECT count(*) FROM generations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 10 {
		t.Errorf("%d generations recorded, want 10", rows)
	}
	if q := ta.Me(t, token).Quota; q.UsedToday != 10 || q.Remaining != 0 {
		t.Errorf("quota = %+v", q)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	ta := apptest.New(t, apptest.Options{})
	token := ta.Token(t, "dave")
	key := apitest.Header("Idempotency-Key", "submit-7f3a")
	body := map[string]string{"prompt": "city lights in rain", "style": "natural"}

	first := ta.Submit(t, token, body, key)
	if first.Status != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	var g1, g2 httpapi.Generation
	first.JSON(t, &g1)
	again := ta.Submit(t, token, body, key)
	if again.Status != http.StatusOK {
		t.Fatalf("replay: %d %s", again.Status, again.Body)
	}
	again.JSON(t, &g2)
	if g1.ID != g2.ID {
		t.Errorf("replay made a new generation: %s then %s", g1.ID, g2.ID)
	}
	conflict := ta.Submit(t, token, map[string]string{"prompt": "something else"}, key)
	if conflict.Status != http.StatusConflict || conflict.ErrorCode() != "conflict" {
		t.Errorf("same key, other body: %d %s", conflict.Status, conflict.Body)
	}
	// Another user's identical key is theirs alone.
	other := ta.Token(t, "erin")
	if res := ta.Submit(t, other, body, key); res.Status != http.StatusAccepted {
		t.Errorf("another user's same key: %d %s", res.Status, res.Body)
	}
	if q := ta.Me(t, token).Quota; q.UsedToday != 1 {
		t.Errorf("quota = %+v, want 1 unit for a replayed request", q)
	}
	// After 24 hours the key names nothing any more.
	if _, err := ta.Pool.Exec(context.Background(), `UPDATE generations SET created_at = created_at - interval '25 hours' WHERE id = $1`, g1.ID); err != nil {
		t.Fatal(err)
	}
	if res := ta.Submit(t, token, body, key); res.Status != http.StatusAccepted {
		t.Errorf("key older than 24h: %d %s, want a new generation", res.Status, res.Body)
	}
}

func TestGenerationRefusalsSpendNothing(t *testing.T) {
	t.Parallel()
	ta := apptest.New(t, apptest.Options{})
	token := ta.Token(t, "frank")
	other := ta.Token(t, "grace")
	long := bytes.Repeat([]byte("山"), 1001)
	tests := []struct {
		name   string
		body   any
		opts   []apitest.Option
		status int
		code   string
	}{
		{"empty prompt", map[string]string{"prompt": "   "}, nil, 400, "invalid_request"},
		{"prompt too long", map[string]string{"prompt": string(long)}, []apitest.Option{apitest.SkipRequestValidation}, 400, "invalid_request"},
		{"bad size", map[string]string{"prompt": "x", "size": "800x600"}, []apitest.Option{apitest.SkipRequestValidation}, 400, "invalid_request"},
		{"bad style", map[string]string{"prompt": "x", "style": "anime"}, []apitest.Option{apitest.SkipRequestValidation}, 400, "invalid_request"},
		{"bad quality", map[string]string{"prompt": "x", "quality": "ultra"}, []apitest.Option{apitest.SkipRequestValidation}, 400, "invalid_request"},
		{"unknown field", map[string]string{"prompt": "x", "seed": "1"}, []apitest.Option{apitest.SkipRequestValidation}, 400, "invalid_request"},
		{"control characters", map[string]string{"prompt": "hi\x07there"}, nil, 400, "invalid_request"},
		{"blocked term", map[string]string{"prompt": "a terrorist attack on a city"}, nil, 422, "prompt_rejected"},
		{"key with spaces", map[string]string{"prompt": "x"}, []apitest.Option{apitest.Header("Idempotency-Key", "has space")}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ta.Submit(t, token, tt.body, tt.opts...)
			if res.Status != tt.status || res.ErrorCode() != tt.code {
				t.Errorf("got %d %s, want %d %s", res.Status, res.Body, tt.status, tt.code)
			}
		})
	}
	if q := ta.Me(t, token).Quota; q.UsedToday != 0 {
		t.Errorf("refused requests spent quota: %+v", q)
	}
	// Someone else's generation does not exist for the caller.
	res := ta.Submit(t, other, map[string]string{"prompt": "grace's secret"})
	var g httpapi.Generation
	res.JSON(t, &g)
	if got := ta.API.Do(http.MethodGet, "/api/v1/generations/"+g.ID, nil, apitest.Bearer(token)); got.Status != http.StatusNotFound {
		t.Errorf("another user's generation: %d, want 404", got.Status)
	}
	if got := ta.API.Do(http.MethodGet, "/api/v1/generations/"+g.ID, nil); got.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", got.Status)
	}
}

func TestWorkerStoppedMidJobIsFinishedByAnother(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apptest.Options{OpenAI: true})
	fakeA := a.OpenAI
	fakeA.Enqueue(imagegentest.Hang())
	token := a.Token(t, "heidi")
	res := a.Submit(t, token, map[string]string{"prompt": "northern lights"})
	var g httpapi.Generation
	res.JSON(t, &g)

	// Wait until replica A is inside the model call, then stop it.
	deadline := time.Now().Add(30 * time.Second)
	for fakeA.Calls() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("replica A never called the image model")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_ = a.App.Stop(stopCtx) // the soft stop times out on the hung call, then cancels it
	cancel()

	// Replica B, on the same database with a healthy model, finishes it.
	b := apptest.New(t, apptest.Options{OpenAI: true, DatabaseURL: a.Config.DatabaseURL.Reveal()})
	done := b.Wait(t, token, g.ID, 90*time.Second)
	if done.Status != "succeeded" || done.Attempts != 2 {
		t.Errorf("after replica A stopped: %s after %d attempts, want succeeded after 2", done.Status, done.Attempts)
	}
	var wallpapers int
	if err := b.Pool.QueryRow(context.Background(), `SELECT count(*) FROM wallpapers WHERE generation_id = $1`, g.ID).Scan(&wallpapers); err != nil {
		t.Fatal(err)
	}
	if wallpapers != 1 {
		t.Errorf("%d wallpapers for one generation", wallpapers)
	}
}
