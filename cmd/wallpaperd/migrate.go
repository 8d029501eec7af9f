package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

func migrate(ctx context.Context, cfg *config.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: wallpaperd migrate up|down|status")
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(logger)
	m, err := postgres.NewMigrator(db.pool, logger)
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		return m.Up(ctx)
	case "down":
		return m.Down(ctx)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(stdout, "%-8s %5d  %s\n", state, s.Version, s.Source)
		}
		return nil
	default:
		return fmt.Errorf("usage: wallpaperd migrate up|down|status")
	}
}
