package wechat

// WeChat's message push ("消息推送"), checked against these sources:
//   - the mini-program doc "消息推送" (developers.weixin.qq.com/miniprogram/
//     dev/framework/server-ability/message-push.html, as mirrored in public
//     repositories): URL verification by GET with signature, timestamp,
//     nonce and echostr, signature = hex sha1 of the sorted Token, timestamp
//     and nonce concatenated, echostr answered unchanged; a POST in
//     plaintext mode carries the same signature; in safe mode the query adds
//     encrypt_type=aes and msg_signature = sha1 of the sorted Token,
//     timestamp, nonce and the body's Encrypt field, and the doc says to
//     check msg_signature, not signature; AESKey = base64(EncodingAESKey +
//     "="), AES-256-CBC with IV = AESKey[:16], plaintext = 16 random bytes +
//     4-byte big-endian length + message + appid, PKCS#7 padded to a
//     multiple of 32; the receiver must check the appid; the answer is ""
//     or "success". Its worked examples (Token "AAAAA", EncodingAESKey 43
//     "A"s, appid wxba5fad812f8e6fb9) are push_test.go's known answers.
//   - silenceper/wechat v2.1.13: util.DecryptMsg and AESDecryptMsg (the same
//     layout and padding), and miniprogram/message.PushReceiver, which
//     checks only signature, never msg_signature, has no echostr handler and
//     types wxa_media_check's label as an int.
//   - the mediaCheckAsync doc and WeChat's developer forum: the event's
//     fields (ToUserName, FromUserName, CreateTime, MsgType "event", Event
//     "wxa_media_check", appid, trace_id, version 2, errcode, errmsg,
//     result{suggest, label}, detail[{strategy, errcode, suggest, label,
//     prob}]); a payload posted on the forum in 2025 carries label as the
//     string "100" in result and detail alike.
//   - the Official Account doc on passive replies: WeChat waits five
//     seconds for an answer, then retries (three tries in all).

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Errors of Push. A signature that does not match, a safe-mode deployment
// receiving plaintext, and a message sealed for another app are each
// their own sentinel; httpapi answers all three with 401.
var (
	ErrPushSignature = failure.New(failure.Unauthorized, "bad_signature", "the WeChat push signature does not match")
	ErrPushPlaintext = failure.New(failure.Unauthorized, "bad_signature", "safe mode is configured: an unencrypted push is refused")
	ErrPushAppID     = failure.New(failure.Unauthorized, "wrong_appid", "the WeChat push is sealed for another mini-program")
	ErrPushMalformed = failure.InvalidRequest("the WeChat push message cannot be read")
	// ErrPushMisconfigured is a push that passed the signature check but
	// cannot be opened: safe mode without WECHAT_PUSH_AES_KEY, or a key
	// other than the one set on mp.weixin.qq.com.
	ErrPushMisconfigured = failure.New(failure.Internal, "wechat_push_misconfigured", "the WeChat push cannot be decrypted")
)

// Suggest is WeChat's advice on content it checked.
type Suggest string

// The suggestions of msgSecCheck and mediaCheckAsync.
const (
	SuggestPass   Suggest = "pass"   // nothing found
	SuggestReview Suggest = "review" // unsure: a person should look
	SuggestRisky  Suggest = "risky"  // violates the rules
)

// MediaVerdict is mediaCheckAsync's judgement of one image.
type MediaVerdict struct {
	Suggest Suggest
	// Label is what was found: 100 normal, 10001 ads, 20001 politics,
	// 20002 porn, 20003 abuse, 20006 crime, 20008 fraud, 20012 vulgar,
	// 20013 copyright, 21000 other (msgSecCheck's list, which the
	// mediaCheckAsync doc points to).
	Label int
}

// EventMediaCheck is the Event of mediaCheckAsync's verdict.
const EventMediaCheck = "wxa_media_check"

// Event is one pushed message, decoded from WeChat's own body rather than
// the SDK's types. Fields that do not apply to an event are zero.
type Event struct {
	XMLName    xml.Name `json:"-" xml:"xml"`
	ToUser     string   `json:"ToUserName" xml:"ToUserName"`     // the mini-program's original id (gh_…)
	FromUser   string   `json:"FromUserName" xml:"FromUserName"` // an openid, or a system account
	CreateTime Number   `json:"CreateTime" xml:"CreateTime"`     // Unix seconds
	MsgType    string   `json:"MsgType" xml:"MsgType"`           // "event" for events
	Event      string   `json:"Event" xml:"Event"`               // e.g. EventMediaCheck

	// wxa_media_check.
	AppID   string        `json:"appid" xml:"appid"`
	TraceID string        `json:"trace_id" xml:"trace_id"`
	Version Number        `json:"version" xml:"version"`
	ErrCode Number        `json:"errcode" xml:"errcode"`
	ErrMsg  string        `json:"errmsg" xml:"errmsg"`
	Result  CheckResult   `json:"result" xml:"result"`
	Detail  []CheckDetail `json:"detail" xml:"detail"`
}

