package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// The issuer and audience every access token carries and must carry.
const (
	Issuer   = "wallpaperd"
	Audience = "wallpaperd-api"
)

// minKeyLength matches config's rule for JWT_SECRET: HS256 is only as strong
// as its key.
const minKeyLength = 32

// AccessTokens issues and verifies the short-lived HS256 JWTs that
// authenticate API calls. They are stateless: logout revokes refresh tokens,
// and an access token dies at its exp.
type AccessTokens struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// NewAccessTokens returns an issuer and verifier keyed with key.
func NewAccessTokens(key []byte, ttl time.Duration, now func() time.Time) (*AccessTokens, error) {
	if len(key) < minKeyLength {
		return nil, fmt.Errorf("auth: the JWT key must be at least %d bytes", minKeyLength)
	}
	if ttl <= 0 {
		return nil, errors.New("auth: the access token TTL must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &AccessTokens{
		key: append([]byte(nil), key...),
		ttl: ttl,
		now: now,
		// Pinning the method defeats alg:none and algorithm-confusion
		// tokens; requiring exp defeats tokens that never expire. iat is
		// not checked against the clock: only we can sign, and replicas
		// whose clocks differ by a second would refuse each other's fresh
		// tokens.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(Issuer),
			jwt.WithAudience(Audience),
			jwt.WithExpirationRequired(),
			// Strict base64: the spare bits of the signature's last
			// character must be zero, or four strings pass as one token.
			jwt.WithStrictDecoding(),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// TTL is how long an access token lives.
func (a *AccessTokens) TTL() time.Duration { return a.ttl }

// Issue returns a signed access token for the user.
func (a *AccessTokens) Issue(userID uuid.UUID) (string, error) {
	now := a.now()
	claims := jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   userID.String(),
		Audience:  jwt.ClaimStrings{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(a.ttl)),
		ID:        uuid.NewString(),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("auth: signing an access token: %w", err)
	}
	return signed, nil
}

// Verify checks an access token's signature, algorithm, issuer, audience
// and expiry and returns the user it was issued to. Any failure is
// ErrUnauthenticated (or ErrTokenExpired), with the reason kept for logs.
func (a *AccessTokens) Verify(token string) (uuid.UUID, error) {
	var claims jwt.RegisteredClaims
	_, err := a.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.key, nil })
	if errors.Is(err, jwt.ErrTokenExpired) {
		return uuid.Nil, ErrTokenExpired.With("", err)
	}
	if err != nil {
		return uuid.Nil, ErrUnauthenticated.With("", err)
	}
	id, err := uuid.Parse(claims.Subject)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, ErrUnauthenticated.With("", fmt.Errorf("subject %q is not a user id", claims.Subject))
	}
	if claims.ID == "" {
		return uuid.Nil, ErrUnauthenticated.With("", errors.New("token has no jti"))
	}
	return id, nil
}
