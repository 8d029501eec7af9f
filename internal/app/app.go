// Package app builds the whole wallpaperd service from its configuration:
// every adapter, domain service, background worker and the HTTP handler, in
// dependency order, each once. cmd/wallpaperd runs what New builds; the
// tests build the same thing through internal/apptest.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/metrics"
	"github.com/wallpaperd/wallpaperd/internal/picture"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
	"github.com/wallpaperd/wallpaperd/internal/worker"
)

// App is the service, built and ready to start.
type App struct {
	// Handler serves the HTTP API (and /media/, /metrics, /swagger/ as
	// configured).
	Handler http.Handler
	// Metrics is the service's own Prometheus registry.
	Metrics *metrics.Metrics
	// Queue works the background jobs once started.
	Queue *worker.Queue

	logger      *slog.Logger
	unsubscribe func() // job events, while the workers run
}

// Deps are what the service is given rather than builds: the database
// pool (the caller owns it, its migrations and its life) and the logger.
type Deps struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// Ready is /readyz's check; nil: the database answers a ping.
	Ready func(context.Context) error
}

// New builds the service described by cfg. Nothing runs until Start.
func New(ctx context.Context, cfg *config.Config, d Deps) (*App, error) {
	pool, logger := d.Pool, d.Logger
	m := metrics.New()
	m.ObservePool(pool)

	// The edges of the world: secrets, object storage, WeChat, the image
	// model, and the job inserter the stores enqueue through.
	secret, err := cfg.ResolveJWTSecret()
	if err != nil {
		return nil, err
	}
	objects, media, err := newObjectStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	objects = m.ObjectStore(objects)
	wc, err := newWeChat(cfg, logger)
	if err != nil {
		return nil, err
	}
	images, err := newImageGenerator(cfg)
	if err != nil {
		return nil, err
	}
	jobs, err := worker.NewJobs(pool, cfg.JobMaxAttempts)
	if err != nil {
		return nil, err
	}

	// The stores.
	users := postgres.NewUsers(pool)
	generationStore := postgres.NewGenerations(pool, jobs)
	generationStore.ObserveQuota(m)
	galleryStore := postgres.NewGallery(pool, jobs)

	// The domain.
	access, err := auth.NewAccessTokens([]byte(secret.Reveal()), cfg.AccessTokenTTL, nil)
	if err != nil {
		return nil, err
	}
	var (
		exchanger auth.CodeExchanger      // nil: dev-NAME codes log in
		nicknames user.Moderator          // nil: local rules only
		prompts   wallpaper.PromptChecker // nil: local rules only
	)
	if wc != nil {
		exchanger = m.CodeExchanger(wc)
		nicknames = m.Moderation(wc.Allows(wechat.SceneProfile))
		prompts = m.PromptChecker(wc.PromptChecker(users))
	}
	refreshTokens := postgres.NewRefreshTokens(pool)
	authService, err := auth.NewService(auth.Config{
		RefreshTTL: cfg.RefreshTokenTTL,
		DevLogin:   !cfg.Prod() && wc == nil,
		MaxAge:     cfg.SessionMaxAge,
		ReuseGrace: cfg.RefreshReuseGrace,
	}, users, refreshTokens, access, exchanger)
	if err != nil {
		return nil, err
	}
	profiles := user.NewService(users, objects, nicknames, logger)
	// One bound on image decoding for the whole process.
	decodes := picture.NewSlots(cfg.ImageDecodeConcurrency)
	profiles.DecodeIn(decodes)
	cursors := wallpaper.NewCursorCodec(secret.Derive("cursor"))
	generations := wallpaper.NewService(wallpaper.ServiceConfig{
		Generations: generationStore,
		Quota:       generationStore,
		Moderator:   prompts,
		Policy:      wallpaper.QuotaPolicy{DailyLimit: cfg.DailyQuota, Location: cfg.QuotaLocation},
		Cursors:     cursors,
	})
	gallery := wallpaper.NewGallery(galleryStore, galleryStore, galleryStore, cursors)
	painter := wallpaper.NewPainter(generationStore, m.ImageGenerator(images), objects, logger)

	// The workers and the HTTP face.
	queue, err := worker.New(pool, worker.Config{
		Workers:         cfg.Workers,
		JobTimeout:      cfg.JobTimeout,
		RetryBase:       cfg.JobRetryBase,
		RescueAfter:     cfg.JobRescueAfter,
		SoftStopTimeout: cfg.ShutdownTimeout * 3 / 4,
		Logger:          logger,
		Sessions:        refreshTokens,
		SessionMaxAge:   cfg.SessionMaxAge,
	}, painter, objects, generationStore)
	if err != nil {
		return nil, err
	}
	ready := d.Ready
	if ready == nil {
		ready = func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return errors.New("database unreachable")
			}
			return nil
		}
	}
	handler, err := httpapi.New(httpapi.Config{
		Prod:               cfg.Prod(),
		MaxBodyBytes:       cfg.MaxBodyBytes,
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		TrustedProxies:     cfg.TrustedPrefixes(),
		Swagger:            cfg.Swagger(),
		LoginRatePerMinute: cfg.LoginRatePerMinute,
		Metrics:            mainMetrics(cfg, m),
		Observe:            m.Gin(),
		UserRates: httpapi.UserRates{
			Generations: cfg.GenerationRatePerMinute,
			Profile:     cfg.ProfileRatePerMinute,
			Avatar:      cfg.AvatarRatePerMinute,
			Likes:       cfg.LikeRatePerMinute,
		},
	}, httpapi.Deps{
		Logger:      logger,
		Ready:       ready,
		Media:       media,
		Auth:        authService,
		Users:       profiles,
		Quota:       generations,
		Generations: generations,
		Gallery:     gallery,
		Objects:     objects,
	})
	if err != nil {
		return nil, err
	}
	return &App{Handler: handler, Metrics: m, Queue: queue, logger: logger}, nil
}

