package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DevJWTSecretFile is where dev mode keeps its generated JWT secret, under
// DATA_DIR, so that tokens survive restarts.
const DevJWTSecretFile = "jwt_secret"

// ResolveJWTSecret returns JWT_SECRET, or in dev without one a secret
// generated once and kept in DATA_DIR (readable by the owner only).
func (c *Config) ResolveJWTSecret() (Secret, error) {
	if c.JWTSecret != "" {
		return c.JWTSecret, nil
	}
	if c.Prod() {
		return "", &SettingError{"JWT_SECRET", "is required in prod"}
	}
	path := filepath.Join(c.DataDir, DevJWTSecretFile)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= minSecretLength {
		return Secret(strings.TrimSpace(string(b))), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("config: reading %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("config: generating a JWT secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("config: keeping the JWT secret in %s: %w", path, err)
	}
	return Secret(secret), nil
}
