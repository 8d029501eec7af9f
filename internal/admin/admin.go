// Package admin owns the operators of wallpaperd and what they do: admins
// (not mini-program users) with their tokens and console sessions, the
// review queue and the decisions on held wallpapers, looking users up,
// bans, and the audit log every action writes.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Errors of the admin domain.
var (
	ErrUnauthenticated = failure.New(failure.Unauthorized, "unauthorized", "a valid admin token or console session is required")
	ErrNameTaken       = failure.New(failure.Conflict, "conflict", "an admin with this name exists")
	ErrNoSuchAdmin     = failure.New(failure.NotFound, "not_found", "no such admin")
	ErrNotDecidable    = failure.New(failure.Conflict, "conflict", "a wallpaper never checked (private) cannot be approved: it goes through the image check when it is made public")
	ErrNotBanned       = failure.New(failure.Conflict, "conflict", "this user is not banned")
)

// Admin is one operator.
type Admin struct {
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Actions written to the audit log.
const (
	ActionApprove     = "wallpaper.approve"
	ActionHide        = "wallpaper.hide"
	ActionReject      = "wallpaper.reject"
	ActionBan         = "user.ban"
	ActionUnban       = "user.unban"
	ActionAdminAdd    = "admin.add"
	ActionAdminRevoke = "admin.revoke"
	// River UI's changes to the job queue (console, /admin/river/).
	ActionJobCancel   = "job.cancel"
	ActionJobDelete   = "job.delete"
	ActionJobRetry    = "job.retry"
	ActionQueuePause  = "queue.pause"
	ActionQueueResume = "queue.resume"
	ActionQueueUpdate = "queue.update"
)

// Targets of audit entries.
const (
	TargetWallpaper = "wallpaper"
	TargetUser      = "user"
	TargetAdmin     = "admin"
	TargetJob       = "job"   // a River job, by its id
	TargetQueue     = "queue" // a River queue, by its name
)

// Entry is one line of the audit log. Entries are written in the
// transaction of the action they record and never changed.
type Entry struct {
	ID int64
	At time.Time
	// AdminID is nil for the command line (admin add and revoke).
	AdminID    *uuid.UUID
	AdminName  string
	Action     string
	TargetType string
	TargetID   string
	Note       string
}

// cli is the name the audit log gives the command line.
const cli = "(command line)"

func entryBy(a Admin, action, targetType, targetID, note string) Entry {
	id := a.ID
	return Entry{AdminID: &id, AdminName: a.Name, Action: action, TargetType: targetType, TargetID: targetID, Note: note}
}

// Token prefixes: an admin token and a console session are told apart
// from each other (and from a user's JWT) at a glance.
const (
	TokenPrefix   = "wpa_"
	SessionPrefix = "wps_"
)

// newSecret returns a fresh 256-bit secret with prefix and the SHA-256
// that is all the database keeps of it: guessing is hopeless, so a fast
// hash is the right one.
func newSecret(prefix string) (string, []byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("admin: generating a secret: %w", err)
	}
	plain := prefix + base64.RawURLEncoding.EncodeToString(raw)
	return plain, Hash(plain), nil
}

// Hash is the stored form of an admin token or session token.
func Hash(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

var names = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// CheckName refuses an admin name that is not 1-32 letters, digits, '_',
// '.' or '-'.
func CheckName(name string) error {
	if !names.MatchString(name) {
		return failure.InvalidRequest("an admin name is 1-32 letters, digits, '_', '.' or '-'")
	}
	return nil
}

// MaxNote bounds a decision's note or a ban's reason, in runes.
const MaxNote = 500

// normalizeNote trims a note and checks it; required notes must not be
// empty.
func normalizeNote(field, note string, required bool) (string, error) {
	note = strings.TrimSpace(note)
	switch {
	case !utf8.ValidString(note):
		return "", failure.InvalidRequest(field + " must be valid UTF-8")
	case required && note == "":
		return "", failure.InvalidRequest(field + " is required")
	case utf8.RuneCountInString(note) > MaxNote:
		return "", failure.InvalidRequest(fmt.Sprintf("%s must be at most %d characters", field, MaxNote))
	case strings.ContainsFunc(note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }):
		return "", failure.InvalidRequest(field + " must not contain control characters")
	}
	return note, nil
}

