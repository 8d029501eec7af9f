package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reads pgxpool.Stat() at every scrape: the figures are the
// pool's own, so there is nothing to keep in step.
type poolCollector struct {
	pool *pgxpool.Pool

	total, idle, acquired, constructing, max *prometheus.Desc
	acquires, emptyAcquires, canceled        *prometheus.Desc
	acquireSeconds                           *prometheus.Desc
}

// ObservePool registers the database pool's figures: connections open,
// idle, in use and being made, the limit, acquisitions (all, those that
// had to wait, those cancelled) and the time spent waiting.
func (m *Metrics) ObservePool(pool *pgxpool.Pool) {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_db_pool_"+name, help, nil, nil)
	}
	m.registry.MustRegister(&poolCollector{
		pool:           pool,
		total:          d("connections", "Open connections."),
		idle:           d("idle_connections", "Idle connections."),
		acquired:       d("acquired_connections", "Connections in use."),
		constructing:   d("constructing_connections", "Connections being established."),
		max:            d("max_connections", "The pool's connection limit."),
		acquires:       d("acquires_total", "Successful acquisitions of a connection."),
		emptyAcquires:  d("empty_acquires_total", "Acquisitions that waited because no connection was idle."),
		canceled:       d("canceled_acquires_total", "Acquisitions cancelled by their context."),
		acquireSeconds: d("acquire_wait_seconds_total", "Time spent acquiring connections."),
	})
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.constructing, c.max,
		c.acquires, c.emptyAcquires, c.canceled, c.acquireSeconds} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.canceled, float64(s.CanceledAcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
}
