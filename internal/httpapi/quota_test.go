package httpapi_test

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// fixedQuota answers GET /me's quota for router tests that do not wire the
// generation service: the whole allowance, resetting at the next UTC
// midnight.
type fixedQuota struct{ limit int }

func (q fixedQuota) Quota(context.Context, uuid.UUID) (wallpaper.Quota, error) {
	now := time.Now().UTC()
	return wallpaper.Quota{DailyLimit: q.limit, Remaining: q.limit,
		ResetsAt: time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)}, nil
}
