package wechat

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/silenceper/wechat/v2/miniprogram/qrcode"
	"github.com/silenceper/wechat/v2/miniprogram/subscribe"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// WXACode returns the mini-program code (wxacode.getUnlimited) that opens
// page with scene, as the JPEG WeChat returns. scene is at most 32 visible
// characters; page has no leading slash and no query (EnvVersion: release,
// trial or develop). The SDK accepts only an image/jpeg answer and turns
// WeChat's JSON errors into plain errors, which are classified here.
func (c *Client) WXACode(ctx context.Context, scene, page, envVersion string) ([]byte, error) {
	checkPath := false // the page may not be published yet on trial and develop versions
	req := qrcode.QRCoder{Scene: scene, Page: page, CheckPath: &checkPath, EnvVersion: envVersion, Width: 430}
	var img []byte
	err := c.call(ctx, "getwxacodeunlimit", func(context.Context) (int64, error) {
		var err error
		img, err = c.mp.GetQRCode().GetWXACodeUnlimit(req)
		return 0, err
	})
	if err != nil {
		return nil, err
	}
	if len(img) == 0 {
		return nil, ErrUnavailable.With("", errors.New("wechat: getwxacodeunlimit answered no image"))
	}
	return img, nil
}

// SubscribeConfig is the subscribe message template a settled generation
// is announced with. Only TemplateID must be set: the keys default to a
// template with a thing (the prompt), a phrase (the outcome), a time and a
// thing (a note), in that order.
type SubscribeConfig struct {
	TemplateID string
	// Page opens when the user taps the message (no leading slash).
	Page string
	// State is the mini-program version opened: formal, trial or
	// developer.
	State                                  string
	KeyPrompt, KeyStatus, KeyTime, KeyNote string
	Location                               *time.Location // of the time shown
}

// Subscriber sends the subscribe message of a settled generation as WeChat
// (wallpaper.Messenger).
type Subscriber struct {
	client *Client
	users  OpenIDs
	cfg    SubscribeConfig
}

// Subscriber returns the messenger; users finds each user's openid.
func (c *Client) Subscriber(users OpenIDs, cfg SubscribeConfig) Subscriber {
	if cfg.KeyPrompt == "" {
		cfg.KeyPrompt = "thing1"
	}
	if cfg.KeyStatus == "" {
		cfg.KeyStatus = "phrase2"
	}
	if cfg.KeyTime == "" {
		cfg.KeyTime = "time3"
	}
	if cfg.KeyNote == "" {
		cfg.KeyNote = "thing4"
	}
	if cfg.Page == "" {
		cfg.Page = "pages/history/history"
	}
	if cfg.State == "" {
		cfg.State = "formal"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return Subscriber{client: c, users: users, cfg: cfg}
}

// GenerationSettled implements wallpaper.Messenger. A refusal (43101: the
// user refused, or the one-time grant is used) is
// wallpaper.ErrMessageRefused; nothing is retried here.
func (s Subscriber) GenerationSettled(ctx context.Context, g *wallpaper.Generation) error {
	openID, err := s.users.OpenID(ctx, g.UserID)
	if err != nil {
		return err
	}
	status, note := wallpaper.SettledWords(g)
	at := time.Now()
	if g.FinishedAt != nil {
		at = *g.FinishedAt
	}
	msg := &subscribe.Message{
		ToUser: openID, TemplateID: s.cfg.TemplateID, Page: s.cfg.Page, MiniprogramState: s.cfg.State, Lang: "zh_CN",
		Data: map[string]*subscribe.DataItem{
			// thing: at most 20 characters; phrase: at most 5.
			s.cfg.KeyPrompt: {Value: clip(g.Prompt, 20)},
			s.cfg.KeyStatus: {Value: clip(status, 5)},
			s.cfg.KeyTime:   {Value: at.In(s.cfg.Location).Format("2006-01-02 15:04")},
			s.cfg.KeyNote:   {Value: clip(note, 20)},
		},
	}
	err = s.client.call(ctx, "subscribeSend", func(context.Context) (int64, error) {
		return 0, s.client.mp.GetSubscribe().Send(msg)
	})
	if errCodeOf(err) == 43101 {
		return wallpaper.ErrMessageRefused.With("", err)
	}
	return err
}

// errCodeOf reads the WeChat errcode a classified error carries in its
// cause, 0 when none.
func errCodeOf(err error) int64 {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if c := errCode(0, e); c != 0 {
			return c
		}
	}
	return 0
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// SceneOf is the mini-program code scene of a wallpaper: its id without
// dashes, 32 hexadecimal characters, WeChat's limit.
func SceneOf(id uuid.UUID) string {
	return fmt.Sprintf("%x", id[:])
}