// CheckResult is the overall verdict of a content check.
type CheckResult struct {
	Suggest Suggest `json:"suggest" xml:"suggest"`
	Label   Number  `json:"label" xml:"label"`
}

// CheckDetail is one strategy's verdict of a content check.
type CheckDetail struct {
	Strategy string  `json:"strategy" xml:"strategy"`
	ErrCode  Number  `json:"errcode" xml:"errcode"` // the entry counts only when 0
	Suggest  Suggest `json:"suggest" xml:"suggest"`
	Label    Number  `json:"label" xml:"label"`
	Prob     Number  `json:"prob" xml:"prob"` // 0-100
}

// MediaVerdict is the verdict a wxa_media_check event carries; ok is
// false for another event, a failed check (errcode other than 0) or a
// suggestion other than pass, review and risky.
func (e Event) MediaVerdict() (v MediaVerdict, ok bool) {
	if e.MsgType != "event" || e.Event != EventMediaCheck || e.ErrCode != 0 {
		return MediaVerdict{}, false
	}
	switch e.Result.Suggest {
	case SuggestPass, SuggestReview, SuggestRisky:
		return MediaVerdict{Suggest: e.Result.Suggest, Label: int(e.Result.Label)}, true
	}
	return MediaVerdict{}, false
}

// Number is an integer WeChat sends as a JSON number or as a string of
// digits (label has been seen as both); empty and null are 0, and a
// fraction is dropped.
type Number int64

// UnmarshalJSON accepts 100, 100.0, "100", "" and null.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return n.UnmarshalText([]byte(s))
	}
	return n.UnmarshalText(b)
}

// UnmarshalText reads the decimal digits of an XML element or a JSON
// string.
func (n *Number) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		*n = 0
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Number(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > math.MaxInt64/2 {
		return fmt.Errorf("wechat: %q is not a number", s)
	}
	*n = Number(f)
	return nil
}

// PushConfig is what mp.weixin.qq.com → 开发管理 → 消息推送 was given.
type PushConfig struct {
	// Token signs every push.
	Token string
	// EncodingAESKey is the 43-character key of safe mode (安全模式);
	// empty: plaintext mode (明文模式). When set, plaintext pushes are
	// refused: their signature does not cover the body.
	EncodingAESKey string
	// AppID is the mini-program's app id, which every sealed message must
	// end with. Required with EncodingAESKey.
	AppID string
}

// Push verifies and opens WeChat's message pushes for one mini-program.
// It is safe for concurrent use.
type Push struct {
	token string
	key   []byte // nil: plaintext mode
	appID string
}

// encodingAESKeyPattern is the EncodingAESKey WeChat generates: 43
// characters of base64 (its doc says a-z, A-Z and 0-9).
var encodingAESKeyPattern = regexp.MustCompile(`^[A-Za-z0-9+/]{43}$`)

// NewPush checks cfg and returns a Push.
func NewPush(cfg PushConfig) (*Push, error) {
	if cfg.Token == "" {
		return nil, errors.New("wechat: the message push token is required")
	}
	p := &Push{token: cfg.Token, appID: cfg.AppID}
	if cfg.EncodingAESKey != "" {
		key, err := DecodeAESKey(cfg.EncodingAESKey)
		if err != nil {
			return nil, err
		}
		if cfg.AppID == "" {
			return nil, errors.New("wechat: safe-mode message push needs the app id")
		}
		p.key = key
	}
	return p, nil
}

// DecodeAESKey turns an EncodingAESKey into the 32-byte AES key:
// base64(EncodingAESKey + "=").
func DecodeAESKey(encodingAESKey string) ([]byte, error) {
	if !encodingAESKeyPattern.MatchString(encodingAESKey) {
		return nil, errors.New("wechat: an EncodingAESKey is 43 characters of base64")
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("wechat: the EncodingAESKey does not decode to 32 bytes")
	}
	return key, nil
}

// Safe reports whether pushes are expected in safe mode.
func (p *Push) Safe() bool { return p.key != nil }

// Sign is WeChat's push signature: the hex SHA-1 of the parts sorted and
// concatenated.
func Sign(parts ...string) string {
	sorted := append([]string(nil), parts...)
	sort.Strings(sorted)
	sum := sha1.Sum([]byte(strings.Join(sorted, ""))) // WeChat's choice, not ours
	return hex.EncodeToString(sum[:])
}

