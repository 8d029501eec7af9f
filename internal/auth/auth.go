// Package auth owns who the caller is: WeChat login (code exchange and the
// user upsert), the access tokens that authenticate API calls, and the
// rotating refresh tokens that keep a session alive.
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

// Errors of the auth domain.
var (
	ErrInvalidCode       = failure.New(failure.Unauthorized, "invalid_code", "the login code is invalid or already used: call wx.login again")
	ErrUnauthenticated   = failure.New(failure.Unauthorized, "unauthorized", "a valid access token is required")
	ErrTokenExpired      = failure.New(failure.Unauthorized, "unauthorized", "the access token has expired: refresh it")
	ErrInvalidRefresh    = failure.New(failure.Unauthorized, "unauthorized", "the refresh token is invalid, expired or revoked: log in again")
	ErrBanned            = failure.New(failure.Forbidden, "banned", "this account is banned")
	errRefreshTokenReuse = ErrInvalidRefresh.With("", errors.New("a rotated refresh token was presented again: its family is revoked"))
	errSessionTooOld     = ErrInvalidRefresh.With("the session has reached its maximum age: log in again", nil)
)

// CodeExchanger turns a wx.login code into the user's WeChat identity
// (WeChat's code2Session, or the dev login). The session key stays inside
// the exchanger. Errors carry failure kinds: ErrInvalidCode for a bad or
// used code.
type CodeExchanger interface {
	Exchange(ctx context.Context, code string) (openID, unionID string, err error)
}

// UserStore keeps accounts.
type UserStore interface {
	// Upsert returns the user with this openid, creating it on first login
	// and recording a unionid when one is given. Concurrent calls for one
	// openid yield one user.
	Upsert(ctx context.Context, openID, unionID string) (user.User, error)
	// User returns the user with this id, or user.ErrNotFound.
	User(ctx context.Context, id uuid.UUID) (user.User, error)
}

// TokenStore keeps refresh tokens (hashes only).
type TokenStore interface {
	Create(ctx context.Context, t RefreshToken) error
	// Rotate locks the token with this hash, calls judge with it and applies
	// the Rotation judge returns, in one transaction, even when judge also
	// returns an error (a reuse revokes the family and fails). A hash that
	// matches nothing is ErrInvalidRefresh.
	Rotate(ctx context.Context, hash []byte, judge func(RefreshToken) (Rotation, error)) error
	// RevokeUser revokes every live refresh token of the user.
	RevokeUser(ctx context.Context, userID uuid.UUID, at time.Time) error
}

// Standing is what login needs to know of a WeChat user beyond the
// account, keyed by the subject (user.Subjects) because it outlives a
// deleted account.
type Standing interface {
	// Banned says whether the WeChat user with this subject is banned.
	Banned(ctx context.Context, subject []byte) (bool, error)
	// CarryOver gives account userID the quota a deleted account of the
	// same subject used on the same days.
	CarryOver(ctx context.Context, userID uuid.UUID, subject []byte) error
}

// Config shapes the Service.
type Config struct {
	RefreshTTL time.Duration
	// MaxAge is a session's absolute lifetime: a refresh token family
	// older than this cannot refresh, however often it was (0: none).
	MaxAge time.Duration
	// ReuseGrace is how long after a rotation the rotated token may be
	// presented again as a retry whose answer was lost: it gets a new pair
	// and the unreceived successor is revoked. After it, or once the
	// successor was used, a second presentation revokes the family (0: no
	// grace).
	ReuseGrace time.Duration
	// DevLogin accepts dev-NAME codes as openid dev:NAME. When it is off,
	// such codes are refused without asking WeChat.
	DevLogin bool
	Now      func() time.Time
	// Subjects and Standing refuse banned users at login and carry a
	// deleted account's quota over; nil Standing: neither.
	Subjects user.Subjects
	Standing Standing
	// Revocations refuses the tokens of banned and deleted accounts; nil:
	// tokens are good until they expire.
	Revocations *Revocations
}

// Service is the auth domain: login, refresh, logout, and authenticating
// access tokens.
type Service struct {
	cfg       Config
	users     UserStore
	tokens    TokenStore
	access    *AccessTokens
	exchanger CodeExchanger
}

