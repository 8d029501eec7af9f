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
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"riverqueue.com/riverui"

	"github.com/wallpaperd/wallpaperd/internal/admin"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/feedcache"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/imagegen"
	"github.com/wallpaperd/wallpaperd/internal/metrics"
	"github.com/wallpaperd/wallpaperd/internal/picture"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/sharecode"
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
	// Revocations is this replica's set of banned and deleted accounts
	// whose access tokens are refused.
	Revocations *auth.Revocations

	logger      *slog.Logger
	riverUI     *riverui.Handler // nil when RIVER_UI_ENABLED=false
	unsubscribe func()           // job events, while the workers run
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
	objects, media, err := newObjectStore(ctx, cfg, secret, logger)
	if err != nil {
		return nil, err
	}
	objects = m.ObjectStore(objects)
	wc, err := newWeChat(cfg, logger)
	if err != nil {
		return nil, err
	}
	push, err := newWeChatPush(cfg)
	if err != nil {
		return nil, err
	}
	images, err := newImageGenerator(cfg, logger, m)
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
	accountStore := postgres.NewAccounts(pool, jobs, cfg.AccessTokenTTL)
	adminStore := postgres.NewAdmins(pool, galleryStore)
	// The public feed's pages, kept FEED_CACHE_TTL; every store that takes
	// a wallpaper out of public view drops its pages here after the commit.
	feed := feedcache.New(feedcache.Config{TTL: cfg.FeedCacheTTL})
	galleryStore.OnHidden(feed.Hide)
	accountStore.OnHidden(feed.Hide)
	m.ObserveFeedCache(feed)

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
	// A keyed hash of the openid is what outlives a deleted account (its
	// ban, its day's quota); access tokens of banned and deleted accounts
	// are refused through the revocation set, reloaded every
	// BAN_SYNC_INTERVAL.
	subjects, err := user.NewSubjects(secret.Derive("openid-subject"))
	if err != nil {
		return nil, err
	}
	revocations := auth.NewRevocations(accountStore, cfg.BanSyncInterval, cfg.AccessTokenTTL, logger)
	if err := revocations.Reload(ctx); err != nil {
		logger.Warn("loading banned and deleted accounts: retried every BAN_SYNC_INTERVAL", "err", err)
	}
	refreshTokens := postgres.NewRefreshTokens(pool)
	authService, err := auth.NewService(auth.Config{
		RefreshTTL:  cfg.RefreshTokenTTL,
		DevLogin:    !cfg.Prod() && wc == nil,
		MaxAge:      cfg.SessionMaxAge,
		ReuseGrace:  cfg.RefreshReuseGrace,
		Subjects:    subjects,
		Standing:    accountStore,
		Revocations: revocations,
	}, users, refreshTokens, access, exchanger)
	if err != nil {
		return nil, err
	}
	profiles := user.NewService(users, objects, nicknames, logger)
	// One bound on image decoding for the whole process.
	decodes := picture.NewSlots(cfg.ImageDecodeConcurrency)
	profiles.DecodeIn(decodes)
	accounts := user.NewAccounts(users, accountStore, subjects, revocations)
	var reports *wallpaper.Reports
	if cfg.ReportsEnabled {
		reports = wallpaper.NewReports(galleryStore, cfg.ReportHoldThreshold)
	}
	admins := admin.NewAdmins(adminStore, cfg.AdminSessionTTL)
	governance := admin.NewGovernance(admin.GovernanceConfig{
		Review: adminStore, Accounts: adminStore, Audit: adminStore, Users: users,
		Subjects: subjects, Revoker: revocations,
	})
	cursors := wallpaper.NewCursorCodec(secret.Derive("cursor"))
	generations := wallpaper.NewService(wallpaper.ServiceConfig{
		Generations: generationStore,
		Quota:       generationStore,
		Moderator:   prompts,
		Policy:      wallpaper.QuotaPolicy{DailyLimit: cfg.DailyQuota, Location: cfg.QuotaLocation},
		Cursors:     cursors,
	})
	gallery := wallpaper.NewGallery(galleryStore, galleryStore, galleryStore, cursors)
	corner, err := aigc.ParseCorner(cfg.AIGCLabelCorner)
	if err != nil {
		return nil, err
	}
	if !cfg.AIGCVisibleLabel {
		logger.Warn("AIGC_VISIBLE_LABEL=false: images carry no visible AI-generated label; " +
			"this is unlawful for users in mainland China (GB 45438-2025 §5.2)")
	}
	painter := wallpaper.NewPainter(wallpaper.PainterConfig{
		Decodes: decodes,
		Jobs:    generationStore,
		Images:  m.ImageGenerator(images),
		Objects: objects,
		Labels:  wallpaper.Labels{Producer: cfg.ProducerCode(), Visible: cfg.AIGCVisibleLabel, Corner: corner},
		Logger:  logger,
	})
	moderation := wallpaper.NewModeration(wallpaper.ModerationConfig{
		Store:    galleryStore,
		Checker:  newImageChecker(cfg, wc, users, logger),
		Timeouts: jobs,
		URLs:     objects,
		Timeout:  cfg.ModerationTimeout,
		Logger:   logger,
	})
	publisher := wallpaper.NewPublisher(galleryStore, objects, logger)
	notifications := wallpaper.NewNotifications(generationStore, m.Messenger(newMessenger(cfg, wc, users, logger)), logger)

	// The workers and the HTTP face.
	queue, err := worker.New(pool, worker.Config{
		Workers:          cfg.Workers,
		JobTimeout:       cfg.JobTimeout,
		RetryBase:        cfg.JobRetryBase,
		RescueAfter:      cfg.JobRescueAfter,
		ReplicaID:        cfg.ReplicaID,
		ReplicaDeadAfter: cfg.ReplicaDeadAfter,
		SoftStopTimeout:  cfg.ShutdownTimeout * 3 / 4,
		Logger:           logger,
		Sessions:         refreshTokens,
		SessionMaxAge:    cfg.SessionMaxAge,
	}, worker.Deps{
		Painter:    painter,
		Objects:    objects,
		Orphans:    generationStore,
		Moderation: moderation,
		Publisher:  publisher,
		Unsettled:  galleryStore,
		Notifier:   notifications,
		Likes:      galleryStore,
	})
	if err != nil {
		return nil, err
	}
	var riverUI *riverui.Handler
	if cfg.RiverUIEnabled {
		riverUI, err = riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(queue.Client(), nil),
			Logger:    slog.New(quieter{logger.Handler()}),
			Prefix:    "/admin/river",
		})
		if err != nil {
			return nil, fmt.Errorf("river ui: %w", err)
		}
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
		PrivateURLTTL:      cfg.PrivateURLTTL,
		Client:             clientConfig(cfg, wc),
		UserRates: httpapi.UserRates{
			Generations: cfg.GenerationRatePerMinute,
			Profile:     cfg.ProfileRatePerMinute,
			Avatar:      cfg.AvatarRatePerMinute,
			Likes:       cfg.LikeRatePerMinute,
		},
		ReportRatePerHour: cfg.ReportRatePerHour,
		CSRFKey:           secret.Derive("admin-csrf"),
	}, httpapi.Deps{
		Logger:        logger,
		Ready:         ready,
		Media:         media,
		Auth:          authService,
		Users:         profiles,
		Quota:         generations,
		Generations:   generations,
		Gallery:       gallery,
		Feed:          feed,
		Objects:       objects,
		WeChatPush:    push,
		MediaVerdicts: mediaVerdicts(moderation),
		Covers:        imagegen.NewCovers(),
		Codes:         newCodes(cfg, wc, objects),
		Reports:       reports,
		Accounts:      accounts,
		Admins:        admins,
		Governance:    governance,
		RiverUI:       httpHandler(riverUI),
	})
	if err != nil {
		return nil, err
	}
	return &App{Handler: handler, Metrics: m, Queue: queue, Revocations: revocations, logger: logger, riverUI: riverUI}, nil
}

