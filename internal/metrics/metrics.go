// Package metrics owns wallpaperd's Prometheus registry: HTTP requests by
// route, background jobs, calls to the dependencies (WeChat, the image
// model, storage), quota units, the database pool and the Go runtime. It
// never touches prometheus's global default registry: each Metrics has its
// own, so tests and several servers in one process do not collide.
package metrics

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric wallpaperd defines.
const namespace = "wallpaperd"

// Buckets in seconds. HTTP handlers answer in milliseconds; jobs and the
// image model take 10–60 s, so their buckets reach a few minutes.
var (
	httpBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	slowBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300}
	callBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
)

// Metrics is the registry and the instruments the service records into.
type Metrics struct {
	registry *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	jobs         *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	quota        *prometheus.CounterVec
	providers    *providerMetrics
}

// New returns Metrics with a fresh registry holding the Go runtime and
// process collectors and every wallpaperd instrument.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help: "HTTP request latency by method and route pattern.", Buckets: httpBuckets,
		}, []string{"method", "route"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "jobs_total",
			Help: "Background job runs by kind and outcome (completed, retryable, discarded, cancelled, snoozed).",
		}, []string{"kind", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "job_duration_seconds",
			Help: "Background job run time by kind and outcome.", Buckets: slowBuckets,
		}, []string{"kind", "outcome"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "dependency_calls_total",
			Help: "Calls to WeChat, the image model and object storage by operation and outcome.",
		}, []string{"dependency", "operation", "outcome"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "dependency_call_duration_seconds",
			Help: "Latency of calls to WeChat, the image model and object storage.", Buckets: callBuckets,
		}, []string{"dependency", "operation"}),
		quota: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "quota_units_total",
			Help: "Daily quota units spent on accepted generations and refunded for failed ones.",
		}, []string{"event"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.jobs, m.jobDuration, m.calls, m.callDuration, m.quota,
	)
	m.providers = newProviderMetrics(m.registry)
	// Both quota series exist from the start, so a rate() over them works
	// before the first refund.
	m.quota.WithLabelValues("spent")
	m.quota.WithLabelValues("refunded")
	return m
}

// Registry is the registry everything is recorded in; more collectors
// (the database pool) register here.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// QuotaSpent counts one unit spent on an accepted generation.
func (m *Metrics) QuotaSpent() { m.quota.WithLabelValues("spent").Inc() }

// QuotaRefunded counts one unit given back for a failed generation.
func (m *Metrics) QuotaRefunded() { m.quota.WithLabelValues("refunded").Inc() }

// RequireToken wraps h so that only a request carrying
// `Authorization: Bearer token` gets through; the rest get a 401. The
// comparison takes the same time whatever the guess.
func RequireToken(h http.Handler, token string) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(strings.TrimSpace(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Exposure is where /metrics is served.
type Exposure struct {
	// OnMain serves it on the API listener (token-protected when a token
	// is set).
	OnMain bool
	// Addr, when set, is a separate listener serving only /metrics.
	Addr string
}

// Expose decides where /metrics is served. METRICS_ADDR set: only there.
// Otherwise on the main listener, except in prod without METRICS_TOKEN:
// the figures (routes, error rates, pool sizes) are nobody's business on a
// public API, so prod serves them only when told how to protect them.
func Expose(prod bool, addr, token string) Exposure {
	if addr != "" {
		return Exposure{Addr: addr}
	}
	return Exposure{OnMain: !prod || token != ""}
}

// Protected is Handler behind RequireToken when token is set.
func (m *Metrics) Protected(token string) http.Handler {
	if token == "" {
		return m.Handler()
	}
	return RequireToken(m.Handler(), token)
}
