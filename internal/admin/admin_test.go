package admin

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"me", true},
		{"ops-team_1.cn", true},
		{strings.Repeat("a", 32), true},
		{"", false},
		{strings.Repeat("a", 33), false},
		{"two words", false},
		{"管理员", false},
		{"a/b", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckName(tt.name); (err == nil) != tt.ok {
				t.Errorf("CheckName(%q) = %v, want ok %v", tt.name, err, tt.ok)
			}
		})
	}
}

// TestNewSecret: a token is its prefix and 256 random bits, and what is
// stored is its SHA-256.
func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		plain, hash, err := newSecret(TokenPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plain, TokenPrefix) || len(plain) != len(TokenPrefix)+43 {
			t.Fatalf("token %q: want %s and 43 base64url characters", plain, TokenPrefix)
		}
		if sum := sha256.Sum256([]byte(plain)); string(hash) != string(sum[:]) || string(Hash(plain)) != string(sum[:]) {
			t.Fatal("the stored form is not the token's SHA-256")
		}
		if seen[plain] {
			t.Fatal("a token repeated")
		}
		seen[plain] = true
	}
}

func TestNormalizeNote(t *testing.T) {
	for _, tt := range []struct {
		name, note string
		required   bool
		want       string
		invalid    bool
	}{
		{"trimmed", "  举报不成立 \n", false, "举报不成立", false},
		{"empty when optional", "  ", false, "", false},
		{"empty when required", "  ", true, "", true},
		{"500 characters", strings.Repeat("长", 500), true, strings.Repeat("长", 500), false},
		{"501 characters", strings.Repeat("长", 501), true, "", true},
		{"line breaks kept", "第一行\n第二行", true, "第一行\n第二行", false},
		{"control characters", "bad\x00note", false, "", true},
		{"invalid UTF-8", "bad\xffnote", false, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalizeNote("note", tt.note, tt.required)
			if tt.invalid {
				if fe := failure.From(err); fe == nil || fe.Kind != failure.Invalid {
					t.Errorf("normalizeNote(%q) = %q, %v; want invalid_request", tt.note, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("normalizeNote(%q) = %q, %v; want %q", tt.note, got, err, tt.want)
			}
		})
	}
}
