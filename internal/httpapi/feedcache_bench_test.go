package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
)

// BenchmarkFeedCacheHit is a kept anonymous page of 50 through the whole
// handler (middleware, access log as text, metrics): the cost of a hit
// in wallpaperd itself, without the network (make bench measures that).
func BenchmarkFeedCacheHit(b *testing.B) {
	s := apptest.New(b, apptest.Options{NoWorkers: true, Vars: map[string]string{"FEED_CACHE_TTL": "1m"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	owner := uuid.MustParse(s.Login(b, "owner").User.ID)
	e := &feedEnv{s: s}
	for i := range 50 {
		e.publish(b, owner, time.Now().Add(-time.Duration(i)*time.Minute))
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/wallpapers?limit=50", nil)
	for _, inm := range []string{"", "revalidated"} {
		b.Run(map[string]string{"": "200", "revalidated": "304"}[inm], func(b *testing.B) {
			if inm != "" {
				rec := httptest.NewRecorder()
				s.App.Handler.ServeHTTP(rec, req)
				req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				s.App.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK && rec.Code != http.StatusNotModified {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