// Start starts the background workers and returns; they run until Stop.
// Job metrics are watched until ctx ends.
func (a *App) Start(ctx context.Context) error {
	events, unsubscribe := a.Queue.Client().Subscribe(metrics.JobEvents...)
	a.unsubscribe = unsubscribe
	go a.Metrics.WatchJobs(ctx, events)
	// River cancels running jobs at once when its start context ends; the
	// shutdown signal must not do that: Stop lets them finish softly first.
	return a.Queue.Start(context.WithoutCancel(ctx))
}

// Stop lets in-flight jobs finish within ctx's deadline, then cancels them.
func (a *App) Stop(ctx context.Context) error {
	err := a.Queue.Stop(ctx)
	if a.unsubscribe != nil {
		a.unsubscribe()
	}
	return err
}

// objectStore is what storage.Local and storage.S3 both are, and what
// every part that keeps images needs.
type objectStore = metrics.ObjectStore

// newObjectStore is S3 when S3_BUCKET is set, else a directory under
// DATA_DIR served at /media/ (media is its handler; nil with S3).
func newObjectStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (objects objectStore, media http.Handler, err error) {
	if !cfg.LocalStorage() {
		s3, err := storage.NewS3(ctx, storage.S3Config{
			Bucket:          cfg.S3.Bucket,
			Region:          cfg.S3.Region,
			Endpoint:        cfg.S3.Endpoint,
			ForcePathStyle:  cfg.S3.ForcePathStyle,
			AccessKeyID:     cfg.S3.AccessKeyID,
			SecretAccessKey: cfg.S3.SecretAccessKey.Reveal(),
			PublicBaseURL:   cfg.S3.PublicBaseURL,
			Logger:          logger,
		})
		if err != nil {
			return nil, nil, err
		}
		return s3, nil, nil
	}
	local, err := storage.NewLocal(filepath.Join(cfg.DataDir, "media"), "")
	if err != nil {
		return nil, nil, err
	}
	return local, local.Handler(), nil
}

// newWeChat is the WeChat client, or nil without credentials (dev only:
// prod refuses to start without them).
func newWeChat(cfg *config.Config, logger *slog.Logger) (*wechat.Client, error) {
	if !cfg.WeChatConfigured() {
		return nil, nil
	}
	wc, err := wechat.New(wechat.Config{
		AppID:     cfg.WeChat.AppID,
		AppSecret: cfg.WeChat.AppSecret.Reveal(),
		BaseURL:   cfg.WeChat.APIBaseURL,
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("wechat: %w", err)
	}
	return wc, nil
}

// newImageGenerator is the OpenAI model when OPENAI_API_KEY is set, else
// the built-in offline painter (dev only: prod refuses to start without a
// key).
func newImageGenerator(cfg *config.Config) (wallpaper.ImageGenerator, error) {
	if cfg.OfflineImages() {
		return imagegen.NewOffline(), nil
	}
	return imagegen.NewOpenAI(imagegen.OpenAIConfig{
		APIKey:            cfg.OpenAI.APIKey.Reveal(),
		BaseURL:           cfg.OpenAI.BaseURL,
		Model:             cfg.OpenAI.ImageModel,
		RequestTimeout:    cfg.OpenAI.Timeout,
		AllowPrivateFetch: cfg.ImageFetchAllowPrivate,
	})
}

// mainMetrics is /metrics on the API listener, or nil where it must not be
// (see metrics.Expose).
func mainMetrics(cfg *config.Config, m *metrics.Metrics) http.Handler {
	if !metrics.Expose(cfg.Prod(), cfg.MetricsAddr, cfg.MetricsToken.Reveal()).OnMain {
		return nil
	}
	return m.Protected(cfg.MetricsToken.Reveal())
}
