package admin

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/user"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Decisions an admin takes on a wallpaper.
const (
	// DecisionApprove releases a held or pending wallpaper to the public.
	DecisionApprove = "approve"
	// DecisionHide keeps (or puts) it held: out of every public view.
	DecisionHide = "hide"
	// DecisionReject removes it and its objects.
	DecisionReject = "reject"
)

// ErrRejectedByAdmin is the generation failure of a wallpaper an admin
// removed before it was ever approved: the quota unit is returned.
var ErrRejectedByAdmin = wallpaper.Failure{Code: "content_rejected",
	Message: "the image was removed by a reviewer; your quota unit is returned"}

// Outcome is what a decision does to the locked wallpaper.
type Outcome struct {
	// Remove deletes the wallpaper and its objects; otherwise its review
	// state (edited in place) is saved as an admin decision.
	Remove bool
	// Refund, with Remove, fails the wallpaper's generation with it and
	// returns the quota unit, once.
	Refund *wallpaper.Failure
}

// Check is the image check's record about a wallpaper.
type Check struct {
	TraceID    string
	Suggest    string // "" while unanswered
	Label      string
	AskedAt    time.Time
	AnsweredAt *time.Time
}

// QueueItem is a wallpaper waiting for an admin, with what is known.
type QueueItem struct {
	Wallpaper wallpaper.Wallpaper
	// OpenReports are the reports since the last decision (all of them
	// are in Reports, oldest first).
	OpenReports int
	Reports     []wallpaper.Report
	// Check is the latest image check; nil when none was asked.
	Check *Check
}

// ReviewStore is the review queue and the decisions.
type ReviewStore interface {
	// Queue lists held and pending wallpapers, most reports since the
	// last decision first, then oldest first.
	Queue(ctx context.Context, limit int) ([]QueueItem, error)
	// Decide locks wallpaper id, lets decide choose the outcome, applies
	// it through the same state-change path as every review change (the
	// storage sync or the objects' removal queued in the transaction) and
	// writes e, all in one transaction; it returns the wallpaper after,
	// nil when removed.
	Decide(ctx context.Context, id uuid.UUID, e Entry, decide func(*wallpaper.Wallpaper) (Outcome, error)) (*wallpaper.Wallpaper, error)
}

// Ban is a user's ban.
type Ban struct {
	UserID    uuid.UUID
	Subject   []byte
	Reason    string
	AdminID   uuid.UUID
	AdminName string
	At        time.Time
}

// Account is a user as admins see them.
type Account struct {
	User user.User
	Ban  *Ban // nil: not banned
}

// AccountDetail is everything about one user an admin decides on.
type AccountDetail struct {
	Account
	Wallpapers  []wallpaper.Wallpaper  // newest first, private ones too
	Generations []wallpaper.Generation // newest first
	// ReportsFiled are the user's reports of others' wallpapers;
	// ReportsReceived the reports of the user's wallpapers (newest first).
	ReportsFiled    []wallpaper.Report
	ReportsReceived []wallpaper.Report
}

// AccountStore looks users up and bans them.
type AccountStore interface {
	// FindAccounts returns the account with this id, or those whose
	// nickname contains query (newest first).
	FindAccounts(ctx context.Context, id *uuid.UUID, query string, limit int) ([]Account, error)
	// AccountDetail is everything about one user (user.ErrNotFound when
	// there is none), up to limit of each list.
	AccountDetail(ctx context.Context, id uuid.UUID, limit int) (AccountDetail, error)
	// Ban bans b.UserID, in one transaction: the ban; author_banned set on
	// every wallpaper of theirs through the state-change path (their
	// public ones leave every public view, their objects withdrawn by the
	// storage sync); their refresh tokens revoked; their queued and
	// running generations failed with the code cancelled and the unit
	// returned once; e written. banned is false (and nothing written)
	// when the user was banned already.
	Ban(ctx context.Context, b Ban, e Entry) (banned bool, err error)
	// Unban lifts the ban of userID: the ban row goes and author_banned
	// is cleared on their wallpapers (each then as visible as its own
	// state says: what the ban hid, nothing else), and e is written.
	// ErrNotBanned when there is no ban.
	Unban(ctx context.Context, userID uuid.UUID, e Entry) error
}

