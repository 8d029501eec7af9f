package metrics

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Dependencies the calls are labelled with.
const (
	depWeChat  = "wechat"
	depImage   = "image_model"
	depStorage = "storage"
)

// observe records one call and passes its error through.
func (m *Metrics) observe(dep, op string, start time.Time, err error) {
	m.calls.WithLabelValues(dep, op, outcome(err)).Inc()
	m.callDuration.WithLabelValues(dep, op).Observe(time.Since(start).Seconds())
}

// outcome is a short, bounded label for how a call ended: "ok", the
// image model's classified code, the failure code of a domain error,
// "timeout", "canceled" or "error".
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var ie *wallpaper.ImageError
	if errors.As(err, &ie) && ie.Code != "" {
		return ie.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	if fe := failure.From(err); fe != nil && fe.Code != "" {
		return fe.Code
	}
	return "error"
}

// ImageGenerator counts and times the image model's calls.
func (m *Metrics) ImageGenerator(g wallpaper.ImageGenerator) wallpaper.ImageGenerator {
	return imageGenerator{m: m, next: g}
}

type imageGenerator struct {
	m    *Metrics
	next wallpaper.ImageGenerator
}

func (g imageGenerator) Generate(ctx context.Context, req wallpaper.ImageRequest) (*wallpaper.Image, error) {
	start := time.Now()
	img, err := g.next.Generate(ctx, req)
	g.m.observe(depImage, "generate", start, err)
	return img, err
}

// ObjectStore is the storage both the local directory and S3 provide.
type ObjectStore interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Copy(ctx context.Context, from, to string) error
	Delete(ctx context.Context, key string) error
	URL(key string) string
	SignedURL(key string, ttl time.Duration) string
}

// ObjectStore counts and times storage writes, copies and deletions; URLs
// are local string work and are passed through.
func (m *Metrics) ObjectStore(s ObjectStore) ObjectStore { return objectStore{m: m, next: s} }

type objectStore struct {
	m    *Metrics
	next ObjectStore
}

func (s objectStore) Put(ctx context.Context, key string, data []byte, contentType string) error {
	start := time.Now()
	err := s.next.Put(ctx, key, data, contentType)
	s.m.observe(depStorage, "put", start, err)
	return err
}

func (s objectStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.next.Delete(ctx, key)
	s.m.observe(depStorage, "delete", start, err)
	return err
}

func (s objectStore) Copy(ctx context.Context, from, to string) error {
	start := time.Now()
	err := s.next.Copy(ctx, from, to)
	s.m.observe(depStorage, "copy", start, err)
	return err
}

func (s objectStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	start := time.Now()
	r, err := s.next.Open(ctx, key)
	s.m.observe(depStorage, "open", start, err)
	return r, err
}

func (s objectStore) URL(key string) string { return s.next.URL(key) }

func (s objectStore) SignedURL(key string, ttl time.Duration) string {
	return s.next.SignedURL(key, ttl)
}

// CodeExchanger counts and times WeChat's code2Session calls.
func (m *Metrics) CodeExchanger(e auth.CodeExchanger) auth.CodeExchanger {
	return codeExchanger{m: m, next: e}
}

type codeExchanger struct {
	m    *Metrics
	next auth.CodeExchanger
}

func (e codeExchanger) Exchange(ctx context.Context, code string) (string, string, error) {
	start := time.Now()
	openID, unionID, err := e.next.Exchange(ctx, code)
	e.m.observe(depWeChat, "code2session", start, err)
	return openID, unionID, err
}

// Moderation counts and times a WeChat msgSecCheck call made through fn
// (user.Moderator's shape).
func (m *Metrics) Moderation(fn func(ctx context.Context, openID, text string) (bool, error)) func(ctx context.Context, openID, text string) (bool, error) {
	return func(ctx context.Context, openID, text string) (bool, error) {
		start := time.Now()
		ok, err := fn(ctx, openID, text)
		m.observe(depWeChat, "msg_sec_check_nickname", start, err)
		return ok, err
	}
}

// PromptChecker counts and times WeChat's msgSecCheck on prompts; a
// refused prompt is counted with the outcome prompt_rejected.
func (m *Metrics) PromptChecker(p wallpaper.PromptChecker) wallpaper.PromptChecker {
	return promptChecker{m: m, next: p}
}

type promptChecker struct {
	m    *Metrics
	next wallpaper.PromptChecker
}

func (p promptChecker) CheckPrompt(ctx context.Context, userID uuid.UUID, prompt string) error {
	start := time.Now()
	err := p.next.CheckPrompt(ctx, userID, prompt)
	p.m.observe(depWeChat, "msg_sec_check_prompt", start, err)
	return err
}

// Messenger counts and times the subscribe messages sent.
func (m *Metrics) Messenger(next wallpaper.Messenger) wallpaper.Messenger {
	return messenger{m: m, next: next}
}

type messenger struct {
	m    *Metrics
	next wallpaper.Messenger
}

func (s messenger) GenerationSettled(ctx context.Context, g *wallpaper.Generation) error {
	start := time.Now()
	err := s.next.GenerationSettled(ctx, g)
	s.m.observe(depWeChat, "subscribe_send", start, err)
	return err
}
