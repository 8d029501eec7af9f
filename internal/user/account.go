package user

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
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
	// Banned says whether the WeChat user with this subject is banned.
	Banned(ctx context.Context, subject []byte) (bool, error)
}

// AccountUsers finds the accounts to delete.
type AccountUsers interface {
	// User returns the user with this id, or ErrNotFound.
	User(ctx context.Context, id uuid.UUID) (User, error)
	// ByOpenID returns the user with this openid, or ErrNotFound.
	ByOpenID(ctx context.Context, openID string) (User, error)
}

// ErrNotBanned refuses DeleteBanned for a user who is not banned: they
// log in and delete the account with their token (DELETE /me), so that
// each case has one way.
var ErrNotBanned = failure.New(failure.Forbidden, "not_banned",
	"this account is not banned: log in and delete it with DELETE /api/v1/me")

// Revoker hears of an account deleted here, so that this replica refuses
// its access tokens at once (the others within their refresh interval).
type Revoker interface {
	Deleted(id uuid.UUID)
}

// Accounts deletes accounts (注销).
type Accounts struct {
	users    AccountUsers
	store    AccountStore
	subjects Subjects
	revoker  Revoker
}

// NewAccounts returns the account deletion service; revoker may be nil.
func NewAccounts(users AccountUsers, store AccountStore, subjects Subjects, revoker Revoker) *Accounts {
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
	return a.delete(ctx, u)
}

// DeleteBanned deletes, as Delete does, the account of the banned WeChat
// user with this openid (known from a fresh wx.login code): a ban revokes
// the user's tokens and refuses their login, and deleting the account is
// still their right. ErrNotFound when the WeChat user has no account,
// ErrNotBanned when they are not banned.
func (a *Accounts) DeleteBanned(ctx context.Context, openID string) error {
	u, err := a.users.ByOpenID(ctx, openID)
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound.With("this WeChat user has no account", err)
	}
	if err != nil {
		return fmt.Errorf("user: finding the account to delete: %w", err)
	}
	banned, err := a.store.Banned(ctx, a.subjects.Of(u.OpenID))
	if err != nil {
		return fmt.Errorf("user: deleting %s: looking for a ban: %w", u.ID, err)
	}
	if !banned {
		return ErrNotBanned
	}
	return a.delete(ctx, u)
}

func (a *Accounts) delete(ctx context.Context, u User) error {
	if err := a.store.DeleteAccount(ctx, u.ID, a.subjects.Of(u.OpenID)); err != nil {
		return fmt.Errorf("user: deleting %s: %w", u.ID, err)
	}
	if a.revoker != nil {
		a.revoker.Deleted(u.ID)
	}
	return nil
}