// AuditLog reads the audit log, and writes the entries of changes made
// outside the stores' own transactions.
type AuditLog interface {
	// Audit returns entries older than before (0: the newest), newest
	// first.
	Audit(ctx context.Context, before int64, limit int) ([]Entry, error)
	// Record writes entries, all or none.
	Record(ctx context.Context, entries []Entry) error
}

// Revoker hears of bans made here so that this replica refuses the user's
// access tokens at once (auth.Revocations).
type Revoker interface {
	Banned(id uuid.UUID)
	Unbanned(id uuid.UUID)
}

// Governance is what admins do: review, users, bans, the audit log.
type Governance struct {
	review   ReviewStore
	accounts AccountStore
	audit    AuditLog
	users    user.Store
	subjects user.Subjects
	revoker  Revoker
}

// GovernanceConfig wires a Governance.
type GovernanceConfig struct {
	Review   ReviewStore
	Accounts AccountStore
	Audit    AuditLog
	Users    user.Store
	Subjects user.Subjects
	Revoker  Revoker // nil: bans reach this replica's token checks at the next reload
}

// NewGovernance returns the admins' domain service.
func NewGovernance(c GovernanceConfig) *Governance {
	return &Governance{review: c.Review, accounts: c.Accounts, audit: c.Audit, users: c.Users,
		subjects: c.Subjects, revoker: c.Revoker}
}

// MaxList bounds every list an admin reads.
const MaxList = 100

func checkLimit(limit int) error {
	if limit < 1 || limit > MaxList {
		return failure.InvalidRequest(fmt.Sprintf("limit must be between 1 and %d", MaxList))
	}
	return nil
}

// Queue lists the wallpapers waiting for an admin: held and pending ones,
// and any with reports no admin has decided on, most reported first.
func (g *Governance) Queue(ctx context.Context, limit int) ([]QueueItem, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	return g.review.Queue(ctx, limit)
}

// Decide applies an admin's decision on a wallpaper, with a note, and
// records it: approve releases a held or pending wallpaper (it is visible
// once public, its author not banned), or dismisses the reports of an
// approved one; hide holds it; reject removes it
// and its objects, returning the quota unit only when it was never
// approved (its author never had it public). Reports filed before a
// decision do not count towards holding it again.
func (g *Governance) Decide(ctx context.Context, a Admin, id uuid.UUID, decision, note string) (*wallpaper.Wallpaper, error) {
	note, err := normalizeNote("note", note, false)
	if err != nil {
		return nil, err
	}
	var decide func(*wallpaper.Wallpaper) (Outcome, error)
	action := ""
	switch decision {
	case DecisionApprove:
		action = ActionApprove
		decide = func(w *wallpaper.Wallpaper) (Outcome, error) {
			// An approved one is approved again to dismiss its reports; one
			// never checked (private) must go through the image check.
			if w.Review == wallpaper.ReviewUnchecked {
				return Outcome{}, ErrNotDecidable
			}
			w.Review = wallpaper.ReviewApproved
			return Outcome{}, nil
		}
	case DecisionHide:
		action = ActionHide
		decide = func(w *wallpaper.Wallpaper) (Outcome, error) {
			w.Review = wallpaper.ReviewHeld
			return Outcome{}, nil
		}
	case DecisionReject:
		action = ActionReject
		decide = func(w *wallpaper.Wallpaper) (Outcome, error) {
			out := Outcome{Remove: true}
			if w.ApprovedAt == nil {
				f := ErrRejectedByAdmin
				out.Refund = &f
			}
			return out, nil
		}
	default:
		return nil, failure.InvalidRequest("decision must be approve, hide or reject")
	}
	w, err := g.review.Decide(ctx, id, entryBy(a, action, TargetWallpaper, id.String(), note), decide)
	if err != nil {
		return nil, fmt.Errorf("admin: %s %s: %w", decision, id, err)
	}
	return w, nil
}

// FindUsers looks users up by id (an exact UUID) or by a part of their
// nickname.
func (g *Governance) FindUsers(ctx context.Context, query string, limit int) ([]Account, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	query = strings.TrimSpace(query)
	if query == "" {
		return nil, failure.InvalidRequest("q (a user id or a part of a nickname) is required")
	}
	if utf8.RuneCountInString(query) > 64 {
		return nil, failure.InvalidRequest("q must be at most 64 characters")
	}
	var id *uuid.UUID
	if u, err := uuid.Parse(query); err == nil {
		id = &u
	}
	return g.accounts.FindAccounts(ctx, id, query, limit)
}

