package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/silenceper/wechat/v2/miniprogram/qrcode"
	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
	"github.com/silenceper/wechat/v2/util"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// WXACode returns the mini-program code (wxacode.getUnlimited) that opens
// page with scene, as the JPEG WeChat returns. scene is at most 32 visible
// characters; page has no leading slash and no query (EnvVersion: release,
// trial or develop). The SDK's GetWXACodeUnlimit takes no context (so no
// deadline and no proxy base URL), so the request is made here with the
// SDK's request type, its access token and its HTTP client.
func (c *Client) WXACode(ctx context.Context, scene, page, envVersion string) ([]byte, error) {
	checkPath := false // the page may not be published yet on trial and develop versions
	req := qrcode.QRCoder{Scene: scene, Page: page, CheckPath: &checkPath, EnvVersion: envVersion, Width: 430}
	var img []byte
	err := c.call(ctx, "getwxacodeunlimit", func(ctx context.Context) (int64, error) {
		token, err := c.mp.GetContext().GetAccessTokenContext(ctx)
		if err != nil {
			return 0, err
		}
		body, err := json.Marshal(req)
		if err != nil {
			return 0, err
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost,
			DefaultBaseURL+"/wxa/getwxacodeunlimit?access_token="+url.QueryEscape(token), bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		hreq.Header.Set("Content-Type", "application/json")
		resp, err := util.DefaultHTTPClient.Do(hreq)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("getwxacodeunlimit: HTTP %d", resp.StatusCode)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
			// An error comes back as JSON.
			var ce util.CommonError
			if err := json.Unmarshal(data, &ce); err != nil || ce.ErrCode == 0 {
				return 0, fmt.Errorf("getwxacodeunlimit: unexpected answer of type %q", resp.Header.Get("Content-Type"))
			}
			return ce.ErrCode, &ce
		}
		img = data
		return 0, nil
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
		ToUser: openID, TemplateID: s.cfg.TemplateID, Page: MessagePage(g), MiniprogramState: s.cfg.State, Lang: "zh_CN",
		Data: map[string]*subscribe.DataItem{
			// thing: at most 20 characters; phrase: at most 5.
			s.cfg.KeyPrompt: {Value: clip(g.Prompt, 20)},
			s.cfg.KeyStatus: {Value: clip(status, 5)},
			s.cfg.KeyTime:   {Value: at.In(s.cfg.Location).Format("2006-01-02 15:04")},
			s.cfg.KeyNote:   {Value: clip(note, 20)},
		},
	}
	// The SDK's Send takes no context: post its message type with its
	// access token and its context-aware JSON helper.
	err = s.client.call(ctx, "subscribeSend", func(ctx context.Context) (int64, error) {
		token, err := s.client.mp.GetContext().GetAccessTokenContext(ctx)
		if err != nil {
			return 0, err
		}
		resp, err := util.PostJSONContext(ctx, DefaultBaseURL+"/cgi-bin/message/subscribe/send?access_token="+url.QueryEscape(token), msg)
		if err != nil {
			return 0, err
		}
		return 0, util.DecodeWithCommonError(resp, "subscribeSend")
	})
	if errCodeOf(err) == 43101 {
		return wallpaper.ErrMessageRefused.With("", err)
	}
	return err
}

// MessagePage is the page a settled generation's message opens (no
// leading slash, as WeChat wants it): the wallpaper's detail when there is
// one, else the history focused on the generation. One query parameter
// only (a second one has been seen lost on the way) and a UUID in it: the
// path stays about 60 bytes, far inside what WeChat takes.
func MessagePage(g *wallpaper.Generation) string {
	if g.Status == wallpaper.StatusSucceeded && g.Wallpaper != nil {
		return "pages/detail/detail?id=" + g.Wallpaper.ID.String()
	}
	return "pages/history/history?id=" + g.ID.String()
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
