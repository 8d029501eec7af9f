package postgres

import (
	"context"
	"errors"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// translate turns the database's own trouble into the domain's vocabulary,
// so that no caller above this package needs to know pgx: a connection lost
// or refused, a server shutting down or terminating our backend, a
// serialization failure or deadlock, a statement or connect timeout are all
// failure.ErrUnavailable (the request may succeed if tried again shortly).
// A cancelled context (the caller went away) and every other error pass
// unchanged. Stores call it on every error they return.
func translate(errp *error) {
	err := *errp
	if err == nil || errors.Is(err, context.Canceled) || failure.From(err) != nil {
		return
	}
	if unavailable(err) {
		*errp = failure.ErrUnavailable.With("", err)
	}
}

func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "57": // connection exception, operator intervention (admin shutdown, terminated)
			return true
		}
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization failure, deadlock: retryable
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, net.ErrClosed)
}