// signed reports whether got is the signature of parts, in constant time.
func signed(got string, parts ...string) bool {
	want := Sign(parts...)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// VerifyURL checks WeChat's URL verification (the GET sent when the push
// URL is saved) and returns echostr, the answer WeChat expects.
func (p *Push) VerifyURL(q url.Values) (echostr string, err error) {
	if !signed(q.Get("signature"), p.token, q.Get("timestamp"), q.Get("nonce")) {
		return "", ErrPushSignature
	}
	return q.Get("echostr"), nil
}

// envelope is a safe-mode body: the sealed message and, beside it, the
// mini-program's id (in compatibility mode the plaintext fields too).
type envelope struct {
	XMLName xml.Name `json:"-" xml:"xml"`
	Encrypt string   `json:"Encrypt" xml:"Encrypt"`
}

// Decode verifies a POSTed push (its query and raw body) and decodes the
// message, JSON or XML as the body is. Plaintext pushes are checked by
// signature; safe-mode ones (encrypt_type=aes) by msg_signature over the
// sealed message, then opened and their appid checked.
func (p *Push) Decode(q url.Values, body []byte) (Event, error) {
	msg, err := p.Open(q, body)
	if err != nil {
		return Event{}, err
	}
	var e Event
	if err := unmarshal(msg, &e); err != nil {
		return Event{}, ErrPushMalformed.With("", err)
	}
	return e, nil
}

// Open verifies a POSTed push and returns its message: the body itself in
// plaintext mode, the opened seal in safe mode.
func (p *Push) Open(q url.Values, body []byte) ([]byte, error) {
	timestamp, nonce := q.Get("timestamp"), q.Get("nonce")
	if q.Get("encrypt_type") != "aes" {
		if !signed(q.Get("signature"), p.token, timestamp, nonce) {
			return nil, ErrPushSignature
		}
		if p.Safe() {
			// The signature covers the query, not the body: with it alone
			// anyone who saw one URL could post any body.
			return nil, ErrPushPlaintext
		}
		return body, nil
	}
	var env envelope
	if err := unmarshal(body, &env); err != nil || env.Encrypt == "" {
		return nil, ErrPushMalformed.With("", fmt.Errorf("wechat: safe-mode push without Encrypt: %v", err))
	}
	if !signed(q.Get("msg_signature"), p.token, timestamp, nonce, env.Encrypt) {
		return nil, ErrPushSignature
	}
	if !p.Safe() {
		return nil, ErrPushMisconfigured.With("", errors.New("wechat: WeChat sends safe-mode pushes but WECHAT_PUSH_AES_KEY is not set"))
	}
	msg, appID, err := p.open(env.Encrypt)
	if err != nil {
		return nil, ErrPushMisconfigured.With("", fmt.Errorf("wechat: %w (is WECHAT_PUSH_AES_KEY the key set on mp.weixin.qq.com?)", err))
	}
	if subtle.ConstantTimeCompare([]byte(appID), []byte(p.appID)) != 1 {
		return nil, ErrPushAppID
	}
	return msg, nil
}

// open decrypts a sealed message into the message and the appid after it.
func (p *Push) open(sealed string) (msg []byte, appID string, err error) {
	ct, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, "", errors.New("the sealed message is not base64")
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, "", errors.New("the sealed message is not whole AES blocks")
	}
	block, err := aes.NewCipher(p.key)
	if err != nil {
		return nil, "", err
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, p.key[:aes.BlockSize]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > padBlock || pad > len(plain) {
		return nil, "", errors.New("bad padding")
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, "", errors.New("bad padding")
		}
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, "", errors.New("the sealed message is too short")
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, "", errors.New("the message length is out of range")
	}
	return plain[20 : 20+n], string(plain[20+n:]), nil
}

// padBlock is the PKCS#7 block WeChat pads to: 32 bytes, not AES's 16.
const padBlock = 32

// Encrypt seals msg as WeChat does in safe mode and returns the Encrypt
// field's value (for tests and the fake WeChat, and for encrypted
// replies).
func (p *Push) Encrypt(msg []byte) (string, error) {
	if !p.Safe() {
		return "", errors.New("wechat: Encrypt needs an EncodingAESKey")
	}
	var random [16]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", err
	}
	return p.seal(random, msg), nil
}

// seal is Encrypt with the 16 random bytes given.
func (p *Push) seal(random [16]byte, msg []byte) string {
	n := 20 + len(msg) + len(p.appID)
	pad := padBlock - n%padBlock
	plain := make([]byte, 0, n+pad)
	plain = append(plain, random[:]...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, p.appID...)
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(p.key) // 32 bytes: checked by NewPush
	cipher.NewCBCEncrypter(block, p.key[:aes.BlockSize]).CryptBlocks(plain, plain)
	return base64.StdEncoding.EncodeToString(plain)
}

// unmarshal decodes a push body: XML when it starts with "<", JSON
// otherwise (WeChat sends the format chosen on mp.weixin.qq.com).
func unmarshal(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errors.New("empty body")
	}
	if trimmed[0] == '<' {
		return xml.Unmarshal(trimmed, v)
	}
	return json.Unmarshal(trimmed, v)
}
