package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// breakerStates are the values of the breaker gauge.
var breakerStates = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

// providerMetrics are the image providers' own instruments, below the
// dependency_calls_total of the image model as a whole.
type providerMetrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	breaker  *prometheus.GaugeVec
}

func newProviderMetrics(r *prometheus.Registry) *providerMetrics {
	p := &providerMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "image_provider_calls_total",
			Help: "Calls to each image provider by outcome: ok, a failure code, breaker_open (skipped), canceled.",
		}, []string{"provider", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "image_provider_call_duration_seconds",
			Help: "Latency of each image provider's calls, the image download included.", Buckets: callBuckets,
		}, []string{"provider"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "image_provider_breaker_state",
			Help: "Each image provider's circuit breaker: 0 closed, 1 half-open, 2 open (skipped).",
		}, []string{"provider"}),
	}
	r.MustRegister(p.calls, p.duration, p.breaker)
	return p
}

// ProviderCalled counts and times one call to an image provider; it
// satisfies imagegen.Observer with the two methods below.
func (m *Metrics) ProviderCalled(provider, outcome string, elapsed time.Duration) {
	m.providers.calls.WithLabelValues(provider, outcome).Inc()
	m.providers.duration.WithLabelValues(provider).Observe(elapsed.Seconds())
}

// ProviderSkipped counts a call an open breaker saved.
func (m *Metrics) ProviderSkipped(provider string) {
	m.providers.calls.WithLabelValues(provider, "breaker_open").Inc()
}

// BreakerChanged records a provider's breaker state.
func (m *Metrics) BreakerChanged(provider, state string) {
	m.providers.breaker.WithLabelValues(provider).Set(breakerStates[state])
}
