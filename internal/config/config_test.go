package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Parse(map[string]string{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"APP_ENV", c.Env, "dev"},
		{"HTTP_ADDR", c.HTTPAddr, ":8080"},
		{"ACCESS_TOKEN_TTL", c.AccessTokenTTL, 2 * time.Hour},
		{"REFRESH_TOKEN_TTL", c.RefreshTokenTTL, 720 * time.Hour},
		{"WECHAT_API_BASE_URL", c.WeChat.APIBaseURL, "https://api.weixin.qq.com"},
		{"IMAGE_MODEL", c.OpenAI.ImageModel, "gpt-image-2.6-flare"},
		{"S3_FORCE_PATH_STYLE", c.S3.ForcePathStyle, false},
		{"DATA_DIR", c.DataDir, "./var"},
		{"DAILY_QUOTA", c.DailyQuota, 10},
		{"QUOTA_TZ", c.QuotaTZ, "Asia/Shanghai"},
		{"QuotaLocation", c.QuotaLocation.String(), "Asia/Shanghai"},
		{"METRICS_ADDR", c.MetricsAddr, ""},
		{"swagger on in dev", c.Swagger(), true},
		{"dev login", c.WeChatConfigured(), false},
		{"offline images", c.OfflineImages(), true},
		{"local storage", c.LocalStorage(), true},
		{"LOG_LEVEL", c.LogLevel, slog.LevelInfo},
		{"REPORTS_ENABLED", c.ReportsEnabled, true},
		{"REPORT_HOLD_THRESHOLD", c.ReportHoldThreshold, 3},
		{"REPORT_RESPONSE_HOURS", c.ReportResponseHours, 24},
		{"REPORT_RATE_PER_HOUR", c.ReportRatePerHour, 30},
		{"BAN_SYNC_INTERVAL", c.BanSyncInterval, 10 * time.Second},
		{"ADMIN_SESSION_TTL", c.AdminSessionTTL, 12 * time.Hour},
		{"FEED_CACHE_TTL", c.FeedCacheTTL, time.Second},
		{"RIVER_UI_ENABLED", c.RiverUIEnabled, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		setting string
	}{
		{"bad duration", map[string]string{"ACCESS_TOKEN_TTL": "two hours"}, "ACCESS_TOKEN_TTL"},
		{"bad int", map[string]string{"DAILY_QUOTA": "ten"}, "DAILY_QUOTA"},
		{"bad bool", map[string]string{"S3_FORCE_PATH_STYLE": "maybe"}, "S3_FORCE_PATH_STYLE"},
		{"zero quota", map[string]string{"DAILY_QUOTA": "0"}, "DAILY_QUOTA"},
		{"unknown env", map[string]string{"APP_ENV": "staging"}, "APP_ENV"},
		{"unknown zone", map[string]string{"QUOTA_TZ": "Mars/Olympus"}, "QUOTA_TZ"},
		{"unknown model", map[string]string{"IMAGE_MODEL": "dall-e-1"}, "IMAGE_MODEL"},
		{"short jwt secret in dev", map[string]string{"JWT_SECRET": "short"}, "JWT_SECRET"},
		{"refresh shorter than access", map[string]string{"REFRESH_TOKEN_TTL": "1h"}, "REFRESH_TOKEN_TTL"},
		{"cert without key", map[string]string{"TLS_CERT_FILE": "/x.pem"}, "TLS_CERT_FILE"},
		{"bad proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip"}, "TRUSTED_PROXIES"},
		{"half S3 credentials", map[string]string{"S3_ACCESS_KEY_ID": "AK"}, "S3_ACCESS_KEY_ID"},
		{"zero workers", map[string]string{"WORKERS": "0"}, "WORKERS"},
		{"replica id with a space", map[string]string{"REPLICA_ID": "api 1"}, "REPLICA_ID"},
		{"replica id starting with a dot", map[string]string{"REPLICA_ID": ".api"}, "REPLICA_ID"},
		{"heartbeat too short", map[string]string{"REPLICA_DEAD_AFTER": "1s"}, "REPLICA_DEAD_AFTER"},
		{"heartbeat too long", map[string]string{"REPLICA_DEAD_AFTER": "1h"}, "REPLICA_DEAD_AFTER"},
		{"unknown log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"unknown label corner", map[string]string{"AIGC_LABEL_CORNER": "middle"}, "AIGC_LABEL_CORNER"},
		{"moderation timeout too short", map[string]string{"MODERATION_TIMEOUT": "10ms"}, "MODERATION_TIMEOUT"},
		{"private URLs for a week", map[string]string{"PRIVATE_URL_TTL": "168h"}, "PRIVATE_URL_TTL"},
		{"push key of 42 characters", pushVars(map[string]string{"WECHAT_PUSH_AES_KEY": strings.Repeat("A", 42)}), "WECHAT_PUSH_AES_KEY"},
		{"push key of 44 characters", pushVars(map[string]string{"WECHAT_PUSH_AES_KEY": strings.Repeat("A", 44)}), "WECHAT_PUSH_AES_KEY"},
		{"push key not base64", pushVars(map[string]string{"WECHAT_PUSH_AES_KEY": "-" + strings.Repeat("A", 42)}), "WECHAT_PUSH_AES_KEY"},
		{"push key without token", pushVars(map[string]string{"WECHAT_PUSH_TOKEN": ""}), "WECHAT_PUSH_TOKEN"},
		{"push key without app id", pushVars(map[string]string{"WECHAT_APP_ID": "", "WECHAT_APP_SECRET": ""}), "WECHAT_APP_ID"},
		{"push token with a line break", map[string]string{"WECHAT_PUSH_TOKEN": "token\n"}, "WECHAT_PUSH_TOKEN"},
		{"a report holds nothing", map[string]string{"REPORT_HOLD_THRESHOLD": "0"}, "REPORT_HOLD_THRESHOLD"},
		{"no response time", map[string]string{"REPORT_RESPONSE_HOURS": "0"}, "REPORT_RESPONSE_HOURS"},
		{"a month to respond", map[string]string{"REPORT_RESPONSE_HOURS": "720"}, "REPORT_RESPONSE_HOURS"},
		{"no reports an hour", map[string]string{"REPORT_RATE_PER_HOUR": "0"}, "REPORT_RATE_PER_HOUR"},
		{"bans reach other replicas after a minute", map[string]string{"BAN_SYNC_INTERVAL": "1m"}, "BAN_SYNC_INTERVAL"},
		{"feed cached for an hour", map[string]string{"FEED_CACHE_TTL": "1h"}, "FEED_CACHE_TTL"},
		{"feed cached for half a second", map[string]string{"FEED_CACHE_TTL": "500ms"}, "FEED_CACHE_TTL"},
		{"feed cached for 1.5 seconds", map[string]string{"FEED_CACHE_TTL": "1500ms"}, "FEED_CACHE_TTL"},
		{"feed cached for negative time", map[string]string{"FEED_CACHE_TTL": "-1s"}, "FEED_CACHE_TTL"},
		{"console sessions for a month", map[string]string{"ADMIN_SESSION_TTL": "720h"}, "ADMIN_SESSION_TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.vars)
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if !strings.Contains(err.Error(), tt.setting) {
				t.Errorf("error %q does not name %s", err, tt.setting)
			}
		})
	}
}

