// Package user owns a wallpaperd account and its profile: the nickname
// (moderated) and the avatar (re-encoded and kept in object storage).
// Identity, login and sessions are package auth's.
package user

import (
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// User is one account, keyed by its WeChat openid.
type User struct {
	ID        uuid.UUID
	OpenID    string // never shown to other users
	UnionID   string // empty unless WeChat sent one
	Nickname  string
	AvatarKey string // storage key; empty: no avatar
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Errors of the profile domain.
var (
	ErrNotFound = failure.New(failure.NotFound, "not_found", "user not found")
)