// NewService returns the auth service. With cfg.DevLogin the exchanger may
// be nil: then only dev codes log in.
func NewService(cfg Config, users UserStore, tokens TokenStore, access *AccessTokens, exchanger CodeExchanger) (*Service, error) {
	if cfg.RefreshTTL <= access.TTL() {
		return nil, errors.New("auth: the refresh token TTL must be longer than the access token TTL")
	}
	if exchanger == nil && !cfg.DevLogin {
		return nil, errors.New("auth: no code exchanger and no dev login: nobody could log in")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, users: users, tokens: tokens, access: access, exchanger: exchanger}, nil
}

// Session is what a login or a refresh hands the client.
type Session struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
	User         user.User
}

// maxCodeLength bounds what is sent to WeChat; real codes are 32 characters.
const maxCodeLength = 128

// Login exchanges a wx.login code, upserts the user and starts a session
// (a new refresh token family).
func (s *Service) Login(ctx context.Context, code string) (Session, error) {
	openID, unionID, err := s.exchangeCode(ctx, code)
	if err != nil {
		return Session{}, err
	}
	var subject []byte
	if s.cfg.Standing != nil {
		// Before the upsert: a banned user who deleted the account gets
		// no new one.
		subject = s.cfg.Subjects.Of(openID)
		banned, err := s.cfg.Standing.Banned(ctx, subject)
		if err != nil {
			return Session{}, fmt.Errorf("auth: checking for a ban: %w", err)
		}
		if banned {
			return Session{}, ErrBanned
		}
	}
	u, err := s.users.Upsert(ctx, openID, unionID)
	if err != nil {
		return Session{}, fmt.Errorf("auth: saving the user: %w", err)
	}
	if s.cfg.Standing != nil {
		if err := s.cfg.Standing.CarryOver(ctx, u.ID, subject); err != nil {
			return Session{}, fmt.Errorf("auth: carrying the quota over: %w", err)
		}
	}
	now := s.cfg.Now()
	plain, rt, err := newRefreshToken(u.ID, uuid.New(), now, now, s.cfg.RefreshTTL, s.cfg.MaxAge)
	if err != nil {
		return Session{}, err
	}
	if err := s.tokens.Create(ctx, rt); err != nil {
		return Session{}, fmt.Errorf("auth: storing the refresh token: %w", err)
	}
	return s.session(u, plain)
}

// Identify exchanges a wx.login code for the WeChat user's openid, as
// Login does, without logging in or looking at a ban: for the one thing a
// banned user may still do without a token, deleting their account.
func (s *Service) Identify(ctx context.Context, code string) (openID string, err error) {
	openID, _, err = s.exchangeCode(ctx, code)
	return openID, err
}

// exchangeCode checks a wx.login code's shape and exchanges it.
func (s *Service) exchangeCode(ctx context.Context, code string) (openID, unionID string, err error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return "", "", failure.InvalidRequest("code is required: send the code from wx.login")
	}
	if len(code) > maxCodeLength {
		return "", "", ErrInvalidCode
	}
	return s.exchange(ctx, code)
}

func (s *Service) exchange(ctx context.Context, code string) (string, string, error) {
	if name, ok := strings.CutPrefix(code, DevCodePrefix); ok {
		// A dev code never reaches WeChat: in prod it is simply invalid.
		if !s.cfg.DevLogin {
			return "", "", ErrInvalidCode.With("", errors.New("dev login is off"))
		}
		openID, err := DevOpenID(name)
		return openID, "", err
	}
	if s.exchanger == nil {
		return "", "", ErrInvalidCode.With("dev login accepts only dev-NAME codes (WeChat is not configured)", nil)
	}
	return s.exchanger.Exchange(ctx, code)
}

