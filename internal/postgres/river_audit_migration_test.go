package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/admin"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
)

// TestRiverAuditMigration: 00010 lets the audit log name jobs and queues;
// going down keeps the entries about them and refuses new ones.
func TestRiverAuditMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, p := migratedTo(t, 10)
	store := postgres.NewAdmins(pool, nil)
	id := uuid.New()
	entry := func(targetType, target string) admin.Entry {
		return admin.Entry{AdminID: &id, AdminName: "ops", Action: "job.cancel", TargetType: targetType, TargetID: target}
	}
	if err := store.Record(ctx, []admin.Entry{entry(admin.TargetJob, "1"), entry(admin.TargetJob, "2"), entry(admin.TargetQueue, "default")}); err != nil {
		t.Fatalf("recording jobs and a queue: %v", err)
	}
	if err := store.Record(ctx, []admin.Entry{entry(admin.TargetJob, "3"), entry("river", "x")}); err == nil {
		t.Error("an unknown target type was recorded")
	}
	count := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("%d entries, want 3 (a refused batch writes none)", n)
	}
	entries, err := store.Audit(ctx, 0, 10)
	if err != nil || len(entries) != 3 || entries[2].TargetID != "1" || *entries[2].AdminID != id {
		t.Errorf("the audit log reads %+v (%v)", entries, err)
	}

	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatalf("down: %v", err)
	}
	if n := count(); n != 3 {
		t.Errorf("after down: %d entries, want the 3 kept", n)
	}
	if err := store.Record(ctx, []admin.Entry{entry(admin.TargetQueue, "default")}); err == nil {
		t.Error("after down, an entry about a queue was recorded")
	}
	if err := store.Record(ctx, []admin.Entry{entry(admin.TargetUser, uuid.NewString())}); err != nil {
		t.Errorf("after down, an entry about a user: %v", err)
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
