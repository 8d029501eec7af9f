package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
)

// MediaVerdicts takes WeChat's verdicts on images sent to mediaCheckAsync,
// as the wxa_media_check push delivers them. WeChat pushes again when it
// gets no "success", so the same verdict may arrive twice: applying it
// again must change nothing. A trace id nobody asked about is not an error
// (return nil). An error makes the push answer 500, and WeChat retries.
type MediaVerdicts interface {
	ApplyMediaCheck(ctx context.Context, traceID string, v wechat.MediaVerdict) error
}

// MediaVerdictsFunc lets a function be MediaVerdicts.
type MediaVerdictsFunc func(ctx context.Context, traceID string, v wechat.MediaVerdict) error

// ApplyMediaCheck calls f.
func (f MediaVerdictsFunc) ApplyMediaCheck(ctx context.Context, traceID string, v wechat.MediaVerdict) error {
	return f(ctx, traceID, v)
}

// WeChatPushMessage is the body WeChat posts: the message itself in
// plaintext mode (a wxa_media_check event below), or in safe mode only
// ToUserName and Encrypt, the sealed message. The same fields come as XML
// (`<xml>…</xml>`) when the push is configured for XML. Fields of other
// events are accepted and ignored.
type WeChatPushMessage struct {
	ToUserName   string `json:"ToUserName" example:"gh_97417a04a28d"`
	FromUserName string `json:"FromUserName,omitempty" example:"o9AgO5Kd5ggOC-bXrbNODIiE3bGY"`
	CreateTime   int64  `json:"CreateTime,omitempty" example:"1762329554"`
	MsgType      string `json:"MsgType,omitempty" example:"event"`
	Event        string `json:"Event,omitempty" example:"wxa_media_check"`
	AppID        string `json:"appid,omitempty" example:"wxb04d1be1ede56d47"`
	// TraceID is what mediaCheckAsync answered when asked.
	TraceID string `json:"trace_id,omitempty" example:"690b03d2-301f6111-35ffbd44"`
	Version int    `json:"version,omitempty" example:"2"`
	ErrCode int    `json:"errcode,omitempty" example:"0"`
	// Result is the verdict: {"suggest": "pass"|"review"|"risky",
	// "label": 100}, the label a number or a string of digits (100
	// normal, 20002 porn, …).
	Result map[string]any `json:"result,omitempty"`
	// Detail is each strategy's verdict: {"strategy", "errcode",
	// "suggest", "label", "prob"}.
	Detail []map[string]any `json:"detail,omitempty"`
	// Encrypt is the sealed message (safe mode only).
	Encrypt string `json:"Encrypt,omitempty" example:"+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQ…"`
}

const (
	// maxPushBody bounds a push: wxa_media_check is a few hundred bytes.
	maxPushBody = 64 << 10
	// pushApplyTimeout keeps the answer inside the five seconds WeChat
	// waits before it gives up on a push and sends it again.
	pushApplyTimeout = 4 * time.Second
)

var errPushNotApplied = failure.New(failure.Internal, "internal_error", "the verdict could not be applied: push it again")

func (s *Server) wechatRoutes(api *gin.RouterGroup) {
	if s.deps.WeChatPush == nil {
		return // message push not configured: 404, as any unknown path
	}
	api.GET("/wechat/push", s.wechatPushVerify)
	api.POST("/wechat/push", s.wechatPush)
}

// wechatPushVerify godoc
//
//	@Summary		WeChat message push: URL verification
//	@Description	WeChat calls this when the push URL is saved on mp.weixin.qq.com (开发管理 → 消息推送). `signature` is the hex SHA-1 of `WECHAT_PUSH_TOKEN`, `timestamp` and `nonce` sorted and concatenated; when it matches, `echostr` is answered unchanged. 404 when `WECHAT_PUSH_TOKEN` is not set.
//	@Tags			wechat
//	@Produce		plain
//	@Produce		json
//	@Param			signature	query		string		true	"sha1 of the sorted token, timestamp and nonce"
//	@Param			timestamp	query		string		true	"Unix seconds"
//	@Param			nonce		query		string		true	"random number"
//	@Param			echostr		query		string		true	"random string to echo"
//	@Success		200			{string}	string		"echostr, unchanged"
//	@Failure		400			{object}	ErrorBody	"invalid_request: the query string is malformed"
//	@Failure		401			{object}	ErrorBody	"bad_signature"
//	@Failure		404			{object}	ErrorBody	"not_found: message push is not configured"
//	@Failure		405			{object}	ErrorBody	"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Router			/api/v1/wechat/push [get]
func (s *Server) wechatPushVerify(c *gin.Context) {
	echo, err := s.deps.WeChatPush.VerifyURL(c.Request.URL.Query())
	if err != nil {
		s.pushRefused(c, err)
		return
	}
	// Written as is: echostr is WeChat's, not a format string.
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(echo))
}

