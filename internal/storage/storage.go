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

// CacheControl is sent with every object: a key is never reused for other
// content (a new image gets a new key), so clients and CDNs may keep an
// object for a year without asking again.
const CacheControl = "public, max-age=31536000, immutable"

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
