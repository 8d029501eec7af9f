package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wechat"
)

// app is everything serve wires together: adapters, services, workers.
type app struct {
	pool    *pgxpool.Pool
	objects objectStore
	media   http.Handler // local storage only
	wechat  *wechat.Client
	auth    *auth.Service
	users   *user.Service
	quota   httpapi.QuotaReader
}

// objectStore is what storage.Local and storage.S3 both are.
type objectStore interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Delete(ctx context.Context, key string) error
	URL(key string) string
}

func newApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, pool *pgxpool.Pool) (*app, error) {
	a := &app{pool: pool}
	if err := a.wireStorage(ctx, cfg); err != nil {
		return nil, err
	}
	if err := a.wireAuth(cfg, logger); err != nil {
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
		a.objects = s3
		return nil
	}
	local, err := storage.NewLocal(filepath.Join(cfg.DataDir, "media"), "")
	if err != nil {
		return err
	}
	a.objects, a.media = local, local.Handler()
	return nil
}

// wireAuth builds login, sessions and profiles. Without WeChat
// credentials (dev only: prod refuses to start) dev-NAME codes log in.
func (a *app) wireAuth(cfg *config.Config, logger *slog.Logger) error {
	secret, err := cfg.ResolveJWTSecret()
	if err != nil {
		return err
	}
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
		exchanger, moderate = a.wechat, a.wechat.Allows(wechat.SceneProfile)
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
	// The generation service replaces this with the metered quota.
	a.quota = user.FixedQuota{DailyLimit: cfg.DailyQuota, Location: cfg.QuotaLocation}
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
	}
}

func (a *app) httpDeps(logger *slog.Logger, ready func(context.Context) error) httpapi.Deps {
	return httpapi.Deps{Logger: logger, Ready: ready, Media: a.media, Auth: a.auth, Users: a.users, Quota: a.quota}
}

// start runs the background workers until ctx ends.
func (a *app) start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// stop lets in-flight jobs finish within ctx's deadline.
func (a *app) stop(context.Context) error { return nil }
