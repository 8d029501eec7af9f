// Package config owns wallpaperd's settings: every environment variable
// (README.md lists them), parsed once into a typed struct, with the
// embedded dev defaults and the refusals that protect a production
// deployment.
package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/joho/godotenv"

	"github.com/wallpaperd/wallpaperd/internal/aigc"
)

// Environments wallpaperd knows.
const (
	EnvDev  = "dev"
	EnvProd = "prod"
)

const minSecretLength = 32

// Secret is a string that never prints itself: logs and %v show it masked.
type Secret string

// String masks the secret, keeping only whether it is set.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "********"
}

// LogValue masks the secret in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret itself, for the one place that must use it.
func (s Secret) Reveal() string { return string(s) }

// Derive gives each use of one secret a key of its own (HMAC-SHA256 of the
// purpose under the secret), so that no key serves two purposes.
func (s Secret) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, []byte(s))
	m.Write([]byte("wallpaperd/" + purpose))
	return m.Sum(nil)
}

// Config is the resolved configuration of one wallpaperd process.
type Config struct {
	Env             string        `env:"APP_ENV" envDefault:"dev"`
	HTTPAddr        string        `env:"HTTP_ADDR" envDefault:":8080"`
	DatabaseURL     Secret        `env:"DATABASE_URL"`
	JWTSecret       Secret        `env:"JWT_SECRET"`
	AccessTokenTTL  time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"2h"`
	RefreshTokenTTL time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`
	// SessionMaxAge is a session's absolute lifetime: a login older than
	// this cannot refresh, however often it did.
	SessionMaxAge time.Duration `env:"SESSION_MAX_AGE" envDefault:"2160h"`
	// RefreshReuseGrace is how long a rotated refresh token may be
	// presented again as a retry whose answer was lost (0: never).
	RefreshReuseGrace time.Duration `env:"REFRESH_REUSE_GRACE" envDefault:"10s"`

	WeChat WeChat
	OpenAI OpenAI
	Images Images
	S3     S3

	// ImageFetchAllowPrivate lets the download of an image a provider
	// returned by URL use http and reach private, loopback and link-local
	// addresses: for tests and a relay on the operator's own network. Off
	// (the default), such a URL must be https to a public address.
	ImageFetchAllowPrivate bool `env:"IMAGE_FETCH_ALLOW_PRIVATE" envDefault:"false"`

	DataDir string `env:"DATA_DIR" envDefault:"./var"`
	// PGBinDir holds the Postgres binaries for the embedded database: either
	// the directory with pg_ctl or its parent (the one with bin/pg_ctl).
	PGBinDir string `env:"PG_BIN_DIR"`
	// LocalPGAddr is where dev mode looks for a running Postgres before it
	// starts an embedded one.
	LocalPGAddr string `env:"LOCAL_PG_ADDR" envDefault:"127.0.0.1:5432"`

	DailyQuota int    `env:"DAILY_QUOTA" envDefault:"10"`
	QuotaTZ    string `env:"QUOTA_TZ" envDefault:"Asia/Shanghai"`
	Workers    int    `env:"WORKERS" envDefault:"4"`
	// JobTimeout bounds one attempt of a generation job, image model included.
	JobTimeout time.Duration `env:"JOB_TIMEOUT" envDefault:"3m"`
	// JobMaxAttempts bounds the attempts of one generation before it fails
	// and its quota unit comes back.
	JobMaxAttempts int `env:"JOB_MAX_ATTEMPTS" envDefault:"5"`
	// JobRetryBase is the first retry delay of a failed attempt; it doubles
	// with every attempt (with jitter), up to 5 minutes.
	JobRetryBase time.Duration `env:"JOB_RETRY_BASE" envDefault:"5s"`
	// JobRescueAfter is how long a job may look running before River
	// presumes its process dead and runs it again; 0 is JOB_TIMEOUT + 1m.
	JobRescueAfter time.Duration `env:"JOB_RESCUE_AFTER"`
	// ReplicaID names this process among the replicas sharing the
	// database, stable across its restarts (River's client id); empty: the
	// host name. Two live processes cannot share one.
	ReplicaID string `env:"REPLICA_ID"`
	// ReplicaDeadAfter is how long a replica may go without a heartbeat
	// before the others take over its running jobs.
	ReplicaDeadAfter time.Duration `env:"REPLICA_DEAD_AFTER" envDefault:"30s"`

	MetricsAddr    string `env:"METRICS_ADDR"`
	MetricsToken   Secret `env:"METRICS_TOKEN"`
	SwaggerEnabled *bool  `env:"SWAGGER_ENABLED"`

	CORSAllowedOrigins []string      `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`
	MaxBodyBytes       int64         `env:"MAX_BODY_BYTES" envDefault:"4194304"`
	ShutdownTimeout    time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	LoginRatePerMinute int           `env:"LOGIN_RATE_PER_MINUTE" envDefault:"20"`
	// Per-user limits, calls a minute in bursts of as many, kept in each
	// replica's memory: with n replicas a user gets up to n times each.
	GenerationRatePerMinute int `env:"GENERATION_RATE_PER_MINUTE" envDefault:"10"`
	ProfileRatePerMinute    int `env:"PROFILE_RATE_PER_MINUTE" envDefault:"10"`
	AvatarRatePerMinute     int `env:"AVATAR_RATE_PER_MINUTE" envDefault:"5"`
	LikeRatePerMinute       int `env:"LIKE_RATE_PER_MINUTE" envDefault:"120"`
	// ImageDecodeConcurrency bounds the images decoded at once in the
	// process (avatars): each may take up to 72 MiB.
	ImageDecodeConcurrency int `env:"IMAGE_DECODE_CONCURRENCY" envDefault:"2"`

	TLSCertFile     string   `env:"TLS_CERT_FILE"`
	TLSKeyFile      string   `env:"TLS_KEY_FILE"`
	TLSRedirectAddr string   `env:"TLS_REDIRECT_ADDR"`
	TrustedProxies  []string `env:"TRUSTED_PROXIES" envSeparator:","`

	// AIGCProducerCode is the operator's code written into every image's
	// implicit AI-generated label (GB 45438-2025) as its producer and
	// propagator: printable ASCII without spaces. Required in prod.
	AIGCProducerCode string `env:"AIGC_PRODUCER_CODE"`
	// AIGCVisibleLabel draws "AI生成" on every image users see and save;
	// only deployments outside mainland China turn it off.
	AIGCVisibleLabel bool `env:"AIGC_VISIBLE_LABEL" envDefault:"true"`
	// AIGCLabelCorner is where the visible label goes: bottom-right,
	// bottom-left, top-right or top-left.
	AIGCLabelCorner string `env:"AIGC_LABEL_CORNER" envDefault:"bottom-right"`
	// ModerationTimeout is how long WeChat's image check may take to
	// answer before it is asked once more (and then the wallpaper held).
	ModerationTimeout time.Duration `env:"MODERATION_TIMEOUT" envDefault:"30m"`
	// PrivateURLTTL is how long a URL of a private object (an owner's
	// wallpaper nobody else may see, a master) stays valid.
	PrivateURLTTL time.Duration `env:"PRIVATE_URL_TTL" envDefault:"1h"`

	// ReportsEnabled serves POST /wallpapers/{id}/reports (and tells the
	// mini-program to offer it); mainland China requires it.
	ReportsEnabled bool `env:"REPORTS_ENABLED" envDefault:"true"`
	// ReportHoldThreshold is how many distinct users' reports since the
	// last admin decision hold a wallpaper for an admin.
	ReportHoldThreshold int `env:"REPORT_HOLD_THRESHOLD" envDefault:"3"`
	// ReportResponseHours is the response time to reports the operator
	// commits to, shown to users in the report sheet.
	ReportResponseHours int `env:"REPORT_RESPONSE_HOURS" envDefault:"24"`
	// ReportRatePerHour bounds one user's reports an hour.
	ReportRatePerHour int `env:"REPORT_RATE_PER_HOUR" envDefault:"30"`
	// BanSyncInterval is how often each replica reloads the banned and
	// deleted accounts: the bound on how late a ban or a deletion made on
	// another replica stops their access tokens there.
	BanSyncInterval time.Duration `env:"BAN_SYNC_INTERVAL" envDefault:"10s"`
	// FeedCacheTTL is how long a public feed page is served from this
	// replica's memory (and may be kept by proxies and clients: its
	// max-age) before it is read again; 0 turns the cache off. A
	// wallpaper leaving public view drops from this replica's pages at
	// once and from every other's within it.
	FeedCacheTTL time.Duration `env:"FEED_CACHE_TTL" envDefault:"1s"`
	// AdminSessionTTL is how long a console sign-in lasts.
	AdminSessionTTL time.Duration `env:"ADMIN_SESSION_TTL" envDefault:"12h"`
	// RiverUIEnabled serves the job queue's dashboard at /admin/river/
	// behind the console's sign-in.
	RiverUIEnabled bool `env:"RIVER_UI_ENABLED" envDefault:"true"`

	// LogLevel is the least severe level logged: debug, info, warn, error.
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`

	// QuotaLocation is QuotaTZ loaded; set by Load.
	QuotaLocation *time.Location `env:"-"`
}

// WeChat holds the mini-program credentials.
type WeChat struct {
	AppID      string `env:"WECHAT_APP_ID"`
	AppSecret  Secret `env:"WECHAT_APP_SECRET"`
	APIBaseURL string `env:"WECHAT_API_BASE_URL" envDefault:"https://api.weixin.qq.com"`
	// PushToken signs WeChat's message pushes (mp.weixin.qq.com → 开发管理
	// → 消息推送); empty: /api/v1/wechat/push is not served.
	PushToken Secret `env:"WECHAT_PUSH_TOKEN"`
	// PushAESKey is the pushes' EncodingAESKey (safe mode); empty:
	// plaintext mode.
	PushAESKey Secret `env:"WECHAT_PUSH_AES_KEY"`
	// SubscribeTemplateID is the one-time subscribe message template a
	// settled generation is announced with; empty: no message is sent.
	SubscribeTemplateID string `env:"WECHAT_SUBSCRIBE_TEMPLATE_ID"`
	// SubscribeKeys are the template's field keys for the prompt, the
	// outcome, the time and a note, in that order.
	SubscribeKeys []string `env:"WECHAT_SUBSCRIBE_KEYS" envSeparator:"," envDefault:"thing1,phrase2,time3,thing4"`
	// MiniProgramEnv is the mini-program version that codes and messages
	// open: release, trial or develop.
	MiniProgramEnv string `env:"WECHAT_MINIPROGRAM_ENV" envDefault:"release"`
}

// OpenAI holds the OpenAI image provider's settings (images.go the
// others').
type OpenAI struct {
	APIKey  Secret `env:"OPENAI_API_KEY"`
	BaseURL string `env:"OPENAI_BASE_URL"`
	// ImageModel is OpenAI's model, by family: dall-e-3 (shut down by
	// OpenAI, kept for relays) or a gpt-image model.
	ImageModel string `env:"IMAGE_MODEL" envDefault:"gpt-image-2.6-flare"`
	// Timeout bounds one call to the Images API.
	Timeout time.Duration `env:"OPENAI_TIMEOUT" envDefault:"150s"`
}

// S3 holds the object storage settings.
type S3 struct {
	Bucket          string `env:"S3_BUCKET"`
	Region          string `env:"S3_REGION" envDefault:"us-east-1"`
	Endpoint        string `env:"S3_ENDPOINT"`
	ForcePathStyle  bool   `env:"S3_FORCE_PATH_STYLE" envDefault:"false"`
	AccessKeyID     string `env:"S3_ACCESS_KEY_ID"`
	SecretAccessKey Secret `env:"S3_SECRET_ACCESS_KEY"`
	PublicBaseURL   string `env:"S3_PUBLIC_BASE_URL"`
}

// Prod reports whether this is a production deployment.
func (c *Config) Prod() bool { return c.Env == EnvProd }

// WeChatConfigured reports whether real WeChat credentials are set; without
// them dev mode accepts dev-NAME login codes.
func (c *Config) WeChatConfigured() bool { return c.WeChat.AppID != "" && c.WeChat.AppSecret != "" }

// LocalStorage reports whether images live in a directory under DataDir.
func (c *Config) LocalStorage() bool { return c.S3.Bucket == "" }

// ProducerCode is the operator's code for the AI-generated labels:
// AIGC_PRODUCER_CODE, or in dev without it a placeholder that says so.
func (c *Config) ProducerCode() string {
	if c.AIGCProducerCode == "" {
		return "wallpaperd-dev-unregistered"
	}
	return c.AIGCProducerCode
}

// Swagger reports whether Swagger UI is served: on in dev unless turned
// off, off in prod unless turned on.
func (c *Config) Swagger() bool {
	if c.SwaggerEnabled != nil {
		return *c.SwaggerEnabled
	}
	return !c.Prod()
}

// Load reads the configuration from environ (os.Environ() form). In dev, a
// .env file in the working directory fills in what environ leaves unset.
func Load(environ []string) (*Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	if vars["APP_ENV"] == "" || vars["APP_ENV"] == EnvDev {
		dotenv, err := godotenv.Read(".env")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config: reading .env: %w", err)
		}
		for k, v := range dotenv {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	return Parse(vars)
}

// Parse builds and validates a Config from exactly the given variables.
func Parse(vars map[string]string) (*Config, error) {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		return nil, settingErrors(err, vars)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := requireExplicitEnv(vars); err != nil {
		return nil, err
	}
	return &c, nil
}

// credentialSettings hold credentials of real services: WeChat, S3, and
// every image provider's key (any setting named *_API_KEY).
var credentialSettings = []string{"WECHAT_APP_ID", "WECHAT_APP_SECRET", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"}

// requireExplicitEnv refuses real credentials without an APP_ENV: dev is
// the default, and a production host that forgot APP_ENV=prod would serve
// Swagger and open /metrics, read .env and migrate at start.
func requireExplicitEnv(vars map[string]string) error {
	if strings.TrimSpace(vars["APP_ENV"]) != "" {
		return nil
	}
	var set []string
	eachSetting(reflect.TypeFor[Config](), func(_, key string) {
		if vars[key] != "" && (slices.Contains(credentialSettings, key) || strings.HasSuffix(key, "_API_KEY")) {
			set = append(set, key)
		}
	})
	if len(set) == 0 {
		return nil
	}
	slices.Sort(set)
	return &SettingError{"APP_ENV", fmt.Sprintf("must be set (%q or %q) when real credentials are configured (%s): "+
		"without it wallpaperd would run as dev, with Swagger, open /metrics, .env and migrations at start",
		EnvProd, EnvDev, strings.Join(set, ", "))}
}

// settingErrors rewrites the env library's errors, which name Go fields,
// into SettingErrors naming the environment variable. Fields of the same
// name in different structs (each provider's APIKey, Timeout, …) are told
// apart by which of their variables is set.
func settingErrors(err error, vars map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	keys := map[string][]string{}
	eachSetting(reflect.TypeFor[Config](), func(field, key string) {
		keys[field] = append(keys[field], key)
	})
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) && len(keys[pe.Name]) > 0 {
			var named []string
			for _, key := range keys[pe.Name] {
				if vars[key] != "" {
					named = append(named, key)
				}
			}
			if len(named) == 0 {
				named = keys[pe.Name]
			}
			reason := pe.Err.Error()
			if _, after, ok := strings.Cut(reason, ": "); ok && strings.HasPrefix(reason, "strconv.") {
				reason = after
			}
			out = append(out, &SettingError{strings.Join(named, " or "), "is not a valid " + pe.Type.String() + ": " + reason})
			continue
		}
		out = append(out, fmt.Errorf("config: %w", e))
	}
	return errors.Join(out...)
}

// eachSetting calls fn with every setting of t: its Go field's name and its
// environment variable, nested structs included.
func eachSetting(t reflect.Type, fn func(field, key string)) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			eachSetting(f.Type, fn)
			continue
		}
		if key, _, _ := strings.Cut(f.Tag.Get("env"), ","); key != "" && key != "-" {
			fn(f.Name, key)
		}
	}
}

var replicaIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// hostReplicaID is the host name made into a valid replica id: stable
// across restarts on one host (one replica per host, or per container
// with a host name of its own).
func hostReplicaID() string {
	host, _ := os.Hostname()
	return replicaIDOf(host)
}

// replicaIDOf makes a host name a valid replica id.
func replicaIDOf(host string) string {
	id := strings.Map(func(r rune) rune {
		if r < 128 && (r == '.' || r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '-'
	}, host)
	id = strings.TrimLeft(id, "._-")
	if len(id) > 100 {
		id = id[:100]
	}
	if id == "" {
		return "wallpaperd"
	}
	return id
}

// SettingError names the setting that stops wallpaperd from starting.
type SettingError struct {
	Setting string
	Reason  string
}

func (e *SettingError) Error() string { return fmt.Sprintf("config: %s %s", e.Setting, e.Reason) }

func (c *Config) validate() error {
	var errs []error
	bad := func(setting, reason string) { errs = append(errs, &SettingError{setting, reason}) }

	switch c.Env {
	case EnvDev, EnvProd:
	default:
		bad("APP_ENV", fmt.Sprintf("must be %q or %q, got %q", EnvDev, EnvProd, c.Env))
	}
	loc, err := time.LoadLocation(c.QuotaTZ)
	if err != nil {
		bad("QUOTA_TZ", fmt.Sprintf("is not a known time zone: %q", c.QuotaTZ))
	}
	c.QuotaLocation = loc
	if c.AccessTokenTTL <= 0 {
		bad("ACCESS_TOKEN_TTL", "must be positive")
	}
	if c.RefreshTokenTTL <= c.AccessTokenTTL {
		bad("REFRESH_TOKEN_TTL", "must be longer than ACCESS_TOKEN_TTL")
	}
	if c.SessionMaxAge <= c.AccessTokenTTL {
		bad("SESSION_MAX_AGE", "must be longer than ACCESS_TOKEN_TTL")
	}
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > time.Minute {
		bad("REFRESH_REUSE_GRACE", "must be between 0 (off) and 1m: a retry comes within seconds, and a longer window lets a stolen token in")
	}
	if c.DailyQuota < 1 {
		bad("DAILY_QUOTA", "must be at least 1")
	}
	if c.Workers < 1 {
		bad("WORKERS", "must be at least 1")
	}
	if c.JobTimeout < time.Second {
		bad("JOB_TIMEOUT", "must be at least 1s (image models take up to a minute: the default is 3m)")
	}
	if c.JobMaxAttempts < 1 || c.JobMaxAttempts > 25 {
		bad("JOB_MAX_ATTEMPTS", "must be between 1 and 25")
	}
	if c.JobRetryBase < 10*time.Millisecond {
		bad("JOB_RETRY_BASE", "must be at least 10ms")
	}
	if c.JobRescueAfter != 0 && c.JobRescueAfter <= c.JobTimeout {
		bad("JOB_RESCUE_AFTER", "must be longer than JOB_TIMEOUT")
	}
	if c.ReplicaID == "" {
		c.ReplicaID = hostReplicaID()
	}
	if !replicaIDPattern.MatchString(c.ReplicaID) {
		bad("REPLICA_ID", fmt.Sprintf("must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit, got %q", c.ReplicaID))
	}
	if c.ReplicaDeadAfter < 3*time.Second || c.ReplicaDeadAfter > 10*time.Minute {
		bad("REPLICA_DEAD_AFTER", "must be between 3s and 10m (a replica beats every third of it)")
	}
	if c.ImageDecodeConcurrency < 1 || c.ImageDecodeConcurrency > 64 {
		bad("IMAGE_DECODE_CONCURRENCY", "must be between 1 and 64")
	}
	if c.OpenAI.Timeout <= 0 {
		bad("OPENAI_TIMEOUT", "must be positive")
	}
	if c.MaxBodyBytes < 1<<20 {
		bad("MAX_BODY_BYTES", "must be at least 1 MiB: avatars are up to 2 MiB")
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive")
	}
	if c.LoginRatePerMinute < 1 {
		bad("LOGIN_RATE_PER_MINUTE", "must be at least 1")
	}
	c.validateImages(bad)
	for setting, perMinute := range map[string]int{"GENERATION_RATE_PER_MINUTE": c.GenerationRatePerMinute,
		"PROFILE_RATE_PER_MINUTE": c.ProfileRatePerMinute, "AVATAR_RATE_PER_MINUTE": c.AvatarRatePerMinute,
		"LIKE_RATE_PER_MINUTE": c.LikeRatePerMinute} {
		if perMinute < 1 {
			bad(setting, "must be at least 1")
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("TLS_CERT_FILE", "and TLS_KEY_FILE must be set together")
	}
	if c.TLSRedirectAddr != "" && c.TLSCertFile == "" {
		bad("TLS_REDIRECT_ADDR", "needs TLS_CERT_FILE and TLS_KEY_FILE")
	}
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			bad("TRUSTED_PROXIES", fmt.Sprintf("has %q, which is not an IP address or CIDR", p))
		}
	}
	if (c.S3.AccessKeyID == "") != (c.S3.SecretAccessKey == "") {
		bad("S3_ACCESS_KEY_ID", "and S3_SECRET_ACCESS_KEY must be set together")
	}
	if c.WeChat.AppID != "" && c.WeChat.AppSecret == "" {
		bad("WECHAT_APP_SECRET", "is required when WECHAT_APP_ID is set")
	}
	switch c.WeChat.MiniProgramEnv {
	case "release", "trial", "develop":
	default:
		bad("WECHAT_MINIPROGRAM_ENV", fmt.Sprintf("must be release, trial or develop, got %q", c.WeChat.MiniProgramEnv))
	}
	if len(c.WeChat.SubscribeKeys) != 4 {
		bad("WECHAT_SUBSCRIBE_KEYS", "must name four template keys: the prompt's, the outcome's, the time's and a note's (e.g. thing1,phrase2,time3,thing4)")
	}
	if c.AIGCProducerCode != "" {
		if err := aigc.ValidateCode(c.AIGCProducerCode); err != nil {
			bad("AIGC_PRODUCER_CODE", "must be printable ASCII without spaces (it goes into every image's AI-generated label)")
		}
	}
	if _, err := aigc.ParseCorner(c.AIGCLabelCorner); err != nil {
		bad("AIGC_LABEL_CORNER", fmt.Sprintf("must be bottom-right, bottom-left, top-right or top-left, got %q", c.AIGCLabelCorner))
	}
	if c.ModerationTimeout < time.Second {
		bad("MODERATION_TIMEOUT", "must be at least 1s (WeChat answers within 30 minutes: the default is 30m)")
	}
	if c.PrivateURLTTL < time.Minute || c.PrivateURLTTL > 24*time.Hour {
		bad("PRIVATE_URL_TTL", "must be between 1m and 24h")
	}
	c.validatePush(bad)
	if c.ReportHoldThreshold < 1 {
		bad("REPORT_HOLD_THRESHOLD", "must be at least 1")
	}
	if c.ReportResponseHours < 1 || c.ReportResponseHours > 24*15 {
		bad("REPORT_RESPONSE_HOURS", "must be between 1 and 360 (15 days)")
	}
	if c.ReportRatePerHour < 1 {
		bad("REPORT_RATE_PER_HOUR", "must be at least 1")
	}
	if c.BanSyncInterval < 100*time.Millisecond || c.BanSyncInterval > 30*time.Second {
		bad("BAN_SYNC_INTERVAL", "must be between 100ms and 30s: a banned user's tokens work on other replicas for up to this long")
	}
	if c.FeedCacheTTL != 0 && (c.FeedCacheTTL < time.Second || c.FeedCacheTTL > time.Minute || c.FeedCacheTTL%time.Second != 0) {
		bad("FEED_CACHE_TTL", "must be 0 (off) or whole seconds from 1s to 1m (it is also the pages' max-age): a hidden wallpaper stays in other replicas' feeds, and in proxies', for up to this long")
	}
	if c.AdminSessionTTL < time.Minute || c.AdminSessionTTL > 7*24*time.Hour {
		bad("ADMIN_SESSION_TTL", "must be between 1m and 168h")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < minSecretLength {
		bad("JWT_SECRET", fmt.Sprintf("must be at least %d bytes", minSecretLength))
	}

	if c.Prod() {
		if c.DatabaseURL == "" {
			bad("DATABASE_URL", "is required in prod")
		}
		if c.JWTSecret == "" {
			bad("JWT_SECRET", fmt.Sprintf("is required in prod (at least %d random bytes)", minSecretLength))
		}
		if c.WeChat.AppID == "" {
			bad("WECHAT_APP_ID", "is required in prod")
		}
		if c.WeChat.AppSecret == "" {
			bad("WECHAT_APP_SECRET", "is required in prod")
		}
		if c.S3.Bucket == "" {
			bad("S3_BUCKET", "is required in prod")
		}
		if c.WeChat.PushToken == "" {
			bad("WECHAT_PUSH_TOKEN", "is required in prod: WeChat's image check answers by message push (set it in mp.weixin.qq.com → 开发管理 → 消息推送)")
		}
		if c.AIGCProducerCode == "" {
			bad("AIGC_PRODUCER_CODE", "is required in prod: the operator's code for the AI-generated labels (GB 45438-2025)")
		}
	}
	return errors.Join(errs...)
}

// encodingAESKey is what mp.weixin.qq.com generates for message push: 43
// characters of base64, a 32-byte AES key once "=" is appended.
var encodingAESKey = regexp.MustCompile(`^[A-Za-z0-9+/]{43}$`)

func (c *Config) validatePush(bad func(setting, reason string)) {
	token, key := c.WeChat.PushToken.Reveal(), c.WeChat.PushAESKey.Reveal()
	if strings.ContainsFunc(token, unicode.IsSpace) {
		bad("WECHAT_PUSH_TOKEN", "must not contain spaces or line breaks")
	}
	if key == "" {
		return
	}
	if raw, err := base64.StdEncoding.DecodeString(key + "="); !encodingAESKey.MatchString(key) || err != nil || len(raw) != 32 {
		bad("WECHAT_PUSH_AES_KEY", "must be the 43-character EncodingAESKey set on mp.weixin.qq.com")
	}
	if token == "" {
		bad("WECHAT_PUSH_TOKEN", "is required when WECHAT_PUSH_AES_KEY is set")
	}
	if c.WeChat.AppID == "" {
		bad("WECHAT_APP_ID", "is required when WECHAT_PUSH_AES_KEY is set: every sealed push names the app")
	}
}

// TrustedPrefixes returns TRUSTED_PROXIES as prefixes; a bare address is a
// single-host prefix, and spaces around an entry do not matter. Parse has
// validated them.
func (c *Config) TrustedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, p := range c.TrustedProxies {
		if pr, err := parsePrefix(p); err == nil {
			out = append(out, pr)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// LogValue renders the resolved configuration for the start-up log; every
// secret is masked and the database URL loses its password.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(append([]slog.Attr{
		slog.String("env", c.Env),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("database", RedactDSN(c.DatabaseURL.Reveal())),
		slog.Any("jwt_secret", c.JWTSecret),
		slog.Duration("access_token_ttl", c.AccessTokenTTL),
		slog.Duration("refresh_token_ttl", c.RefreshTokenTTL),
		slog.Duration("session_max_age", c.SessionMaxAge),
		slog.Duration("refresh_reuse_grace", c.RefreshReuseGrace),
		slog.String("wechat_app_id", c.WeChat.AppID),
		slog.Any("wechat_app_secret", c.WeChat.AppSecret),
		slog.String("wechat_api_base_url", c.WeChat.APIBaseURL),
		slog.Any("wechat_push_token", c.WeChat.PushToken),
		slog.Any("wechat_push_aes_key", c.WeChat.PushAESKey),
		slog.Any("openai_api_key", c.OpenAI.APIKey),
		slog.String("openai_base_url", c.OpenAI.BaseURL),
		slog.String("image_model", c.OpenAI.ImageModel),
		slog.String("s3_bucket", c.S3.Bucket),
		slog.String("s3_region", c.S3.Region),
		slog.String("s3_endpoint", c.S3.Endpoint),
		slog.Bool("s3_force_path_style", c.S3.ForcePathStyle),
		slog.String("s3_access_key_id", c.S3.AccessKeyID),
		slog.Any("s3_secret_access_key", c.S3.SecretAccessKey),
		slog.String("s3_public_base_url", c.S3.PublicBaseURL),
		slog.String("data_dir", c.DataDir),
		slog.String("pg_bin_dir", c.PGBinDir),
		slog.Int("daily_quota", c.DailyQuota),
		slog.String("quota_tz", c.QuotaTZ),
		slog.Int("workers", c.Workers),
		slog.Duration("job_timeout", c.JobTimeout),
		slog.Int("job_max_attempts", c.JobMaxAttempts),
		slog.Duration("job_retry_base", c.JobRetryBase),
		slog.Duration("job_rescue_after", c.JobRescueAfter),
		slog.String("replica_id", c.ReplicaID),
		slog.Duration("replica_dead_after", c.ReplicaDeadAfter),
		slog.Duration("feed_cache_ttl", c.FeedCacheTTL),
		slog.Duration("openai_timeout", c.OpenAI.Timeout),
		slog.Bool("image_fetch_allow_private", c.ImageFetchAllowPrivate),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.Any("metrics_token", c.MetricsToken),
		slog.Bool("swagger", c.Swagger()),
		slog.Any("cors_allowed_origins", c.CORSAllowedOrigins),
		slog.Int("login_rate_per_minute", c.LoginRatePerMinute),
		slog.Int("generation_rate_per_minute", c.GenerationRatePerMinute),
		slog.Int("profile_rate_per_minute", c.ProfileRatePerMinute),
		slog.Int("avatar_rate_per_minute", c.AvatarRatePerMinute),
		slog.Int("like_rate_per_minute", c.LikeRatePerMinute),
		slog.Int("image_decode_concurrency", c.ImageDecodeConcurrency),
		slog.String("tls_cert_file", c.TLSCertFile),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("wechat_subscribe_template_id", c.WeChat.SubscribeTemplateID),
		slog.Any("wechat_subscribe_keys", c.WeChat.SubscribeKeys),
		slog.String("wechat_miniprogram_env", c.WeChat.MiniProgramEnv),
		slog.String("aigc_producer_code", c.AIGCProducerCode),
		slog.Bool("aigc_visible_label", c.AIGCVisibleLabel),
		slog.String("aigc_label_corner", c.AIGCLabelCorner),
		slog.Duration("moderation_timeout", c.ModerationTimeout),
		slog.Duration("private_url_ttl", c.PrivateURLTTL),
		slog.Bool("reports_enabled", c.ReportsEnabled),
		slog.Int("report_hold_threshold", c.ReportHoldThreshold),
		slog.Int("report_response_hours", c.ReportResponseHours),
		slog.Int("report_rate_per_hour", c.ReportRatePerHour),
		slog.Duration("ban_sync_interval", c.BanSyncInterval),
		slog.Duration("admin_session_ttl", c.AdminSessionTTL),
		slog.Bool("river_ui_enabled", c.RiverUIEnabled),
	}, c.imagesLogValue()...)...)
}

// RedactDSN describes a Postgres connection string by its user, hosts,
// ports and database only, read with pgx's own parser, so that a password
// in any form (URL userinfo, ?password=, key/value password=…) and every
// other parameter stay out of the log.
func RedactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		// pgx's errors quote the connection string: say nothing of it.
		return "(a connection string pgx cannot parse)"
	}
	hosts := []string{net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	for _, f := range cfg.Fallbacks {
		// sslmode=prefer repeats each host without TLS: name it once.
		if h := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return fmt.Sprintf("user=%s host=%s database=%s", cfg.User, strings.Join(hosts, ","), cfg.Database)
}
