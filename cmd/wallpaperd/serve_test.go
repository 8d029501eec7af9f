package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/metrics"
)

// TestHostileHeaders: a header block over the server's limit is refused by
// the HTTP server itself (431) before any handler runs.
func TestHostileHeaders(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran for an oversized header block")
	}))
	srv.Config = newHTTPServer("", srv.Config.Handler)
	srv.Start()
	defer srv.Close()
	tests := []struct {
		name, header string
		size         int
	}{
		{"oversized Authorization", "Authorization", 64 << 10},
		{"oversized Idempotency-Key", "Idempotency-Key", 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/me", nil)
			req.Header.Set(tt.header, strings.Repeat("x", tt.size))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("status %d, want 431", resp.StatusCode)
			}
		})
	}
}

// TestMetricsExposure: /metrics is on the main listener in dev, nowhere
// public in prod unless a token guards it, and alone on METRICS_ADDR when
// that is set; a token is required wherever it is served.
func TestMetricsExposure(t *testing.T) {
	t.Parallel()
	prod := map[string]string{
		"APP_ENV": "prod", "DATABASE_URL": "postgres://db/wallpaperd", "JWT_SECRET": "metrics-test-secret-0123456789abcdef",
		"WECHAT_APP_ID": "wx0123", "WECHAT_APP_SECRET": "secret", "OPENAI_API_KEY": "sk-x", "S3_BUCKET": "b", "AIGC_PRODUCER_CODE": "op-1", "WECHAT_PUSH_TOKEN": "push-token",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name          string
		vars          map[string]string
		onMain        bool
		separate      bool
		token         string
		wantNoToken   int
		wantWithToken int
	}{
		{name: "dev", vars: map[string]string{}, onMain: true, wantNoToken: 200},
		{name: "dev with a token", vars: map[string]string{"METRICS_TOKEN": "m-token"}, onMain: true, token: "m-token", wantNoToken: 401, wantWithToken: 200},
		{name: "prod without settings", vars: prod},
		{name: "prod with a token", vars: with(prod, "METRICS_TOKEN", "m-token"), onMain: true, token: "m-token", wantNoToken: 401, wantWithToken: 200},
		{name: "prod with an address", vars: with(prod, "METRICS_ADDR", "127.0.0.1:0"), separate: true, wantNoToken: 200},
		{name: "prod with an address and a token", vars: with(prod, "METRICS_ADDR", "127.0.0.1:0", "METRICS_TOKEN", "m-token"), separate: true, token: "m-token", wantNoToken: 401, wantWithToken: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			m := metrics.New()
			var mainH http.Handler // what app.New mounts on the main listener
			if metrics.Expose(cfg.Prod(), cfg.MetricsAddr, cfg.MetricsToken.Reveal()).OnMain {
				mainH = m.Protected(cfg.MetricsToken.Reveal())
			}
			srv, ln, err := listenMetrics(cfg, m)
			if err != nil {
				t.Fatal(err)
			}
			if (mainH != nil) != tt.onMain || (srv != nil) != tt.separate {
				t.Fatalf("on the main listener %v, separate %v; want %v, %v", mainH != nil, srv != nil, tt.onMain, tt.separate)
			}
			var h http.Handler
			switch {
			case mainH != nil:
				h = mainH
			case srv != nil:
				ln.Close()
				h = srv.Handler
			default:
				return
			}
			get := func(token string) int {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Code
			}
			if got := get(""); got != tt.wantNoToken {
				t.Errorf("without a token: %d, want %d", got, tt.wantNoToken)
			}
			if tt.token != "" {
				if got := get("wrong"); got != http.StatusUnauthorized {
					t.Errorf("with a wrong token: %d, want 401", got)
				}
				if got := get(tt.token); got != tt.wantWithToken {
					t.Errorf("with the token: %d, want %d", got, tt.wantWithToken)
				}
			}
		})
	}
}
