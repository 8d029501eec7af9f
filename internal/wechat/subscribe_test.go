package wechat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// openIDs answers every user's openid from a map.
type openIDs map[uuid.UUID]string

func (o openIDs) OpenID(_ context.Context, userID uuid.UUID) (string, error) {
	return o[userID], nil
}

// TestSubscriberPage: the message opens the generation itself, the
// wallpaper's detail when it succeeded, the history focused on it when it
// failed, and says 画廊 as the app does.
func TestSubscriberPage(t *testing.T) {
	t.Parallel()
	fake := wechattest.New(t)
	client, _ := newClient(t, fake, nil)
	user := uuid.New()
	sub := client.Subscriber(openIDs{user: "o-waiter"}, wechat.SubscribeConfig{TemplateID: "tmpl-ready"})
	finished := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

	genID := uuid.MustParse("0b7c6d5e-4f3a-4b2c-9d1e-0f1a2b3c4d5e")
	wpID := uuid.MustParse("7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
	tests := []struct {
		name     string
		g        wallpaper.Generation
		wantPage string
		wantNote string
	}{
		{
			name: "succeeded and public: the wallpaper's detail",
			g: wallpaper.Generation{ID: genID, UserID: user, Prompt: "lanterns", Status: wallpaper.StatusSucceeded, FinishedAt: &finished,
				Wallpaper: &wallpaper.Wallpaper{ID: wpID, Public: true, Review: wallpaper.ReviewApproved}},
			wantPage: "pages/detail/detail?id=7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
			wantNote: "画廊",
		},
		{
			name: "succeeded, held for an admin: still its detail (the owner may see it)",
			g: wallpaper.Generation{ID: genID, UserID: user, Prompt: "lanterns", Status: wallpaper.StatusSucceeded, FinishedAt: &finished,
				Wallpaper: &wallpaper.Wallpaper{ID: wpID, Public: true, Review: wallpaper.ReviewHeld}},
			wantPage: "pages/detail/detail?id=7d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
			wantNote: "人工审核",
		},
		{
			name: "failed: the history, on this generation",
			g: wallpaper.Generation{ID: genID, UserID: user, Prompt: "refused", Status: wallpaper.StatusFailed, FinishedAt: &finished,
				Error: &wallpaper.Failure{Code: "content_rejected", Message: "rejected"}},
			wantPage: "pages/history/history?id=0b7c6d5e-4f3a-4b2c-9d1e-0f1a2b3c4d5e",
			wantNote: "额度已退回",
		},
		{
			name:     "succeeded but the wallpaper is gone: the history, on this generation",
			g:        wallpaper.Generation{ID: genID, UserID: user, Prompt: "deleted", Status: wallpaper.StatusSucceeded, FinishedAt: &finished},
			wantPage: "pages/history/history?id=0b7c6d5e-4f3a-4b2c-9d1e-0f1a2b3c4d5e",
		},
	}
	for i, tt := range tests {
		if err := sub.GenerationSettled(context.Background(), &tt.g); err != nil {
			t.Fatalf("%s: GenerationSettled: %v", tt.name, err)
		}
		sent := fake.SubscribeMessages()
		if len(sent) != i+1 {
			t.Fatalf("%s: %d messages sent, want %d", tt.name, len(sent), i+1)
		}
		m := sent[i]
		if m.Page != tt.wantPage {
			t.Errorf("%s: page = %q, want %q", tt.name, m.Page, tt.wantPage)
		}
		if strings.HasPrefix(m.Page, "/") || len(m.Page) > 1024 {
			t.Errorf("%s: page %q: WeChat wants no leading slash and a short path", tt.name, m.Page)
		}
		if note := m.Data["thing4"]["value"]; !strings.Contains(note, tt.wantNote) || strings.Contains(note, "广场") {
			t.Errorf("%s: note = %q, want it to say %q (and 画廊, never 广场)", tt.name, note, tt.wantNote)
		}
	}
}