// pushVars is a dev configuration with safe-mode message push, changed by
// change.
func pushVars(change map[string]string) map[string]string {
	vars := map[string]string{
		"APP_ENV":             "dev",
		"WECHAT_APP_ID":       "wx123",
		"WECHAT_APP_SECRET":   "appsecret",
		"WECHAT_PUSH_TOKEN":   "pushToken42",
		"WECHAT_PUSH_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
	}
	for k, v := range change {
		vars[k] = v
	}
	return vars
}

func TestFeedCacheTTL(t *testing.T) {
	for v, want := range map[string]time.Duration{"0": 0, "0s": 0, "1s": time.Second, "5s": 5 * time.Second, "1m": time.Minute} {
		c, err := Parse(map[string]string{"FEED_CACHE_TTL": v})
		if err != nil {
			t.Errorf("FEED_CACHE_TTL=%s refused: %v", v, err)
			continue
		}
		if c.FeedCacheTTL != want {
			t.Errorf("FEED_CACHE_TTL=%s is %v, want %v", v, c.FeedCacheTTL, want)
		}
	}
}

func TestPushSettings(t *testing.T) {
	c, err := Parse(pushVars(nil))
	if err != nil {
		t.Fatalf("safe-mode push refused: %v", err)
	}
	if c.WeChat.PushToken.Reveal() != "pushToken42" || c.WeChat.PushAESKey.Reveal() != "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" {
		t.Errorf("push settings = %q, %q", c.WeChat.PushToken.Reveal(), c.WeChat.PushAESKey.Reveal())
	}
	// Plaintext mode needs the token alone.
	if _, err := Parse(map[string]string{"WECHAT_PUSH_TOKEN": "pushToken42"}); err != nil {
		t.Errorf("plaintext push refused: %v", err)
	}
	if c, _ := Parse(nil); c.WeChat.PushToken != "" || c.WeChat.PushAESKey != "" {
		t.Errorf("push is configured by default: %+v", c.WeChat)
	}
}