// Start starts the background workers and returns; they run until Stop.
// Job metrics are watched until ctx ends.
func (a *App) Start(ctx context.Context) error {
	go a.Revocations.Run(ctx)
	if a.riverUI != nil {
		if err := a.riverUI.Start(ctx); err != nil {
			return fmt.Errorf("starting river ui: %w", err)
		}
	}
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

// httpHandler is h, or a nil interface when h is nil (a nil *Handler in
// an interface is not nil).
func httpHandler(h *riverui.Handler) http.Handler {
	if h == nil {
		return nil
	}
	return h
}

// quieter passes on River UI's log records from warnings up.
type quieter struct{ slog.Handler }

func (h quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{h.Handler.WithAttrs(as)} }
func (h quieter) WithGroup(name string) slog.Handler    { return quieter{h.Handler.WithGroup(name)} }

// objectStore is what storage.Local and storage.S3 both are, and what
// every part that keeps images needs.
type objectStore = metrics.ObjectStore

// newObjectStore is S3 when S3_BUCKET is set, else a directory under
// DATA_DIR served at /media/ (media is its handler; nil with S3), whose
// private objects' URLs are signed with a key derived from the secret.
func newObjectStore(ctx context.Context, cfg *config.Config, secret config.Secret, logger *slog.Logger) (objects objectStore, media http.Handler, err error) {
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
	local, err := storage.NewLocal(filepath.Join(cfg.DataDir, "media"), "", storage.WithSigningKey(secret.Derive("media")))
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

// newWeChatPush verifies WeChat's message pushes at /api/v1/wechat/push,
// or is nil (the route answers 404) without WECHAT_PUSH_TOKEN.
func newWeChatPush(cfg *config.Config) (*wechat.Push, error) {
	if cfg.WeChat.PushToken == "" {
		return nil, nil
	}
	p, err := wechat.NewPush(wechat.PushConfig{
		Token:          cfg.WeChat.PushToken.Reveal(),
		EncodingAESKey: cfg.WeChat.PushAESKey.Reveal(),
		AppID:          cfg.WeChat.AppID,
	})
	if err != nil {
		return nil, fmt.Errorf("wechat push: %w", err)
	}
	return p, nil
}

// newImageGenerator is the chain of image providers IMAGE_PROVIDERS
// resolves to (config has refused a chain naming a provider without its
// key), or the offline painter alone in dev without keys. The resolved
// chain is logged, with a warning for an OpenAI model OpenAI shuts down.
func newImageGenerator(cfg *config.Config, logger *slog.Logger, m *metrics.Metrics) (wallpaper.ImageGenerator, error) {
	providers := cfg.ImageProviders()
	if cfg.OfflineImages() {
		logger.Info("image providers", "chain", providers)
		return imagegen.NewOffline(), nil
	}
	links := make([]imagegen.Link, 0, len(providers))
	models := make([]string, 0, len(providers))
	for _, p := range providers {
		g, model, err := newImageProvider(cfg, p)
		if err != nil {
			return nil, err
		}
		links = append(links, imagegen.Link{Provider: p, Generator: g})
		models = append(models, p+"="+model)
	}
	chain, err := imagegen.NewChain(imagegen.ChainConfig{
		Budget:          cfg.ImageChainTimeout(),
		BreakerFailures: uint32(cfg.Images.BreakerFailures),
		BreakerCooldown: cfg.Images.BreakerCooldown,
		Logger:          logger,
		Observer:        m,
	}, links...)
	if err != nil {
		return nil, err
	}
	logger.Info("image providers", "chain", providers, "models", models, "budget", cfg.ImageChainTimeout())
	if slices.Contains(providers, config.ProviderOpenAI) {
		warnShutDownModel(cfg, logger, time.Now())
	}
	return chain, nil
}

// newImageProvider builds one provider of the chain from its settings.
func newImageProvider(cfg *config.Config, provider string) (wallpaper.ImageGenerator, string, error) {
	transport := func(timeout time.Duration) imagegen.Transport {
		return imagegen.Transport{RequestTimeout: timeout, AllowPrivateFetch: cfg.ImageFetchAllowPrivate}
	}
	switch provider {
	case config.ProviderOpenAI:
		g, err := imagegen.NewOpenAI(imagegen.OpenAIConfig{
			APIKey: cfg.OpenAI.APIKey.Reveal(), BaseURL: cfg.OpenAI.BaseURL, Model: cfg.OpenAI.ImageModel,
			Transport: transport(cfg.OpenAI.Timeout),
		})
		return g, cfg.OpenAI.ImageModel, settingError("IMAGE_MODEL", err)
	case config.ProviderArk:
		a := cfg.Images.Ark
		g, err := imagegen.NewArk(imagegen.ArkConfig{APIKey: a.APIKey.Reveal(), BaseURL: a.BaseURL, Model: a.Model, Transport: transport(a.Timeout)})
		return g, a.Model, settingError("ARK_MODEL", err)
	case config.ProviderZhipu:
		z := cfg.Images.Zhipu
		g, err := imagegen.NewZhipu(imagegen.ZhipuConfig{APIKey: z.APIKey.Reveal(), BaseURL: z.BaseURL, Model: z.Model,
			Watermark: z.Watermark, Transport: transport(z.Timeout)})
		return g, z.Model, settingError("ZHIPU_MODEL", err)
	case config.ProviderSiliconFlow:
		sf := cfg.Images.SiliconFlow
		g, err := imagegen.NewSiliconFlow(imagegen.SiliconFlowConfig{APIKey: sf.APIKey.Reveal(), BaseURL: sf.BaseURL, Model: sf.Model,
			Transport: transport(sf.Timeout)})
		return g, sf.Model, settingError("SILICONFLOW_MODEL", err)
	case config.ProviderOffline:
		return imagegen.NewOffline(), imagegen.ModelOffline, nil
	}
	return nil, "", &config.SettingError{Setting: "IMAGE_PROVIDERS", Reason: fmt.Sprintf("names %q, which is not a provider", provider)}
}

// settingError names the setting a provider's constructor refused.
func settingError(setting string, err error) error {
	if err == nil {
		return nil
	}
	return &config.SettingError{Setting: setting, Reason: "is refused: " + err.Error()}
}

// warnShutDownModel warns of an OpenAI model OpenAI's deprecations page
// gives a shutdown date: past, every request to api.openai.com fails
// with model_not_found, and only a relay that still serves it will do.
func warnShutDownModel(cfg *config.Config, logger *slog.Logger, now time.Time) {
	model := cfg.OpenAI.ImageModel
	day, ok := imagegen.OpenAIShutdown(model)
	switch {
	case !ok:
	case !now.Before(day):
		logger.Warn("IMAGE_MODEL is shut down by OpenAI: every request to OpenAI itself fails; keep it only for a relay that still serves it",
			"model", model, "shut_down_on", day.Format(time.DateOnly), "current_default", imagegen.DefaultOpenAIModel)
	default:
		logger.Warn("IMAGE_MODEL will be shut down by OpenAI", "model", model, "shuts_down_on", day.Format(time.DateOnly),
			"current_default", imagegen.DefaultOpenAIModel)
	}
}

// newImageChecker is WeChat's mediaCheckAsync when WeChat is configured,
// else the local checker (dev: it decides at once).
func newImageChecker(cfg *config.Config, wc *wechat.Client, users wechat.OpenIDs, logger *slog.Logger) wallpaper.ImageChecker {
	if wc == nil {
		return wallpaper.LocalChecker{}
	}
	if cfg.LocalStorage() {
		logger.Warn("WeChat is configured but images are stored locally, where WeChat cannot fetch them: " +
			"every new public wallpaper is held for an admin instead of checked (set S3_BUCKET)")
	}
	return wc.ImageChecker(users)
}

// newMessenger sends a settled generation's subscribe message through
// WeChat when it is configured with a template, else to the log.
func newMessenger(cfg *config.Config, wc *wechat.Client, users wechat.OpenIDs, logger *slog.Logger) wallpaper.Messenger {
	if wc == nil || cfg.WeChat.SubscribeTemplateID == "" {
		return wallpaper.LogMessenger{Logger: logger}
	}
	keys := cfg.WeChat.SubscribeKeys
	return wc.Subscriber(users, wechat.SubscribeConfig{
		TemplateID: cfg.WeChat.SubscribeTemplateID,
		State:      map[string]string{"release": "formal", "trial": "trial", "develop": "developer"}[cfg.WeChat.MiniProgramEnv],
		KeyPrompt:  keys[0], KeyStatus: keys[1], KeyTime: keys[2], KeyNote: keys[3],
		Location: cfg.QuotaLocation,
	})
}

// newCodes makes wallpapers' mini-program codes with WeChat, or QR codes
// of the same page without it (dev), kept in object storage.
func newCodes(cfg *config.Config, wc *wechat.Client, objects objectStore) *sharecode.Codes {
	if wc == nil {
		return sharecode.New(sharecode.QR{}, objects, "png")
	}
	return sharecode.New(sharecode.WeChatMaker{Client: wc, EnvVersion: cfg.WeChat.MiniProgramEnv}, objects, "jpg")
}

// clientConfig is the deployment's part of GET /api/v1/client-config.
func clientConfig(cfg *config.Config, wc *wechat.Client) httpapi.ClientConfig {
	c := httpapi.ClientConfig{
		DailyLimit:          cfg.DailyQuota,
		ReportsEnabled:      cfg.ReportsEnabled,
		ReportResponseHours: cfg.ReportResponseHours,
	}
	if wc != nil {
		c.SubscribeTemplateID = cfg.WeChat.SubscribeTemplateID
	}
	return c
}

// mediaVerdicts hands the wxa_media_check verdicts WeChat pushes to the
// image check.
func mediaVerdicts(m *wallpaper.Moderation) httpapi.MediaVerdicts {
	return httpapi.MediaVerdictsFunc(func(ctx context.Context, traceID string, v wechat.MediaVerdict) error {
		return m.Apply(ctx, traceID, wallpaper.Verdict{Suggest: string(v.Suggest), Label: strconv.Itoa(v.Label)})
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
