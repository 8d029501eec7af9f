// Package storage keeps wallpaperd's images as objects under string keys:
// in a local directory served at /media/ (the dev default) or in an S3
// bucket (production). Both implementations have the same method set, and
// one conformance suite tests both against real servers.
package storage

import (
	"fmt"
	"strings"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Errors of both implementations.
var (
	ErrNotFound   = failure.New(failure.NotFound, "not_found", "object not found")
	ErrInvalidKey = failure.New(failure.Invalid, "invalid_key", "invalid object key")
)

// Key prefixes with a meaning for who may read the object.
const (
	// PrivatePrefix holds objects only their owner may read, through
	// short-lived signed URLs (SignedURL).
	PrivatePrefix = "private/"
	// PublicPrefix holds wallpaper objects anyone may see. They can be
	// withdrawn (moved under PrivatePrefix) at any time.
	PublicPrefix = "public/"
)

// Cache lifetimes sent with objects.
const (
	// CacheImmutable is for keys never reused for other content and never
	// withdrawn (an avatar gets a new key on every upload): clients and CDNs
	// may keep them for a year without asking again.
	CacheImmutable = "public, max-age=31536000, immutable"
	// CachePublic is for objects that can be withdrawn: a CDN keeps a
	// withdrawn one at most this long (docs/deploy.md says how to purge).
	CachePublic = "public, max-age=300"
	// CachePrivate is for an owner's objects behind signed URLs: the
	// phone may keep them, no shared cache may.
	CachePrivate = "private, max-age=600"
)

// CacheControlFor is the Cache-Control an object is stored and served
// with, from its key: private objects private, wallpaper objects (which
// can be withdrawn) briefly, avatars for a year.
func CacheControlFor(key string) string {
	switch {
	case strings.HasPrefix(key, PrivatePrefix):
		return CachePrivate
	case strings.HasPrefix(key, "avatars/"):
		return CacheImmutable
	default:
		return CachePublic
	}
}

const maxKeyLength = 512

// ValidateKey accepts keys made of path segments of [a-z0-9._-], separated
// by single slashes, none of them empty, "." or "..", and none starting
// with a dot (the local store's temporary files do). Keys are built by
// wallpaperd itself, never taken from a client, so a bad key is a bug; the
// strictness keeps a key from escaping the local directory or meaning
// different things to a file system and to S3.
func ValidateKey(key string) error {
	if key == "" || len(key) > maxKeyLength {
		return ErrInvalidKey.With("", fmt.Errorf("storage: key of %d bytes", len(key)))
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '_' || r == '-') {
			return ErrInvalidKey.With("", fmt.Errorf("storage: key %q has the character %q", key, r))
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return ErrInvalidKey.With("", fmt.Errorf("storage: key %q has an empty or dot segment", key))
		}
	}
	return nil
}
