package metrics

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// unmatched is the route label of requests no route matched: labelling
// them by their raw path would let any client create series at will.
const unmatched = "unmatched"

// Gin returns the middleware that counts requests by method, route pattern
// (Gin's FullPath, such as /api/v1/wallpapers/:id, never the raw path) and
// status, and observes their latency.
func (m *Metrics) Gin() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = unmatched
		}
		method := c.Request.Method
		if !knownMethod(method) {
			method = "other"
		}
		m.httpRequests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
		m.httpDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}
}

// knownMethod keeps made-up methods from becoming label values.
func knownMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}
