package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

const adminUsage = "usage: wallpaperd admin add NAME | admin list | admin revoke NAME"

// adminCommand manages admins on the command line (the database the same
// way migrate opens it): add prints a new admin's token once, list shows
// every admin, revoke stops a token and its console sessions at once.
// Adding and revoking are written to the audit log.
func adminCommand(ctx context.Context, cfg *config.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] == "list") != (len(args) == 1) || len(args) > 2 {
		return errors.New(adminUsage)
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(logger)
	if err := schemaReady(ctx, cfg, db, logger); err != nil {
		return err
	}
	admins := admin.NewAdmins(postgres.NewAdmins(db.pool, nil), cfg.AdminSessionTTL)
	switch args[0] {
	case "add":
		a, token, err := admins.Add(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin %s added. Its token, shown this once (only its hash is stored; keep it safe):\n%s\n", a.Name, token)
		fmt.Fprintln(stdout, "Sign in to the console at /admin/ with it, or send it as `Authorization: Bearer <token>` to /api/v1/admin/.")
		return nil
	case "list":
		list, err := admins.List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tADDED\tSTATE")
		for _, a := range list {
			state := "live"
			if a.RevokedAt != nil {
				state = "revoked " + a.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", a.Name, a.CreatedAt.UTC().Format(time.RFC3339), state)
		}
		return w.Flush()
	case "revoke":
		if err := admins.Revoke(ctx, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin %s revoked: its token and console sessions no longer work.\n", args[1])
		return nil
	default:
		return errors.New(adminUsage)
	}
}

// schemaReady applies pending migrations in dev (as serve does, so that
// `wallpaperd admin add` works on a fresh dev database) and refuses a
// schema that is behind in prod.
func schemaReady(ctx context.Context, cfg *config.Config, db *database, logger *slog.Logger) error {
	m, err := postgres.NewMigrator(db.pool, logger)
	if err != nil {
		return err
	}
	defer m.Close()
	if !cfg.Prod() {
		return m.Up(ctx)
	}
	pending, err := m.Pending(ctx)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("the database schema is behind this binary: run `wallpaperd migrate up` first")
	}
	return nil
}
