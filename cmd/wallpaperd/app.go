package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/metrics"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

// app is everything serve wires together: adapters, services, workers.
type app struct {
	pool    *pgxpool.Pool
	objects objectStore
	media   http.Handler // local storage only
	wechat  *wechat.Client
	auth    *auth.Service
	users   *user.Service

	generations *wallpaper.Service
	gallery     *wallpaper.Gallery
	queue       *worker.Queue
	metrics     *metrics.Metrics
	unsubscribe func() // job events, while the workers run
}

// objectStore is what storage.Local and storage.S3 both are.
type objectStore interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Delete(ctx context.Context, key string) error
	URL(key string) string
}

func newApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, pool *pgxpool.Pool) (*app, error) {
	a := &app{pool: pool, metrics: metrics.New()}
	a.metrics.ObservePool(pool)
	secret, err := cfg.ResolveJWTSecret()
	if err != nil {
		return nil, err
	}
	if err := a.wireStorage(ctx, cfg); err != nil {
		return nil, err
	}
	if err := a.wireAuth(cfg, secret, logger); err != nil {
		return nil, err
	}
	if err := a.wireGenerations(cfg, secret, logger); err != nil {
		return nil, err
	}
	return a, nil
}

// wireStorage picks S3 when S3_BUCKET is set, else a directory under
// DATA_DIR served at /media/.
func (a *app) wireStorage(ctx context.Context, cfg *config.Config) error {
	if !cfg.LocalStorage() {
		s3, err := storage.NewS3(ctx, storage.S3ConfigFrom(cfg.S3))
		if err != nil {
			return err
		}
		a.objects = a.metrics.ObjectStore(s3)
		return nil
	}
	local, err := storage.NewLocal(filepath.Join(cfg.DataDir, "media"), "")
	if err != nil {
		return err
	}
	a.objects, a.media = a.metrics.ObjectStore(local), local.Handler()
	return nil
}

// wireAuth builds login, sessions and profiles. Without WeChat
// credentials (dev only: prod refuses to start) dev-NAME codes log in.
func (a *app) wireAuth(cfg *config.Config, secret config.Secret, logger *slog.Logger) error {
	access, err := auth.NewAccessTokens([]byte(secret.Reveal()), cfg.AccessTokenTTL, nil)
	if err != nil {
		return err
	}
	var exchanger auth.CodeExchanger
	var moderate user.Moderator
	if cfg.WeChatConfigured() {
		a.wechat, err = wechat.New(wechat.Config{
			AppID: cfg.WeChat.AppID, AppSecret: cfg.WeChat.AppSecret.Reveal(),
			BaseURL: cfg.WeChat.APIBaseURL, Logger: logger,
		})
		if err != nil {
			return fmt.Errorf("wechat: %w", err)
		}
		exchanger = a.metrics.CodeExchanger(a.wechat)
		moderate = a.metrics.Moderation(a.wechat.Allows(wechat.SceneProfile))
	}
	users := postgres.NewUsers(a.pool)
	a.auth, err = auth.NewService(auth.Config{
		RefreshTTL: cfg.RefreshTokenTTL,
		DevLogin:   !cfg.Prod() && !cfg.WeChatConfigured(),
	}, users, postgres.NewRefreshTokens(a.pool), access, exchanger)
	if err != nil {
		return err
	}
	a.users = user.NewService(users, a.objects, moderate, logger)
	return nil
}

func (a *app) httpConfig(cfg *config.Config) httpapi.Config {
	return httpapi.Config{
		Prod:               cfg.Prod(),
		MaxBodyBytes:       cfg.MaxBodyBytes,
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		TrustedProxies:     cfg.TrustedProxies,
		Swagger:            cfg.Swagger(),
		LoginRatePerMinute: cfg.LoginRatePerMinute,
		Metrics:            a.mainMetrics(cfg),
		Observe:            a.metrics.Gin(),
	}
}

// mainMetrics is /metrics on the API listener, or nil where it must not be
// (see metrics.Expose).
func (a *app) mainMetrics(cfg *config.Config) http.Handler {
	if !metrics.Expose(cfg.Prod(), cfg.MetricsAddr, cfg.MetricsToken.Reveal()).OnMain {
		return nil
	}
	return a.metrics.Protected(cfg.MetricsToken.Reveal())
}

func (a *app) httpDeps(logger *slog.Logger, ready func(context.Context) error) httpapi.Deps {
	return httpapi.Deps{Logger: logger, Ready: ready, Media: a.media, Auth: a.auth, Users: a.users, Quota: a.generations,
		Generations: a.generations, Gallery: a.gallery, Objects: a.objects}
}

