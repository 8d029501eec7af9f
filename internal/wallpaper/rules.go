package wallpaper

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Prompt limits, in runes after trimming.
const (
	MinPromptRunes = 1
	MaxPromptRunes = 1000
)

// ErrPromptRejected is a prompt refused by moderation: nothing is spent.
var ErrPromptRejected = failure.New(failure.Rejected, "prompt_rejected", "this prompt cannot be used: please describe something else")

// blockedTerms are refused before any model or moderation service sees the
// prompt. WeChat's msgSecCheck does the real moderation when configured;
// this short list keeps the offline dev mode honest too.
var blockedTerms = []string{
	"child porn", "csam", "nude child", "beheading", "terrorist attack",
}

// NormalizePrompt trims a prompt and checks the local rules: valid UTF-8,
// no control characters but newlines and tabs, 1..1000 runes, no blocked
// term. It returns the prompt to store.
func NormalizePrompt(p string) (string, error) {
	if !utf8.ValidString(p) {
		return "", failure.InvalidRequest("prompt is not valid UTF-8")
	}
	p = strings.TrimSpace(p)
	for _, r := range p {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", failure.InvalidRequest("prompt contains control characters")
		}
	}
	n := utf8.RuneCountInString(p)
	if n < MinPromptRunes {
		return "", failure.InvalidRequest("prompt is required")
	}
	if n > MaxPromptRunes {
		return "", failure.InvalidRequest(fmt.Sprintf("prompt is %d characters; the limit is %d", n, MaxPromptRunes))
	}
	lower := strings.ToLower(p)
	for _, t := range blockedTerms {
		if strings.Contains(lower, t) {
			return "", ErrPromptRejected
		}
	}
	return p, nil
}

// Validate fills in the defaults and refuses anything the API does not
// list.
func (o *Options) Validate() error {
	if o.Size == "" {
		o.Size = SizePortrait
	}
	if o.Style == "" {
		o.Style = StyleVivid
	}
	if o.Quality == "" {
		o.Quality = QualityStandard
	}
	switch o.Size {
	case SizePortrait, SizeLandscape, SizeSquare:
	default:
		return failure.InvalidRequest(fmt.Sprintf("size must be one of %s, %s, %s", SizePortrait, SizeLandscape, SizeSquare))
	}
	switch o.Style {
	case StyleVivid, StyleNatural:
	default:
		return failure.InvalidRequest("style must be vivid or natural")
	}
	switch o.Quality {
	case QualityStandard, QualityHD:
	default:
		return failure.InvalidRequest("quality must be standard or hd")
	}
	return nil
}

// Idempotency-Key limits.
const maxIdempotencyKey = 255

// ErrIdempotencyConflict is a key reused with a different request.
var ErrIdempotencyConflict = failure.New(failure.Conflict, "conflict",
	"this Idempotency-Key was already used with a different request")

func checkIdempotencyKey(k string) error {
	if len(k) > maxIdempotencyKey {
		return failure.InvalidRequest("Idempotency-Key is longer than 255 characters")
	}
	for _, r := range k {
		if r < 0x21 || r > 0x7e {
			return failure.InvalidRequest("Idempotency-Key must be printable ASCII without spaces")
		}
	}
	return nil
}

// requestExtras are the request's options added after the first release.
type requestExtras struct {
	public bool
	preset string
	notify bool
}

// requestHash fingerprints what a generation request asked for, to tell an
// idempotent replay from a conflicting reuse of its key. An option added
// later counts only when it differs from its default, so that a key in
// flight across a deploy still replays.
func requestHash(prompt string, o Options, x requestExtras) []byte {
	s := prompt + "\x00" + o.Size + "\x00" + o.Style + "\x00" + o.Quality
	if !x.public {
		s += "\x00public=false"
	}
	if x.preset != "" {
		s += "\x00preset=" + x.preset
	}
	if x.notify {
		s += "\x00notify=true"
	}
	h := sha256.Sum256([]byte(s))
	return h[:]
}
