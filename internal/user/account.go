package user

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Subjects pseudonymises WeChat openids: a subject is the HMAC-SHA256 of
// an openid under a key of the service's own (derived from JWT_SECRET),
// the one thing kept of a deleted account, so that neither an active ban
// nor the day's used quota is escaped by deleting the account and logging
// in again. Without the key nobody can tell whose subject it is.
type Subjects struct{ key []byte }

// NewSubjects returns the pseudonymiser keyed with key.
func NewSubjects(key []byte) (Subjects, error) {
	if len(key) < 32 {
		return Subjects{}, errors.New("user: the subject key must be at least 32 bytes")
	}
	return Subjects{key: append([]byte(nil), key...)}, nil
}

// Of is the subject of an openid.
func (s Subjects) Of(openID string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(openID))
	return m.Sum(nil)
}

// AccountStore removes accounts.
type AccountStore interface {
	// DeleteAccount removes, in one transaction, user id's profile,
	// wallpapers, likes and tokens, ends their queued and running
	// generations as cancelled (the quota unit returned once), keeps the
	// generation records with the user replaced by an opaque id, keeps
	// under subject the quota used lately (an active ban is keyed by the
	// subject already), and queues the removal of every stored object
	// (avatar, every key of every wallpaper), which the job queue finishes
	// whatever happens to this process. ErrNotFound when there is no such
	// account.
	DeleteAccount(ctx context.Context, id uuid.UUID, subject []byte) error
}

// Revoker hears of an account deleted here, so that this replica refuses
// its access tokens at once (the others within their refresh interval).
type Revoker interface {
	Deleted(id uuid.UUID)
}

// Accounts deletes accounts (注销).
type Accounts struct {
	users    Store
	store    AccountStore
	subjects Subjects
	revoker  Revoker
}

// NewAccounts returns the account deletion service; revoker may be nil.
func NewAccounts(users Store, store AccountStore, subjects Subjects, revoker Revoker) *Accounts {
	return &Accounts{users: users, store: store, subjects: subjects, revoker: revoker}
}

// Delete removes the account at once for every purpose of the API: the
// caller's access tokens stop working, the profile, wallpapers and likes
// are gone from every view, and the same WeChat user logging in again
// starts a new, empty account (still banned if banned, with today's used
// quota). Stored objects follow through the job queue.
func (a *Accounts) Delete(ctx context.Context, id uuid.UUID) error {
	u, err := a.users.User(ctx, id)
	if err != nil {
		return fmt.Errorf("user: deleting %s: %w", id, err)
	}
	if err := a.store.DeleteAccount(ctx, id, a.subjects.Of(u.OpenID)); err != nil {
		return fmt.Errorf("user: deleting %s: %w", id, err)
	}
	if a.revoker != nil {
		a.revoker.Deleted(id)
	}
	return nil
}
