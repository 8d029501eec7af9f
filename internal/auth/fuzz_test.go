package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/auth"
)

// fuzzNow is a fixed clock, so the seed tokens never expire mid-run.
func fuzzNow() time.Time { return time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) }

// FuzzVerifyAccessToken: Verify never panics, and the only strings it
// accepts are the very tokens this key issued; any other string, however
// close to a real token, is refused.
func FuzzVerifyAccessToken(f *testing.F) {
	a, err := auth.NewAccessTokens(testKey, 2*time.Hour, fuzzNow)
	if err != nil {
		f.Fatal(err)
	}
	other, err := auth.NewAccessTokens([]byte("another-key-another-key-another-key!"), 2*time.Hour, fuzzNow)
	if err != nil {
		f.Fatal(err)
	}
	issued := map[string]uuid.UUID{}
	for range 3 {
		id := uuid.New()
		tok, err := a.Issue(id)
		if err != nil {
			f.Fatal(err)
		}
		issued[tok] = id
		f.Add(tok)
		h, p, _ := strings.Cut(tok, ".")
		f.Add(h + "." + p)          // no signature
		f.Add(tok + "x")            // trailing junk
		f.Add(strings.ToUpper(tok)) // mangled case
	}
	foreign, _ := other.Issue(uuid.New())
	for _, s := range []string{
		foreign, "", ".", "..", "a.b.c",
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
		"eyJhbGciOiJIUzI1NiJ9.e30.ZmFrZQ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := a.Verify(tok)
		if err != nil {
			if id != uuid.Nil {
				t.Fatalf("Verify(%q) refused but returned %s", tok, id)
			}
			return
		}
		// Fuzz workers are separate processes that issue their own seed
		// tokens (random jti), so "issued by this key" is checked on the
		// token itself: exactly the canonical HS256 signature of its first
		// two parts under testKey, and no other spelling of it.
		head, sig, _ := strings.Cut(tok[strings.IndexByte(tok, '.')+1:], ".")
		signed := tok[:strings.IndexByte(tok, '.')] + "." + head
		mac := hmac.New(sha256.New, testKey)
		mac.Write([]byte(signed))
		if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != sig {
			t.Fatalf("Verify accepted %q, which this key did not sign", tok)
		}
		if want, ok := issued[tok]; ok && id != want {
			t.Fatalf("Verify(%q) = %s, issued to %s", tok, id, want)
		}
	})
}

// TestVerifyRefusesReencodedSignature: the last base64 character of an
// HS256 signature carries two spare bits; a lenient decoder reads four
// different strings as the same signature, so a token the service never
// issued would pass. Strict decoding refuses all but the original.
func TestVerifyRefusesReencodedSignature(t *testing.T) {
	a := newAccessTokens(t, fuzzNow)
	tok, err := a.Issue(uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	for i := range 4 {
		c := alphabet[last&^3|i]
		variant := tok[:len(tok)-1] + string(c)
		if variant == tok {
			continue
		}
		t.Run("last character "+string(c), func(t *testing.T) {
			if _, err := a.Verify(variant); err == nil {
				t.Errorf("Verify accepted %q, a re-encoding of the issued signature", variant)
			}
		})
	}
}
