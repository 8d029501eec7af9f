package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/wallpaperd/wallpaperd/internal/app"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/metrics"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

// database is the open pool and how to let it go (including an embedded
// server started for dev).
type database struct {
	pool *pgxpool.Pool
	stop func() error
}

func (d *database) close(logger *slog.Logger) {
	d.pool.Close()
	if err := d.stop(); err != nil {
		logger.Warn("stopping embedded Postgres", "err", err)
	}
}

// openDatabase connects to DATABASE_URL, or in dev without one finds or
// starts a local Postgres.
func openDatabase(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*database, error) {
	dsn := cfg.DatabaseURL.Reveal()
	stop := func() error { return nil }
	if dsn == "" {
		var err error
		dsn, stop, err = postgres.DevDatabase(ctx, postgres.DevOptions{
			LocalAddr: cfg.LocalPGAddr, DataDir: cfg.DataDir, BinDir: cfg.PGBinDir, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
	}
	pool, err := postgres.Open(ctx, dsn, postgres.PoolConfig{MaxConns: int32(max(20, cfg.Workers+10))})
	if err != nil {
		_ = stop()
		return nil, err
	}
	return &database{pool: pool, stop: stop}, nil
}

func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	logger.Info("starting wallpaperd", "config", cfg)
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(logger)

	migrator, err := postgres.NewMigrator(db.pool, logger)
	if err != nil {
		return err
	}
	defer migrator.Close()
	if cfg.Prod() {
		pending, err := migrator.Pending(ctx)
		if err != nil {
			return err
		}
		if pending {
			return errors.New("the database schema is behind this binary: run `wallpaperd migrate up` first")
		}
	} else if err := migrator.Up(ctx); err != nil {
		return err
	}

	service, err := app.New(ctx, cfg, app.Deps{Pool: db.pool, Logger: logger, Ready: postgres.Ready(db.pool, migrator)})
	if err != nil {
		return err
	}
	// SIGHUP reloads the TLS certificate. Without TLS nothing reads the
	// channel, so the signal is ignored instead of ending the process
	// (`systemctl reload` sends it; systemd counts that death as clean).
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	defer signal.Stop(reload)
	fr, err := listenFront(frontOptionsFrom(cfg, reload), service.Handler, logger)
	if err != nil {
		return err
	}
	logger.Info("serving", "addr", fr.api.ln.Addr().String(), "scheme", fr.scheme(),
		"redirect_addr", cfg.TLSRedirectAddr, "swagger", swaggerURL(cfg, fr.scheme(), fr.api.ln.Addr()))

	metricsSrv, metricsLn, err := listenMetrics(cfg, service.Metrics)
	if err != nil {
		return err
	}

	if err := service.Start(ctx); err != nil {
		return fmt.Errorf("starting the workers: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return fr.serve(gctx) })
	if metricsSrv != nil {
		logger.Info("serving metrics", "addr", metricsLn.Addr().String())
		g.Go(func() error {
			if err := metricsSrv.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		errHTTP := fr.shutdown(shutdownCtx)
		errApp := service.Stop(shutdownCtx)
		var errMetrics error
		if metricsSrv != nil {
			errMetrics = metricsSrv.Shutdown(shutdownCtx)
		}
		return errors.Join(errHTTP, errApp, errMetrics)
	})
	err = g.Wait()
	logger.Info("stopped", "err", err)
	return err
}

// listenMetrics opens METRICS_ADDR, the listener serving only /metrics
// (token-protected when METRICS_TOKEN is set); nil when it is not set.
func listenMetrics(cfg *config.Config, m *metrics.Metrics) (*http.Server, net.Listener, error) {
	addr := metrics.Expose(cfg.Prod(), cfg.MetricsAddr, cfg.MetricsToken.Reveal()).Addr
	if addr == "" {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Protected(cfg.MetricsToken.Reveal()))
	return newHTTPServer(addr, mux), ln, nil
}

// newHTTPServer bounds every phase of a connection so that a slow or idle
// client cannot hold one forever. No request waits for an image model, and
// wx.request gives up after 60 s anyway, so a minute is ample for reading a
// 2 MiB avatar from a slow phone and for writing the largest response (an
// image from /media); WriteTimeout must stay above the longest legitimate
// response. ReadHeaderTimeout also covers the TLS handshake. The idle
// timeout is longer than the keepalive a proxy in front keeps upstream
// connections for (see docs/deploy.md), so the proxy closes them first.
func newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10, // a JWT and the usual headers need a few KiB
	}
}

func swaggerURL(cfg *config.Config, scheme string, addr net.Addr) string {
	if !cfg.Swagger() {
		return ""
	}
	_, port, _ := net.SplitHostPort(addr.String())
	return scheme + "://localhost:" + port + "/swagger/index.html"
}
