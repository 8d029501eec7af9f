package user

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// FixedQuota reports the configured daily limit with nothing used. It
// stands in for the generation service, which meters use, wherever that
// service is not wired (GET /me must answer either way).
type FixedQuota struct {
	DailyLimit int
	Location   *time.Location // the quota day's zone (QUOTA_TZ)
	Now        func() time.Time
}

// Quota returns the full allowance, resetting at the next midnight in
// Location.
func (q FixedQuota) Quota(_ context.Context, _ uuid.UUID) (wallpaper.Quota, error) {
	now := time.Now
	if q.Now != nil {
		now = q.Now
	}
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	t := now().In(loc)
	midnight := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	return wallpaper.Quota{DailyLimit: q.DailyLimit, Remaining: q.DailyLimit, ResetsAt: midnight}, nil
}
