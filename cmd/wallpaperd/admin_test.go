package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
)

var adminTokenLine = regexp.MustCompile(`(?m)^(wpa_[A-Za-z0-9_-]{43})$`)

// TestAdminCommand: wallpaperd admin add prints a token once and stores
// only its hash; list shows every admin; revoke ends one; adding and
// revoking are in the audit log.
func TestAdminCommand(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewURL(t)
	environ := []string{"APP_ENV=dev", "DATABASE_URL=" + dbURL, "DATA_DIR=" + t.TempDir(), "JWT_SECRET=" + apptest.JWTSecret, "LOG_LEVEL=warn"}
	ctx := context.Background()
	wallpaperd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"admin"}, args...), environ, &out)
		return out.String(), err
	}
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })

	out, err := wallpaperd("add", "me")
	m := adminTokenLine.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("admin add me: %v\n%s", err, out)
	}
	token := m[1]
	var hash []byte
	if err := db.QueryRow(ctx, `SELECT token_hash FROM admins WHERE name = 'me' AND revoked_at IS NULL`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(token)); !bytes.Equal(hash, want[:]) {
		t.Error("the stored hash is not SHA-256 of the printed token")
	}

	for _, tt := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"a live name again", []string{"add", "me"}, "exists"},
		{"a bad name", []string{"add", "two words"}, "1-32 letters"},
		{"no name", []string{"add"}, "usage"},
		{"nothing", nil, "usage"},
		{"list with a name", []string{"list", "me"}, "usage"},
		{"an unknown verb", []string{"remove", "me"}, "usage"},
		{"revoking nobody", []string{"revoke", "ghost"}, "no such admin"},
	} {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			if out, err := wallpaperd(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("admin %v: %v (%s), want an error about %q", tt.args, err, out, tt.want)
			}
		})
	}

	if out, err := wallpaperd("revoke", "me"); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %v %s", err, out)
	}
	out, err = wallpaperd("add", "me")
	if m2 := adminTokenLine.FindStringSubmatch(out); err != nil || m2 == nil || m2[1] == token {
		t.Fatalf("adding the name again after the revocation: %v %s", err, out)
	}
	out, err = wallpaperd("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "me ") || !strings.Contains(lines[1], "revoked") ||
		!strings.HasPrefix(lines[2], "me ") || !strings.HasSuffix(lines[2], "live") || strings.Contains(out, "wpa_") {
		t.Errorf("admin list:\n%s\nwant the revoked and the live admin, no token", out)
	}
	var actions []string
	rows, err := db.Query(ctx, `SELECT action || ' ' || target_id || ' by ' || admin_name FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	actions, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := "admin.add me by (command line), admin.revoke me by (command line), admin.add me by (command line)"
	if strings.Join(actions, ", ") != want {
		t.Errorf("audit log %v, want %s", actions, want)
	}
}