// wireGenerations builds the generation flow: the store (quota, idempotency
// and the job enqueued in one transaction), the painter the job runs, the
// image model and the River queue.
func (a *app) wireGenerations(cfg *config.Config, secret config.Secret, logger *slog.Logger) error {
	// The queue needs the store (the painter records results through it)
	// and the store needs the queue (to enqueue inside its transaction).
	var queue *worker.Queue
	gens := postgres.NewGenerations(a.pool, func(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
		return queue.EnqueueGeneration(ctx, tx, id)
	})
	images, err := newImageGenerator(cfg)
	if err != nil {
		return err
	}
	gens.ObserveQuota(a.metrics)
	painter := wallpaper.NewPainter(gens, a.metrics.ImageGenerator(images), a.objects, logger)
	queue, err = worker.New(a.pool, worker.Config{
		Workers:         cfg.Workers,
		JobTimeout:      cfg.JobTimeout,
		MaxAttempts:     cfg.JobMaxAttempts,
		RetryBase:       cfg.JobRetryBase,
		RescueAfter:     cfg.JobRescueAfter,
		SoftStopTimeout: cfg.ShutdownTimeout * 3 / 4,
		Logger:          logger,
	}, painter, a.objects, gens)
	if err != nil {
		return err
	}
	a.queue = queue
	cursors := wallpaper.NewCursorCodec(derivedKey(secret.Reveal(), "cursor"))
	var moderator wallpaper.PromptChecker
	if a.wechat != nil {
		moderator = a.metrics.PromptChecker(promptChecker{users: postgres.NewUsers(a.pool), wechat: a.wechat})
	}
	a.generations = wallpaper.NewService(wallpaper.ServiceConfig{
		Generations: gens,
		Quota:       gens,
		Moderator:   moderator,
		Policy:      wallpaper.QuotaPolicy{DailyLimit: cfg.DailyQuota, Location: cfg.QuotaLocation},
		Cursors:     cursors,
	})
	gallery := postgres.NewGallery(a.pool, queue.EnqueueDeleteObjects)
	a.gallery = wallpaper.NewGallery(gallery, gallery, gallery, cursors)
	return nil
}

// newImageGenerator is the OpenAI model when OPENAI_API_KEY is set, else
// the built-in offline painter (dev only: prod refuses to start without a
// key).
func newImageGenerator(cfg *config.Config) (wallpaper.ImageGenerator, error) {
	if cfg.OfflineImages() {
		return imagegen.NewOffline(), nil
	}
	oc := imagegen.OpenAIConfigFrom(cfg.OpenAI)
	oc.RequestTimeout = cfg.OpenAI.Timeout
	return imagegen.NewOpenAI(oc)
}

// promptChecker moderates prompts with WeChat msgSecCheck as the user.
type promptChecker struct {
	users  *postgres.Users
	wechat *wechat.Client
}

func (p promptChecker) CheckPrompt(ctx context.Context, userID uuid.UUID, prompt string) error {
	u, err := p.users.User(ctx, userID)
	if err != nil {
		return err
	}
	// A prompt is text a user publishes with the wallpaper, closest to
	// msgSecCheck's comment scene (the profile scene is for nicknames).
	v, err := p.wechat.CheckText(ctx, u.OpenID, wechat.SceneComment, prompt)
	if err != nil {
		return err
	}
	if !v.Pass() {
		return wallpaper.ErrPromptRejected
	}
	return nil
}

// derivedKey gives each use of the app secret its own key.
func derivedKey(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("wallpaperd/" + purpose))
	return m.Sum(nil)
}

// start starts the background workers and returns; they run until stop.
// Job metrics are watched until ctx ends.
func (a *app) start(ctx context.Context) error {
	events, unsubscribe := a.queue.Client().Subscribe(metrics.JobEvents...)
	a.unsubscribe = unsubscribe
	go a.metrics.WatchJobs(ctx, events)
	// River cancels running jobs at once when its start context ends; the
	// shutdown signal must not do that: stop lets them finish softly first.
	return a.queue.Start(context.WithoutCancel(ctx))
}

// stop lets in-flight jobs finish within ctx's deadline, then cancels them.
func (a *app) stop(ctx context.Context) error {
	err := a.queue.Stop(ctx)
	if a.unsubscribe != nil {
		a.unsubscribe()
	}
	return err
}