// wechatPush godoc
//
//	@Summary		WeChat message push: events
//	@Description	WeChat posts events here, in the data format (JSON or XML) and encryption mode set on mp.weixin.qq.com. Plaintext mode: `signature` over `WECHAT_PUSH_TOKEN`, `timestamp` and `nonce`. Safe mode (`encrypt_type=aes`, needs `WECHAT_PUSH_AES_KEY`): `msg_signature` over the token, `timestamp`, `nonce` and the body's `Encrypt`, which is then decrypted (AES-256-CBC) and must name this mini-program's app id; with `WECHAT_PUSH_AES_KEY` set, plaintext pushes are refused. A `wxa_media_check` event (the verdict of mediaCheckAsync on a wallpaper, matched by `trace_id`) is applied once; the same event again changes nothing; other events are acknowledged and ignored; a verdict whose trace id is not recorded yet (WeChat may push before the ask's reply is written down) is kept and applied when the ask is recorded; one never recorded is dropped after a day. The answer is `success` within WeChat's five seconds; a 500 makes WeChat push again.
//	@Tags			wechat
//	@Accept			json
//	@Accept			xml
//	@Produce		plain
//	@Produce		json
//	@Param			signature		query		string				true	"sha1 of the sorted token, timestamp and nonce"
//	@Param			timestamp		query		string				true	"Unix seconds"
//	@Param			nonce			query		string				true	"random number"
//	@Param			openid			query		string				false	"sent by WeChat, unused"
//	@Param			encrypt_type	query		string				false	"aes in safe mode"	Enums(aes)
//	@Param			msg_signature	query		string				false	"safe mode: sha1 of the sorted token, timestamp, nonce and Encrypt"
//	@Param			message			body		WeChatPushMessage	true	"the event (plaintext) or {ToUserName, Encrypt} (safe mode)"
//	@Success		200				{string}	string				"success"
//	@Failure		400				{object}	ErrorBody			"invalid_request: the message cannot be read"
//	@Failure		401				{object}	ErrorBody			"bad_signature, or wrong_appid: sealed for another mini-program"
//	@Failure		404				{object}	ErrorBody			"not_found: message push is not configured"
//	@Failure		405				{object}	ErrorBody			"method_not_allowed: a method this path does not have (Allow lists those it has)"
//	@Failure		413				{object}	ErrorBody			"payload_too_large"
//	@Failure		500				{object}	ErrorBody			"the verdict was not applied (WeChat pushes again), or the push cannot be decrypted with WECHAT_PUSH_AES_KEY"
//	@Router			/api/v1/wechat/push [post]
func (s *Server) wechatPush(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxPushBody+1))
	switch {
	case isTooLarge(err) || len(body) > maxPushBody:
		writeError(c, errTooLarge)
		return
	case err != nil:
		writeError(c, failure.InvalidRequest("the push body could not be read"))
		return
	}
	ev, err := s.deps.WeChatPush.Decode(c.Request.URL.Query(), body)
	if err != nil {
		s.pushRefused(c, err)
		return
	}
	ctx := c.Request.Context()
	log := logger(c)
	if ev.MsgType != "event" || ev.Event != wechat.EventMediaCheck {
		log.DebugContext(ctx, "wechat push ignored", "msg_type", ev.MsgType, "event", ev.Event)
		c.String(http.StatusOK, "success")
		return
	}
	v, ok := ev.MediaVerdict()
	switch {
	case !ok:
		// A check WeChat could not finish (it could not fetch the image,
		// say): the verdict never comes, and the moderation timeout asks
		// again.
		log.WarnContext(ctx, "wechat media check without a verdict", "trace_id", ev.TraceID,
			"errcode", int64(ev.ErrCode), "errmsg", ev.ErrMsg, "suggest", string(ev.Result.Suggest))
	case s.deps.MediaVerdicts == nil:
		log.WarnContext(ctx, "wechat media check verdict dropped: nothing takes verdicts", "trace_id", ev.TraceID, "suggest", string(v.Suggest))
	default:
		log.InfoContext(ctx, "wechat media check", "trace_id", ev.TraceID, "suggest", string(v.Suggest), "label", v.Label)
		actx, cancel := context.WithTimeout(ctx, pushApplyTimeout)
		defer cancel()
		if err := s.deps.MediaVerdicts.ApplyMediaCheck(actx, ev.TraceID, v); err != nil {
			writeError(c, errPushNotApplied.With("", err))
			return
		}
	}
	c.String(http.StatusOK, "success")
}

// pushRefused answers a push that failed verification. A signature that
// does not match is logged: it is either a stranger or a token that
// differs from the one set on mp.weixin.qq.com.
func (s *Server) pushRefused(c *gin.Context, err error) {
	if errors.Is(err, wechat.ErrPushSignature) || errors.Is(err, wechat.ErrPushPlaintext) || errors.Is(err, wechat.ErrPushAppID) {
		logger(c).WarnContext(c.Request.Context(), "wechat push refused: is WECHAT_PUSH_TOKEN (and WECHAT_PUSH_AES_KEY) what mp.weixin.qq.com has?",
			"err", err, "request_id", requestID(c), "client_ip", c.ClientIP())
	}
	writeError(c, err)
}
