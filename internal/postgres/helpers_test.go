package postgres_test

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

func pgExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