// prodVars is a complete, safe production configuration.
func prodVars() map[string]string {
	return map[string]string{
		"APP_ENV":            "prod",
		"DATABASE_URL":       "postgres://wallpaperd:pw@db/wallpaperd",
		"JWT_SECRET":         strings.Repeat("k", 32),
		"WECHAT_APP_ID":      "wx123",
		"WECHAT_APP_SECRET":  "appsecret",
		"OPENAI_API_KEY":     "sk-test",
		"S3_BUCKET":          "wallpapers",
		"AIGC_PRODUCER_CODE": "wallpaperd-op-001",
		"WECHAT_PUSH_TOKEN":  "push-token-0123",
	}
}

func TestProdRefusals(t *testing.T) {
	if _, err := Parse(prodVars()); err != nil {
		t.Fatalf("a complete prod config was refused: %v", err)
	}
	tests := []struct {
		name    string
		change  map[string]string
		setting string
	}{
		{"no database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		{"no jwt secret", map[string]string{"JWT_SECRET": ""}, "JWT_SECRET"},
		{"short jwt secret", map[string]string{"JWT_SECRET": strings.Repeat("k", 31)}, "JWT_SECRET"},
		{"no wechat app id", map[string]string{"WECHAT_APP_ID": ""}, "WECHAT_APP_ID"},
		{"no wechat secret", map[string]string{"WECHAT_APP_SECRET": ""}, "WECHAT_APP_SECRET"},
		{"no openai key", map[string]string{"OPENAI_API_KEY": ""}, "OPENAI_API_KEY"},
		{"no bucket", map[string]string{"S3_BUCKET": ""}, "S3_BUCKET"},
		{"no producer code", map[string]string{"AIGC_PRODUCER_CODE": ""}, "AIGC_PRODUCER_CODE"},
		{"no push token", map[string]string{"WECHAT_PUSH_TOKEN": ""}, "WECHAT_PUSH_TOKEN"},
		{"producer code with a space", map[string]string{"AIGC_PRODUCER_CODE": "my company"}, "AIGC_PRODUCER_CODE"},
		{"producer code not ASCII", map[string]string{"AIGC_PRODUCER_CODE": "壁纸"}, "AIGC_PRODUCER_CODE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := prodVars()
			for k, v := range tt.change {
				vars[k] = v
			}
			_, err := Parse(vars)
			var se *SettingError
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, want a SettingError", err)
			}
			if !strings.Contains(err.Error(), tt.setting) {
				t.Errorf("error %q does not name %s", err, tt.setting)
			}
		})
	}
	t.Run("swagger off in prod unless enabled", func(t *testing.T) {
		c, _ := Parse(prodVars())
		if c.Swagger() {
			t.Error("Swagger() = true in prod by default")
		}
		vars := prodVars()
		vars["SWAGGER_ENABLED"] = "true"
		c, _ = Parse(vars)
		if !c.Swagger() {
			t.Error("SWAGGER_ENABLED=true ignored in prod")
		}
	})
}

func TestLogValueMasksSecrets(t *testing.T) {
	vars := prodVars()
	vars["S3_ACCESS_KEY_ID"] = "AKIAEXAMPLE"
	vars["S3_SECRET_ACCESS_KEY"] = "s3-secret-value"
	vars["METRICS_TOKEN"] = "metrics-token-value"
	vars["WECHAT_PUSH_TOKEN"] = "pushTokenValue"
	vars["WECHAT_PUSH_AES_KEY"] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	c, err := Parse(vars)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	for _, secret := range []string{"pw@", strings.Repeat("k", 32), "appsecret", "sk-test", "s3-secret-value", "metrics-token-value", "pushTokenValue", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line contains secret %q: %s", secret, out)
		}
	}
	for _, visible := range []string{"wx123", "wallpapers", "AKIAEXAMPLE", "host=db:5432 database=wallpaperd"} {
		if !strings.Contains(out, visible) {
			t.Errorf("log line lacks %q: %s", visible, out)
		}
	}
}

