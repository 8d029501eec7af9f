package postgres_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// upgradeStatements are the SQL blocks of docs/compliance.md's "Upgrading
// an existing gallery": the count, then the update.
func upgradeStatements(t *testing.T) (count, update string) {
	t.Helper()
	doc, err := os.ReadFile(testenv.Path(t, "docs", "compliance.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Upgrading an existing gallery\n")
	if !ok {
		t.Fatal(`docs/compliance.md has no "## Upgrading an existing gallery" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) != 2 {
		t.Fatalf("the section has %d SQL blocks, want 2 (the count, the update)", len(blocks))
	}
	return blocks[0][1], blocks[1][1]
}

// TestUpgradeHoldsUnlabelledWallpapers: on a gallery from before the
// governance migration (00003), which marked its public wallpapers approved
// though they were never checked nor labelled, the statements
// docs/compliance.md gives the operator hold exactly those: out of every
// public view, in the admin review queue, their objects due for the storage
// sweep; private ones and wallpapers painted since are left alone.
func TestUpgradeHoldsUnlabelledWallpapers(t *testing.T) {
	t.Parallel()
	countSQL, updateSQL := upgradeStatements(t)
	ctx := context.Background()
	pool, p := migratedTo(t, 2)
	owner := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, openid) VALUES ($1, 'dev:old')`, owner); err != nil {
		t.Fatal(err)
	}
	oldPublic, oldPrivate, painted := uuid.New(), uuid.New(), uuid.New()
	for id, public := range map[uuid.UUID]bool{oldPublic: true, oldPrivate: false} {
		if _, err := pool.Exec(ctx, `INSERT INTO wallpapers (id, user_id, prompt, size, width, height, model, image_key, thumbnail_key, public)
			VALUES ($1, $2, 'p', '1024x1792', 1024, 1792, 'gpt-image-1', $3, $4, $5)`,
			id, owner, "wallpapers/"+id.String()+"/image.png", "wallpapers/"+id.String()+"/thumb.jpg", public); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	// Painted since: a master, checked and approved, published.
	if _, err := pool.Exec(ctx, `INSERT INTO wallpapers (id, user_id, prompt, size, width, height, model, image_key, thumbnail_key,
			master_key, review, published)
		VALUES ($1, $2, 'p', '1024x1792', 1024, 1792, 'gpt-image-1', 'public/x/image.jpg', 'public/x/thumb.jpg', 'private/x/master.png', 'approved', true)`,
		painted, owner); err != nil {
		t.Fatal(err)
	}
	state := func(id uuid.UUID) (review string, visible bool) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT review, visible FROM wallpapers WHERE id = $1`, id).Scan(&review, &visible); err != nil {
			t.Fatal(err)
		}
		return review, visible
	}
	count := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, countSQL).Scan(&n); err != nil {
			t.Fatalf("the documented count: %v", err)
		}
		return n
	}
	if review, visible := state(oldPublic); review != "approved" || !visible {
		t.Fatalf("after the migrations the old public wallpaper is %s, visible %v; the gap this section is about is gone?", review, visible)
	}
	if n := count(); n != 1 {
		t.Errorf("the documented count says %d, want 1 (the old public wallpaper)", n)
	}

	tag, err := pool.Exec(ctx, updateSQL)
	if err != nil {
		t.Fatalf("the documented update: %v", err)
	}
	if tag.RowsAffected() != 1 {
		t.Errorf("the update changed %d wallpapers, want 1", tag.RowsAffected())
	}
	if review, visible := state(oldPublic); review != "held" || visible {
		t.Errorf("the old public wallpaper is %s, visible %v; want held, hidden", review, visible)
	}
	if review, visible := state(oldPrivate); review != "approved" || visible {
		t.Errorf("the old private wallpaper is %s, visible %v; want it left alone", review, visible)
	}
	if review, visible := state(painted); review != "approved" || !visible {
		t.Errorf("the wallpaper painted since is %s, visible %v; want it left alone", review, visible)
	}
	if n := count(); n != 0 {
		t.Errorf("the count after the update: %d, want 0", n)
	}
	if tag, err := pool.Exec(ctx, updateSQL); err != nil || tag.RowsAffected() != 0 {
		t.Errorf("the update run again changed %d (%v), want nothing", tag.RowsAffected(), err)
	}

	queue, err := postgres.NewAdmins(pool, nil).Queue(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(queue) != 1 || queue[0].Wallpaper.ID != oldPublic {
		t.Errorf("the review queue holds %d wallpapers, want just the old public one", len(queue))
	}
	unsettled, err := postgres.NewGallery(pool, nil).Unsettled(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(unsettled, oldPublic) {
		t.Errorf("the storage sweep does not see the held wallpaper's public objects (unsettled: %v)", unsettled)
	}
}
