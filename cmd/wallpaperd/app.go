package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
)

// app is everything serve wires together: adapters, services, workers.
type app struct {
	pool *pgxpool.Pool
}

func newApp(_ context.Context, _ *config.Config, _ *slog.Logger, pool *pgxpool.Pool) (*app, error) {
	return &app{pool: pool}, nil
}

func (a *app) httpConfig(cfg *config.Config) httpapi.Config {
	return httpapi.Config{
		Prod:               cfg.Prod(),
		MaxBodyBytes:       cfg.MaxBodyBytes,
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		TrustedProxies:     cfg.TrustedProxies,
		Swagger:            cfg.Swagger(),
	}
}

func (a *app) httpDeps(logger *slog.Logger, ready func(context.Context) error) httpapi.Deps {
	return httpapi.Deps{Logger: logger, Ready: ready}
}

// start runs the background workers until ctx ends.
func (a *app) start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// stop lets in-flight jobs finish within ctx's deadline.
func (a *app) stop(context.Context) error { return nil }