func TestDotEnvOnlyInDev(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(".env", []byte("DAILY_QUOTA=3\nHTTP_ADDR=:9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"HTTP_ADDR=:7777"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DailyQuota != 3 {
		t.Errorf("dev: DAILY_QUOTA from .env = %d, want 3", c.DailyQuota)
	}
	if c.HTTPAddr != ":7777" {
		t.Errorf("the environment must win over .env: HTTP_ADDR = %q", c.HTTPAddr)
	}
	env := []string{}
	for k, v := range prodVars() {
		env = append(env, k+"="+v)
	}
	c, err = Load(env)
	if err != nil {
		t.Fatal(err)
	}
	if c.DailyQuota != 10 {
		t.Errorf("prod read .env: DAILY_QUOTA = %d, want the default 10", c.DailyQuota)
	}
}

func TestResolveJWTSecret(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse(map[string]string{"DATA_DIR": dir})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.ResolveJWTSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Reveal()) < 32 {
		t.Fatalf("generated secret is %d bytes", len(first.Reveal()))
	}
	second, err := c.ResolveJWTSecret()
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("the dev secret changed between calls: tokens would not survive a restart")
	}
	info, err := os.Stat(filepath.Join(dir, DevJWTSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %o, want 600", perm)
	}
}

func TestLogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		c, err := Parse(map[string]string{"LOG_LEVEL": in})
		if err != nil {
			t.Fatalf("LOG_LEVEL=%s: %v", in, err)
		}
		if c.LogLevel != want {
			t.Errorf("LOG_LEVEL=%s: %v, want %v", in, c.LogLevel, want)
		}
	}
}

func TestTrustedPrefixes(t *testing.T) {
	// TRUSTED_PROXIES="127.0.0.1, ::1" splits into entries with spaces.
	c, err := Parse(map[string]string{"TRUSTED_PROXIES": "127.0.0.1, ::1,10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.TrustedPrefixes())
	if want := "[127.0.0.1/32 ::1/128 10.0.0.0/8]"; got != want {
		t.Errorf("TrustedPrefixes = %s, want %s", got, want)
	}
}

func TestSecretDerive(t *testing.T) {
	s := Secret("test-secret-test-secret-test-secret-0123")
	a, b := s.Derive("cursor"), s.Derive("other")
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("Derive: %x and %x; want 32 distinct bytes each", a, b)
	}
	if !bytes.Equal(a, s.Derive("cursor")) {
		t.Error("Derive is not stable")
	}
	if bytes.Equal(a, Secret("another-secret-another-secret-0123456").Derive("cursor")) {
		t.Error("two secrets derive the same key")
	}
}

// TestRedactDSN: whatever form the connection string takes, the log sees
// its user, hosts, ports and database and never its password.
func TestRedactDSN(t *testing.T) {
	const password = "s3cr3t-Pw"
	tests := []struct {
		name string
		dsn  string
		want string
	}{
		{"URL with a password", "postgres://app:" + password + "@db.internal:6432/wallpaperd?sslmode=disable",
			"user=app host=db.internal:6432 database=wallpaperd"},
		{"URL with a percent-encoded password", "postgresql://app:s3cr3t%2DPw@db/wallpaperd?sslmode=disable",
			"user=app host=db:5432 database=wallpaperd"},
		{"URL with ?password=", "postgres://app@db/wallpaperd?sslmode=disable&password=" + password,
			"user=app host=db:5432 database=wallpaperd"},
		{"URL with ?password= and application_name", "postgres://db/wallpaperd?user=app&password=" + password + "&application_name=x&sslmode=disable",
			"user=app host=db:5432 database=wallpaperd"},
		{"key/value", "host=db port=5433 user=app password=" + password + " dbname=wallpaperd sslmode=disable",
			"user=app host=db:5433 database=wallpaperd"},
		{"key/value, quoted password", "host=db user=app password='" + password + " and more' dbname=wallpaperd sslmode=disable",
			"user=app host=db:5432 database=wallpaperd"},
		{"key/value, password first", "password=" + password + " host=db user=app dbname=wallpaperd sslmode=disable",
			"user=app host=db:5432 database=wallpaperd"},
		{"several hosts, sslmode=prefer", "postgres://app:" + password + "@db1:5432,db2:5433/wallpaperd",
			"user=app host=db1:5432,db2:5433 database=wallpaperd"},
		{"unix socket", "host=/var/run/postgresql user=app password=" + password + " dbname=wallpaperd",
			"user=app host=/var/run/postgresql:5432 database=wallpaperd"},
		{"does not parse", "postgres://app:" + password + "@db:notaport/wallpaperd", "(a connection string pgx cannot parse)"},
		{"unset", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactDSN(tt.dsn)
			if strings.Contains(got, password) || strings.Contains(got, "s3cr3t") {
				t.Fatalf("RedactDSN(%q) = %q: the password is in it", tt.dsn, got)
			}
			if got != tt.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
		})
	}
	t.Run("in the start-up log", func(t *testing.T) {
		for _, dsn := range []string{"host=db user=app password=" + password + " dbname=wallpaperd", "postgres://db/wallpaperd?password=" + password} {
			c, err := Parse(map[string]string{"DATABASE_URL": dsn})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
			if strings.Contains(buf.String(), password) {
				t.Errorf("the config log line shows the password of %q: %s", dsn, buf.String())
			}
		}
	})
}

