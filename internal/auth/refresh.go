package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// refreshTokenBytes is 256 bits of randomness: guessing is hopeless, so a
// fast hash (not a password hash) is the right way to store it.
const refreshTokenBytes = 32

// RefreshToken is one stored refresh token: only its hash is kept. A login
// starts a family; every refresh replaces the presented token with a new one
// of the same family.
type RefreshToken struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	FamilyID  uuid.UUID
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt *time.Time // set once a successor was issued
	RevokedAt *time.Time // set by logout or by reuse detection
}

// Rotation is what TokenStore.Rotate applies, in its transaction, after the
// service has judged the presented token.
type Rotation struct {
	// Next, when set, is stored and the presented token marked rotated.
	Next *RefreshToken
	// RevokeFamily revokes every token of the presented token's family.
	RevokeFamily bool
}

// newRefreshToken returns a fresh opaque token and its stored form.
func newRefreshToken(userID, familyID uuid.UUID, now time.Time, ttl time.Duration) (string, RefreshToken, error) {
	raw := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", RefreshToken{}, fmt.Errorf("auth: generating a refresh token: %w", err)
	}
	plain := base64.RawURLEncoding.EncodeToString(raw)
	return plain, RefreshToken{
		ID:        uuid.New(),
		UserID:    userID,
		FamilyID:  familyID,
		Hash:      HashRefreshToken(plain),
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	}, nil
}

// HashRefreshToken is the stored form of a refresh token: SHA-256 of the
// string the client holds.
func HashRefreshToken(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}
