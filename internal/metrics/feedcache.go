package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wallpaperd/wallpaperd/internal/feedcache"
)

// ObserveFeedCache registers the feed cache's figures, read from its own
// counters at each scrape (a hit costs no more than an atomic add):
// requests by result and the pages kept.
func (m *Metrics) ObserveFeedCache(c *feedcache.Cache) {
	m.registry.MustRegister(&feedCacheCollector{
		cache: c,
		requests: prometheus.NewDesc(namespace+"_feed_cache_requests_total",
			"Public feed pages asked of the cache by result: hit (served kept bytes), fill (read the page), "+
				"wait (waited for another request's fill), bypass (a page not kept, read for itself).",
			[]string{"result"}, nil),
		pages: prometheus.NewDesc(namespace+"_feed_cache_pages", "Pages the feed cache keeps.", nil, nil),
	})
}

type feedCacheCollector struct {
	cache           *feedcache.Cache
	requests, pages *prometheus.Desc
}

func (c *feedCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.pages
}

func (c *feedCacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.cache.Stats()
	for result, n := range map[string]uint64{"hit": s.Hits, "fill": s.Fills, "wait": s.Waits, "bypass": s.Bypassed} {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(n), result)
	}
	ch <- prometheus.MustNewConstMetric(c.pages, prometheus.GaugeValue, float64(s.Pages))
}
