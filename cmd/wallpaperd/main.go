// Command wallpaperd is the AI wallpaper generator's API server.
//
// Usage:
//
//	wallpaperd [serve]              serve the API (the default)
//	wallpaperd migrate up|down|status
//	wallpaperd admin add NAME | admin list | admin revoke NAME
//
// Configuration comes from the environment (and .env in dev); see README.md.
//
//	@title						wallpaperd API
//	@version					1.0
//	@description				AI phone wallpapers for WeChat mini-program users. Log in with a WeChat code (in dev: `dev-NAME`), submit a prompt, poll the generation, browse the public gallery. Every error is `{code, message, request_id}`; a method a path does not have is `405 method_not_allowed` with an `Allow` header, a malformed query string `400 invalid_request`, too many calls `429 rate_limited` with `Retry-After`.
//	@contact.name				wallpaperd maintainers
//	@contact.url				https://github.com/wallpaperd/wallpaperd
//	@license.name				MIT
//	@license.url				https://opensource.org/licenses/MIT
//	@BasePath					/
//	@tag.name					health
//	@tag.description			Liveness and readiness probes for load balancers and orchestrators.
//	@tag.name					auth
//	@tag.description			WeChat login (in dev: code `dev-NAME`), token refresh with rotation, logout.
//	@tag.name					profile
//	@tag.description			The caller's own profile: nickname, avatar and daily quota.
//	@tag.name					generations
//	@tag.description			Submit a prompt (202 at once), then poll the generation until the background job has painted the wallpaper.
//	@tag.name					gallery
//	@tag.description			The public feed, one wallpaper's details, the caller's own wallpapers, visibility, deletion and likes.
//	@tag.name					mini-program
//	@tag.description			What the mini-program reads at start and for sharing: the client configuration, the presets (styles) with their covers, a wallpaper's mini-program code for posters.
//	@tag.name					wechat
//	@tag.description			WeChat's message push: URL verification and the verdicts of image moderation (mediaCheckAsync). Signed by WeChat, not called by clients.
//	@tag.name					admin
//	@tag.description			The operator's API: the review queue and decisions, users and bans, the audit log. Admin tokens only (wallpaperd admin add NAME); a user's access token is refused here, and an admin token everywhere else.
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				Type "Bearer " followed by the access token from POST /api/v1/auth/login.
//	@securityDefinitions.apikey	AdminAuth
//	@in							header
//	@name						Authorization
//	@description				Type "Bearer " followed by an admin token (wpa_…, printed once by `wallpaperd admin add NAME`).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // QUOTA_TZ works on hosts without a zoneinfo database

	"github.com/wallpaperd/wallpaperd/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wallpaperd:", err)
		os.Exit(1)
	}
}

const usage = `usage: wallpaperd [serve | migrate up|down|status | admin add NAME | admin list | admin revoke NAME]`

// run is the whole program, with its inputs passed in so tests can call it.
func run(ctx context.Context, args, environ []string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	slog.SetDefault(logger)

	switch cmd {
	case "serve":
		return serve(ctx, cfg, logger)
	case "migrate":
		return migrate(ctx, cfg, logger, args, stdout)
	case "admin":
		return adminCommand(ctx, cfg, logger, args, stdout)
	default:
		return errors.New(usage)
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Prod() {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
