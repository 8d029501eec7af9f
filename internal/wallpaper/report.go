package wallpaper

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/failure"
)

// Report reasons: what a user may say is wrong with a wallpaper.
const (
	ReasonPorn      = "porn"
	ReasonPolitics  = "politics"
	ReasonViolence  = "violence"
	ReasonAbuse     = "abuse"
	ReasonCopyright = "copyright"
	ReasonOther     = "other"
)

// ReportReasons are the reasons in the order clients offer them.
var ReportReasons = []string{ReasonPorn, ReasonPolitics, ReasonViolence, ReasonAbuse, ReasonCopyright, ReasonOther}

// MaxReportDetail bounds what a reporter may add, in runes.
const MaxReportDetail = 200

// ErrOwnReport refuses a report of one's own wallpaper: its owner can
// hide or delete it.
var ErrOwnReport = failure.InvalidRequest("you cannot report your own wallpaper: hide or delete it instead")

// Report is one user's complaint about a wallpaper.
type Report struct {
	ID          uuid.UUID
	WallpaperID uuid.UUID
	// ReporterID is uuid.Nil once the reporter deleted the account.
	ReporterID uuid.UUID
	Reason     string
	Detail     string
	CreatedAt  time.Time
}

// ReportStore files reports.
type ReportStore interface {
	// FileReport locks wallpaper r.WallpaperID (ErrNotFound when it does
	// not exist) and runs check on it, told whether r.ReporterID reported
	// it before. Then it returns that earlier report (created false), or
	// records r and, when hold says so given the distinct reporters since
	// the last admin decision (r included), holds the wallpaper for an
	// admin, all in one transaction.
	FileReport(ctx context.Context, r Report, check func(w *Wallpaper, reportedBefore bool) error,
		hold func(w *Wallpaper, reporters int) bool) (_ Report, created bool, err error)
}

// Reports takes users' reports of wallpapers; enough of them hold a
// wallpaper out of every public view until an admin decides.
type Reports struct {
	store     ReportStore
	threshold int
}

// NewReports returns the report service: threshold distinct reporters
// since the last admin decision hold an approved wallpaper
// (REPORT_HOLD_THRESHOLD).
func NewReports(store ReportStore, threshold int) *Reports {
	return &Reports{store: store, threshold: max(threshold, 1)}
}

// File records the caller's report of wallpaper id. One report per user
// and wallpaper: a second returns the first (created false). The owner
// cannot report their own (ErrOwnReport); a wallpaper the caller cannot
// see does not exist for them (ErrNotFound). When threshold users have
// reported an approved wallpaper since the last admin decision, it is
// held: out of the feed, the detail for others and likes at once, its
// objects withdrawn from the public prefix by the storage sync.
func (s *Reports) File(ctx context.Context, caller, id uuid.UUID, reason, detail string) (_ Report, created bool, err error) {
	reason, detail, err = normalizeReport(reason, detail)
	if err != nil {
		return Report{}, false, err
	}
	r := Report{ID: uuid.New(), WallpaperID: id, ReporterID: caller, Reason: reason, Detail: detail}
	return s.store.FileReport(ctx, r,
		func(w *Wallpaper, reportedBefore bool) error {
			if w.Author.ID == caller {
				return ErrOwnReport
			}
			if reportedBefore {
				return nil
			}
			return canSee(caller, w)
		},
		func(w *Wallpaper, reporters int) bool {
			// Held or pending already: an admin will see it anyway.
			return w.Review == ReviewApproved && reporters >= s.threshold
		})
}

// normalizeReport checks a reason and trims the detail.
func normalizeReport(reason, detail string) (string, string, error) {
	if !slices.Contains(ReportReasons, reason) {
		return "", "", failure.InvalidRequest(fmt.Sprintf("reason must be one of %s", strings.Join(ReportReasons, ", ")))
	}
	detail = strings.TrimSpace(detail)
	if !utf8.ValidString(detail) {
		return "", "", failure.InvalidRequest("detail must be valid UTF-8")
	}
	if utf8.RuneCountInString(detail) > MaxReportDetail {
		return "", "", failure.InvalidRequest(fmt.Sprintf("detail must be at most %d characters", MaxReportDetail))
	}
	if strings.ContainsFunc(detail, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return "", "", failure.InvalidRequest("detail must not contain control characters")
	}
	return reason, detail, nil
}