// User is everything about one user: profile, ban, wallpapers,
// generations and reports (each list its newest limit).
func (g *Governance) User(ctx context.Context, id uuid.UUID, limit int) (AccountDetail, error) {
	if err := checkLimit(limit); err != nil {
		return AccountDetail{}, err
	}
	return g.accounts.AccountDetail(ctx, id, limit)
}

// Ban bans a user with a reason: their login is refused (403 banned),
// their access tokens stop working (at once on this replica, on others
// within auth.Revocations' interval), their refresh tokens are revoked,
// their wallpapers leave every public view and their queued generations
// end as cancelled with the unit returned. The ban outlives a deletion of
// the account. Banning a banned user changes nothing.
func (g *Governance) Ban(ctx context.Context, a Admin, userID uuid.UUID, reason string) (Account, error) {
	reason, err := normalizeNote("reason", reason, true)
	if err != nil {
		return Account{}, err
	}
	u, err := g.users.User(ctx, userID)
	if err != nil {
		return Account{}, fmt.Errorf("admin: banning %s: %w", userID, err)
	}
	b := Ban{UserID: userID, Subject: g.subjects.Of(u.OpenID), Reason: reason, AdminID: a.ID, AdminName: a.Name}
	if _, err := g.accounts.Ban(ctx, b, entryBy(a, ActionBan, TargetUser, userID.String(), reason)); err != nil {
		return Account{}, fmt.Errorf("admin: banning %s: %w", userID, err)
	}
	if g.revoker != nil {
		g.revoker.Banned(userID)
	}
	return g.account(ctx, userID)
}

// Unban lifts a user's ban, with a note: their login works again and
// their wallpapers are as visible as their own state says: exactly what
// the ban hid comes back.
func (g *Governance) Unban(ctx context.Context, a Admin, userID uuid.UUID, note string) (Account, error) {
	note, err := normalizeNote("note", note, false)
	if err != nil {
		return Account{}, err
	}
	if _, err := g.users.User(ctx, userID); err != nil {
		return Account{}, fmt.Errorf("admin: unbanning %s: %w", userID, err)
	}
	if err := g.accounts.Unban(ctx, userID, entryBy(a, ActionUnban, TargetUser, userID.String(), note)); err != nil {
		return Account{}, fmt.Errorf("admin: unbanning %s: %w", userID, err)
	}
	if g.revoker != nil {
		g.revoker.Unbanned(userID)
	}
	return g.account(ctx, userID)
}

func (g *Governance) account(ctx context.Context, id uuid.UUID) (Account, error) {
	accs, err := g.accounts.FindAccounts(ctx, &id, "", 1)
	if err != nil {
		return Account{}, err
	}
	if len(accs) == 0 {
		return Account{}, user.ErrNotFound
	}
	return accs[0], nil
}

// Audit pages through the audit log, newest first; before is the id of
// the last entry of the previous page (0: from the newest).
func (g *Governance) Audit(ctx context.Context, before int64, limit int) ([]Entry, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if before < 0 {
		return nil, failure.InvalidRequest("cursor is not one this API gave out")
	}
	return g.audit.Audit(ctx, before, limit)
}

// RecordJobs records a's change to River jobs or queues made through River
// UI, one entry per target (a job id or a queue name). River commits the
// change in its own transaction, so this comes after it: the note is cut
// to MaxNote runes rather than refused.
func (g *Governance) RecordJobs(ctx context.Context, a Admin, action, targetType string, targets []string, note string) error {
	if targetType != TargetJob && targetType != TargetQueue {
		return fmt.Errorf("admin: recording %s: target type %q is not a job or queue", action, targetType)
	}
	note = strings.ToValidUTF8(note, "\uFFFD")
	if utf8.RuneCountInString(note) > MaxNote {
		note = string([]rune(note)[:MaxNote-1]) + "…"
	}
	entries := make([]Entry, 0, len(targets))
	for _, t := range targets {
		entries = append(entries, entryBy(a, action, targetType, t, note))
	}
	if err := g.audit.Record(ctx, entries); err != nil {
		return fmt.Errorf("admin: recording %s: %w", action, err)
	}
	return nil
}
