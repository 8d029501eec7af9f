package postgres

import (
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// Hidden is told, after the commit, which wallpapers left public view:
// wallpapers by id, and authors whose every wallpaper did (a ban, an
// account deletion). The feed cache drops the pages that show them.
type Hidden func(wallpapers, authors []uuid.UUID)

// hidden collects, inside a transaction, what leaves public view; it is
// told after the commit (before it, a page read in between would bring
// the wallpaper back for a TTL).
type hidden struct {
	wallpapers, authors []uuid.UUID
}

// left records before, as it was, when it was visible and after (nil:
// deleted) is not.
func (h *hidden) left(before, after *wallpaper.Wallpaper) {
	if before.Visible && (after == nil || !after.Visible) {
		h.wallpapers = append(h.wallpapers, before.ID)
	}
}

// tell passes what h collected to fn, if there is anything and anyone to
// tell.
func (h *hidden) tell(fn Hidden) {
	if fn != nil && (len(h.wallpapers) > 0 || len(h.authors) > 0) {
		fn(h.wallpapers, h.authors)
	}
}

// OnHidden makes the store tell fn, after each commit, which wallpapers
// left public view through it. Set it before the store is used.
func (s *Gallery) OnHidden(fn Hidden) { s.hidden = fn }

// OnHidden makes the store tell fn, after an account deletion commits,
// that the account's wallpapers left public view. Set it before the store
// is used.
func (s *Accounts) OnHidden(fn Hidden) { s.hidden = fn }