// TestCredentialsNeedAnExplicitEnv: real credentials with APP_ENV not
// given at all refuse to start, naming APP_ENV; dev stays the default
// without them, and an explicit dev or prod is taken as meant.
func TestCredentialsNeedAnExplicitEnv(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		refused bool
	}{
		{"nothing set: dev by default", map[string]string{}, false},
		{"only dev settings: dev by default", map[string]string{"DATABASE_URL": "postgres://localhost/wallpaperd", "DAILY_QUOTA": "3"}, false},
		{"WeChat credentials", map[string]string{"WECHAT_APP_ID": "wx123", "WECHAT_APP_SECRET": "appsecret"}, true},
		{"an S3 bucket", map[string]string{"S3_BUCKET": "wallpapers"}, true},
		{"S3 keys", map[string]string{"S3_BUCKET": "wallpapers", "S3_ACCESS_KEY_ID": "AK", "S3_SECRET_ACCESS_KEY": "SK"}, true},
		{"an image provider key", map[string]string{"OPENAI_API_KEY": "sk-test"}, true},
		{"APP_ENV empty counts as not given", map[string]string{"APP_ENV": "", "OPENAI_API_KEY": "sk-test"}, true},
		{"explicit dev with credentials", map[string]string{"APP_ENV": "dev", "OPENAI_API_KEY": "sk-test", "S3_BUCKET": "wallpapers"}, false},
		{"explicit prod", prodVars(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.vars)
			if !tt.refused {
				if err != nil {
					t.Fatalf("Parse refused it: %v", err)
				}
				if _, given := tt.vars["APP_ENV"]; !given && c.Env != EnvDev {
					t.Errorf("APP_ENV = %q, want the dev default", c.Env)
				}
				return
			}
			var se *SettingError
			if !errors.As(err, &se) || se.Setting != "APP_ENV" {
				t.Fatalf("Parse = %v, want a SettingError naming APP_ENV", err)
			}
			for k := range tt.vars {
				if k != "APP_ENV" && !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name the credential %s", err, k)
				}
			}
		})
	}
	t.Run("from .env too", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if err := os.WriteFile(".env", []byte("OPENAI_API_KEY=sk-test\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(nil); err == nil || !strings.Contains(err.Error(), "APP_ENV") {
			t.Errorf("Load with a key in .env and no APP_ENV = %v, want a refusal naming APP_ENV", err)
		}
		if err := os.WriteFile(".env", []byte("APP_ENV=dev\nOPENAI_API_KEY=sk-test\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(nil); err != nil {
			t.Errorf("Load with APP_ENV=dev in .env: %v", err)
		}
	})
}

// TestReplicaIDDefaultsToTheHost: without REPLICA_ID a replica is named
// after its host, made valid.
func TestReplicaIDDefaultsToTheHost(t *testing.T) {
	cfg, err := Parse(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if host, _ := os.Hostname(); cfg.ReplicaID != replicaIDOf(host) {
		t.Errorf("REPLICA_ID defaulted to %q on host %q", cfg.ReplicaID, host)
	}
	if cfg.ReplicaDeadAfter != 30*time.Second {
		t.Errorf("REPLICA_DEAD_AFTER defaulted to %s, want 30s", cfg.ReplicaDeadAfter)
	}
	for _, tt := range []struct{ host, want string }{
		{"api-1.example.com", "api-1.example.com"},
		{"my host", "my-host"},
		{"-leading", "leading"},
		{"主机", "wallpaperd"},
		{"", "wallpaperd"},
		{strings.Repeat("h", 150), strings.Repeat("h", 100)},
	} {
		got := replicaIDOf(tt.host)
		if got != tt.want || !replicaIDPattern.MatchString(got) {
			t.Errorf("replicaIDOf(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}
