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
// starts a family (a session); every refresh replaces the presented token
// with a new one of the same family.
type RefreshToken struct {
	ID       uuid.UUID
	UserID   uuid.UUID
	FamilyID uuid.UUID
	Hash     []byte
	// FamilyCreatedAt is when the session began (its login): a session
	// older than the maximum age cannot refresh.
	FamilyCreatedAt time.Time
	CreatedAt       time.Time
	ExpiresAt       time.Time
	RotatedAt       *time.Time // set once a successor was issued
	RevokedAt       *time.Time // set by logout or by reuse detection
	// ReplacedBy is the successor issued last for this token.
	ReplacedBy *uuid.UUID
	// SuccessorUsed says the successor was itself presented (rotated) or
	// is gone: whoever presents this token again is not a client retrying
	// a refresh whose answer it lost. Rotate reads it; it is not stored.
	SuccessorUsed bool
}

// Rotation is what TokenStore.Rotate applies, in its transaction, after the
// service has judged the presented token.
type Rotation struct {
	// Next, when set, is stored and becomes the presented token's
	// successor; the presented token is marked rotated (keeping the time
	// of its first rotation).
	Next *RefreshToken
	// RevokeSuccessor revokes the presented token's current successor,
	// which its client never received (set with Next, in the grace window).
	RevokeSuccessor bool
	// RevokeFamily revokes every token of the presented token's family.
	RevokeFamily bool
}

// newRefreshToken returns a fresh opaque token and its stored form, in the
// family begun at familyStart: it expires after ttl, or when the family
// reaches maxAge if that comes first (0: no maximum age).
func newRefreshToken(userID, familyID uuid.UUID, familyStart, now time.Time, ttl, maxAge time.Duration) (string, RefreshToken, error) {
	raw := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", RefreshToken{}, fmt.Errorf("auth: generating a refresh token: %w", err)
	}
	plain := base64.RawURLEncoding.EncodeToString(raw)
	expires := now.Add(ttl)
	if end := familyStart.Add(maxAge); maxAge > 0 && end.Before(expires) {
		expires = end
	}
	return plain, RefreshToken{
		ID:              uuid.New(),
		UserID:          userID,
		FamilyID:        familyID,
		Hash:            HashRefreshToken(plain),
		FamilyCreatedAt: familyStart,
		CreatedAt:       now,
		ExpiresAt:       expires,
	}, nil
}

// HashRefreshToken is the stored form of a refresh token: SHA-256 of the
// string the client holds.
func HashRefreshToken(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}