// AdminStore keeps admins and their console sessions.
type AdminStore interface {
	// AddAdmin creates a live admin (ErrNameTaken when a live one has the
	// name) and writes e.
	AddAdmin(ctx context.Context, name string, tokenHash []byte, e Entry) (Admin, error)
	// Admins lists every admin, revoked ones too, oldest first.
	Admins(ctx context.Context) ([]Admin, error)
	// RevokeAdmin revokes the live admin with the name and every session
	// of it, and writes e (ErrNoSuchAdmin when none is live).
	RevokeAdmin(ctx context.Context, name string, e Entry) error
	// AdminByToken is the live admin with this token hash, or
	// ErrUnauthenticated.
	AdminByToken(ctx context.Context, hash []byte) (Admin, error)
	// CreateSession stores a console session of a live admin.
	CreateSession(ctx context.Context, adminID uuid.UUID, hash []byte, expires time.Time) error
	// AdminBySession is the live admin of an unexpired session, or
	// ErrUnauthenticated.
	AdminBySession(ctx context.Context, hash []byte) (Admin, error)
	// DeleteSession ends a session.
	DeleteSession(ctx context.Context, hash []byte) error
}

// Admins manages admins and authenticates their requests.
type Admins struct {
	store      AdminStore
	sessionTTL time.Duration
	now        func() time.Time
}

// NewAdmins returns the admin service; console sessions last sessionTTL.
func NewAdmins(store AdminStore, sessionTTL time.Duration) *Admins {
	return &Admins{store: store, sessionTTL: sessionTTL, now: time.Now}
}

// Add creates admin name and returns its token, which is shown once and
// never stored.
func (s *Admins) Add(ctx context.Context, name string) (Admin, string, error) {
	if err := CheckName(name); err != nil {
		return Admin{}, "", err
	}
	plain, hash, err := newSecret(TokenPrefix)
	if err != nil {
		return Admin{}, "", err
	}
	a, err := s.store.AddAdmin(ctx, name, hash, Entry{AdminName: cli, Action: ActionAdminAdd, TargetType: TargetAdmin, TargetID: name})
	if err != nil {
		return Admin{}, "", fmt.Errorf("admin: adding %s: %w", name, err)
	}
	return a, plain, nil
}

// List returns every admin, revoked ones too.
func (s *Admins) List(ctx context.Context) ([]Admin, error) { return s.store.Admins(ctx) }

// Revoke revokes admin name: its token and console sessions stop working
// at once.
func (s *Admins) Revoke(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := s.store.RevokeAdmin(ctx, name, Entry{AdminName: cli, Action: ActionAdminRevoke, TargetType: TargetAdmin, TargetID: name}); err != nil {
		return fmt.Errorf("admin: revoking %s: %w", name, err)
	}
	return nil
}

// Authenticate returns the live admin an admin token belongs to.
func (s *Admins) Authenticate(ctx context.Context, token string) (Admin, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return Admin{}, ErrUnauthenticated
	}
	return s.store.AdminByToken(ctx, Hash(token))
}

// SignIn trades an admin token for a console session token valid for the
// session TTL.
func (s *Admins) SignIn(ctx context.Context, token string) (Admin, string, time.Time, error) {
	a, err := s.Authenticate(ctx, token)
	if err != nil {
		return Admin{}, "", time.Time{}, err
	}
	plain, hash, err := newSecret(SessionPrefix)
	if err != nil {
		return Admin{}, "", time.Time{}, err
	}
	expires := s.now().Add(s.sessionTTL)
	if err := s.store.CreateSession(ctx, a.ID, hash, expires); err != nil {
		return Admin{}, "", time.Time{}, fmt.Errorf("admin: starting a session: %w", err)
	}
	return a, plain, expires, nil
}

// Session returns the live admin of a console session.
func (s *Admins) Session(ctx context.Context, session string) (Admin, error) {
	if !strings.HasPrefix(session, SessionPrefix) {
		return Admin{}, ErrUnauthenticated
	}
	return s.store.AdminBySession(ctx, Hash(session))
}

// SignOut ends a console session.
func (s *Admins) SignOut(ctx context.Context, session string) error {
	return s.store.DeleteSession(ctx, Hash(session))
}
