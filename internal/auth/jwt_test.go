package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/failure"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newAccessTokens(t *testing.T, now func() time.Time) *auth.AccessTokens {
	t.Helper()
	a, err := auth.NewAccessTokens(testKey, 2*time.Hour, now)
	if err != nil {
		t.Fatalf("NewAccessTokens: %v", err)
	}
	return a
}

func validClaims(sub uuid.UUID, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": auth.Issuer, "aud": auth.Audience, "sub": sub.String(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": uuid.NewString(),
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	return s
}

func TestAccessTokenRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	a := newAccessTokens(t, func() time.Time { return now })
	id := uuid.New()
	tok, err := a.Issue(id)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	got, err := a.Verify(tok)
	if err != nil || got != id {
		t.Fatalf("Verify = %v, %v; want %v", got, err, id)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	for _, c := range []string{"iss", "aud", "sub", "iat", "exp", "jti"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %q missing from %v", c, claims)
		}
	}
	if exp, _ := claims.GetExpirationTime(); !exp.Equal(now.Add(2 * time.Hour)) {
		t.Errorf("exp = %v; want %v", exp, now.Add(2*time.Hour))
	}
}

func TestAccessTokenRejects(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	a := newAccessTokens(t, func() time.Time { return now })
	id := uuid.New()
	good, err := a.Issue(id)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	with := func(mutate func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims(id, now)
		mutate(c)
		return c
	}
	parts := strings.Split(good, ".")
	otherPayload := strings.Split(sign(t, jwt.SigningMethodHS256, testKey, validClaims(uuid.New(), now)), ".")[1]

	tests := []struct {
		name  string
		token string
		want  *failure.Error // ErrUnauthenticated when nil
	}{
		{name: "empty", token: ""},
		{name: "garbage", token: "not.a.jwt"},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(id, now))},
		{name: "alg none with the signature stripped", token: "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."},
		{name: "HS384", token: sign(t, jwt.SigningMethodHS384, testKey, validClaims(id, now))},
		{name: "HS512", token: sign(t, jwt.SigningMethodHS512, testKey, validClaims(id, now))},
		{name: "ES256", token: sign(t, jwt.SigningMethodES256, ecKey, validClaims(id, now))},
		{name: "wrong key", token: sign(t, jwt.SigningMethodHS256, []byte("another-key-another-key-another-k"), validClaims(id, now))},
		{name: "payload swapped for another user's", token: parts[0] + "." + otherPayload + "." + parts[2]},
		{name: "tampered signature", token: parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
		{name: "expired", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })), want: auth.ErrTokenExpired},
		{name: "no exp", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{name: "wrong issuer", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { c["iss"] = "someone-else" }))},
		{name: "no issuer", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{name: "wrong audience", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { c["aud"] = "another-api" }))},
		{name: "no audience", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{name: "subject not a uuid", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { c["sub"] = "admin" }))},
		{name: "no jti", token: sign(t, jwt.SigningMethodHS256, testKey, with(func(c jwt.MapClaims) { delete(c, "jti") }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := a.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token (user %v)", got)
			}
			want, notWant := auth.ErrUnauthenticated, auth.ErrTokenExpired
			if tt.want != nil {
				want, notWant = tt.want, auth.ErrUnauthenticated
			}
			assertAuthError(t, err, want, notWant)
		})
	}
}

func TestAccessTokenFromAReplicaWithAFastClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	ahead := newAccessTokens(t, func() time.Time { return now.Add(2 * time.Second) })
	tok, err := ahead.Issue(uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newAccessTokens(t, func() time.Time { return now }).Verify(tok); err != nil {
		t.Fatalf("a fresh token from a replica 2s ahead was refused: %v", err)
	}
}

func TestAccessTokenExpiredIsTokenExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	a := newAccessTokens(t, func() time.Time { return now })
	tok, err := a.Issue(uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	later := newAccessTokens(t, func() time.Time { return now.Add(2*time.Hour + time.Second) })
	_, err = later.Verify(tok)
	assertAuthError(t, err, auth.ErrTokenExpired, auth.ErrUnauthenticated)
}

// assertAuthError fails unless err is want, is not notWant (a sentinel of
// the same kind and code) and shows clients want's message, which is all
// that tells an expired token from a bad one on the wire.
func assertAuthError(t *testing.T, err error, want, notWant *failure.Error) {
	t.Helper()
	if !errors.Is(err, want) || errors.Is(err, notWant) {
		t.Fatalf("error = %v; want %q", err, want.Message)
	}
	if fe := failure.From(err); fe.Kind != failure.Unauthorized || fe.Code != "unauthorized" || fe.Message != want.Message {
		t.Fatalf("client sees %d %q %q; want Unauthorized, unauthorized, %q", fe.Kind, fe.Code, fe.Message, want.Message)
	}
}

func TestNewAccessTokensRefusesAShortKey(t *testing.T) {
	t.Parallel()
	if _, err := auth.NewAccessTokens([]byte("short"), time.Hour, nil); err == nil {
		t.Fatal("NewAccessTokens accepted a 5-byte key")
	}
}
