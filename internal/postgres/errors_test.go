package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"nil", nil, false},
		{"connection lost", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"network", fmt.Errorf("query: %w", &net.OpError{Op: "read", Err: errors.New("reset")}), true},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"caller went away", fmt.Errorf("query: %w", context.Canceled), false},
		{"a domain error", user.ErrNotFound, false},
		{"anything else", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.err
			translate(&err)
			if got := errors.Is(err, failure.ErrUnavailable); got != tt.unavailable {
				t.Fatalf("translate(%v) = %v; unavailable %v, want %v", tt.err, err, got, tt.unavailable)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("translate(%v) lost the cause: %v", tt.err, err)
			}
		})
	}
}

// TestStoreUnavailable: a store on a database that does not answer returns
// failure.ErrUnavailable, which the API answers with a 503.
func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = NewUsers(pool).User(context.Background(), uuid.New())
	if !errors.Is(err, failure.ErrUnavailable) {
		t.Fatalf("User on a dead database = %v, want ErrUnavailable", err)
	}
}