// Refresh rotates a refresh token: the presented one stops working and a
// new pair is issued. Presenting a token that was already rotated means it
// leaked (or a client misbehaves): its whole family is revoked; except
// within the grace window after its rotation, while its successor is
// unused, when it is a client retrying a refresh whose answer was lost: it
// gets a new pair and the successor nobody received is revoked. A session
// older than MaxAge cannot refresh.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	if refreshToken == "" {
		return Session{}, failure.InvalidRequest("refresh_token is required")
	}
	now := s.cfg.Now()
	var plain string
	var userID uuid.UUID
	err := s.tokens.Rotate(ctx, HashRefreshToken(refreshToken), func(cur RefreshToken) (Rotation, error) {
		// A banned user learns so (their tokens are revoked too).
		if err := s.standing(cur.UserID); err != nil {
			return Rotation{}, err
		}
		var rot Rotation
		switch {
		case cur.RevokedAt != nil:
			return Rotation{}, ErrInvalidRefresh
		case s.cfg.MaxAge > 0 && !now.Before(cur.FamilyCreatedAt.Add(s.cfg.MaxAge)):
			return Rotation{}, errSessionTooOld
		case cur.RotatedAt != nil && s.retry(cur, now):
			rot.RevokeSuccessor = true
		case cur.RotatedAt != nil:
			return Rotation{RevokeFamily: true}, errRefreshTokenReuse
		case !now.Before(cur.ExpiresAt):
			return Rotation{}, ErrInvalidRefresh
		}
		p, next, err := newRefreshToken(cur.UserID, cur.FamilyID, cur.FamilyCreatedAt, now, s.cfg.RefreshTTL, s.cfg.MaxAge)
		if err != nil {
			return Rotation{}, err
		}
		plain, userID = p, cur.UserID
		rot.Next = &next
		return rot, nil
	})
	if err != nil {
		return Session{}, err
	}
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return Session{}, err
	}
	return s.session(u, plain)
}

// retry says whether presenting the rotated token cur again looks like a
// client retrying a refresh whose answer it lost: within the grace window
// of its rotation, with its successor never used, and not expired.
func (s *Service) retry(cur RefreshToken, now time.Time) bool {
	return s.cfg.ReuseGrace > 0 && !cur.SuccessorUsed && now.Sub(*cur.RotatedAt) <= s.cfg.ReuseGrace &&
		now.Before(cur.ExpiresAt)
}

// userByID loads the session's user; one deleted meanwhile has no session.
func (s *Service) userByID(ctx context.Context, id uuid.UUID) (user.User, error) {
	u, err := s.users.User(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return user.User{}, ErrInvalidRefresh.With("", err)
	}
	if err != nil {
		return user.User{}, fmt.Errorf("auth: loading the user: %w", err)
	}
	return u, nil
}

// Logout revokes every refresh token of the user; access tokens already
// issued live until their exp (at most the access token TTL).
func (s *Service) Logout(ctx context.Context, userID uuid.UUID) error {
	if err := s.tokens.RevokeUser(ctx, userID, s.cfg.Now()); err != nil {
		return fmt.Errorf("auth: revoking refresh tokens: %w", err)
	}
	return nil
}

// Authenticate verifies an access token and returns its user's id; the
// token of a banned account is ErrBanned, of a deleted one
// ErrUnauthenticated.
func (s *Service) Authenticate(accessToken string) (uuid.UUID, error) {
	id, err := s.access.Verify(accessToken)
	if err != nil {
		return uuid.Nil, err
	}
	if err := s.standing(id); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// AuthenticateDespiteBan is Authenticate letting a banned account
// through: only for deleting the account, which the law (PIPL Art. 47)
// grants every user, banned or not. A deleted account is still refused.
func (s *Service) AuthenticateDespiteBan(accessToken string) (uuid.UUID, error) {
	id, err := s.access.Verify(accessToken)
	if err != nil {
		return uuid.Nil, err
	}
	if err := s.standing(id); err != nil && !errors.Is(err, ErrBanned) {
		return uuid.Nil, err
	}
	return id, nil
}

// standing refuses a banned or deleted account.
func (s *Service) standing(id uuid.UUID) error {
	if s.cfg.Revocations == nil {
		return nil
	}
	return s.cfg.Revocations.Check(id)
}

func (s *Service) session(u user.User, refresh string) (Session, error) {
	access, err := s.access.Issue(u.ID)
	if err != nil {
		return Session{}, err
	}
	return Session{AccessToken: access, ExpiresIn: s.access.TTL(), RefreshToken: refresh, User: u}, nil
}
