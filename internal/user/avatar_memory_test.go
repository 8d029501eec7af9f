package user_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/failure"
	"github.com/wallpaperd/wallpaperd/internal/picture"
	"github.com/wallpaperd/wallpaperd/internal/picture/picturetest"
	"github.com/wallpaperd/wallpaperd/internal/postgres"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/storage"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

// TestAvatarMemory: an avatar that is cheap to send and dear to decode is
// refused from its header, allocating next to nothing; the dearest avatar
// accepted is processed within user.AvatarMemory. The heap is measured
// (TotalAlloc, which bounds the peak from above); the test is not
// parallel, so nothing else allocates meanwhile.
func TestAvatarMemory(t *testing.T) {
	ctx := context.Background()
	users := postgres.NewUsers(pgtest.NewPool(t))
	u, err := users.Upsert(ctx, "o-memory", "")
	if err != nil {
		t.Fatal(err)
	}
	local, err := storage.NewLocal(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(users, local, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	progressive, err := os.ReadFile(testenv.Path(t, "internal", "picture", "testdata", "progressive-2048-444.jpg"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		data    []byte
		wantErr error // nil: stored
	}{
		{"4096² 16-bit PNG (~130 KB, 128 MiB to decode)", picturetest.CraftPNG(t, 4096, 4096, 16, 6, false), picture.ErrTooManyPixels},
		{"2048² 16-bit PNG (32 MiB to decode)", picturetest.CraftPNG(t, 2048, 2048, 16, 6, false), picture.ErrTooCostly},
		{"2048² progressive 4:4:4 JPEG (60 MiB to decode)", progressive, picture.ErrTooCostly},
		{"2048² 8-bit RGBA PNG: the dearest kind accepted", picturetest.CraftPNG(t, 2048, 2048, 8, 6, false), nil},
		{"1448² 16-bit PNG: deep colour, small enough", picturetest.CraftPNG(t, 1448, 1448, 16, 6, false), nil},
		{"a tall sliver within the limits", picturetest.CraftPNG(t, 512, 8192, 8, 2, false), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.data) > user.MaxAvatarBytes {
				t.Fatalf("test setup: %d bytes is over the upload limit", len(tt.data))
			}
			var err error
			used := allocated(func() { _, err = svc.SetAvatar(ctx, u.ID, tt.data) })
			if tt.wantErr != nil {
				if used > 2<<20 {
					t.Errorf("it allocated %d MiB, want under 2 MiB: it must be refused from its header", used>>20)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SetAvatar = %v, want %v", err, tt.wantErr)
				}
				if fe := failure.From(err); fe == nil || fe.Code != "payload_too_large" {
					t.Errorf("error %v is not a payload_too_large for the client", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SetAvatar: %v", err)
			}
			t.Logf("allocated %d MiB", used>>20)
			if used > user.AvatarMemory {
				t.Errorf("processing it allocated %d MiB, over user.AvatarMemory (%d MiB)", used>>20, user.AvatarMemory>>20)
			}
		})
	}
}

// TestAvatarDecodesShareSlots: with every slot taken an upload waits, and
// one that cannot get a slot in time is a 503 to retry; it goes ahead as
// soon as a slot is free.
func TestAvatarDecodesShareSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	users := postgres.NewUsers(pgtest.NewPool(t))
	local, err := storage.NewLocal(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	svc := user.NewService(users, local, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const slots = 2
	gate := picture.NewSlots(slots)
	svc.DecodeIn(gate)

	// Occupy every slot until release is closed.
	var busy atomic.Int32
	release := make(chan struct{})
	var holders sync.WaitGroup
	for range slots {
		holders.Go(func() {
			_ = gate.Do(ctx, func() error {
				busy.Add(1)
				<-release
				return nil
			})
		})
	}
	apptest.WaitFor(t, 10*time.Second, "the slots to be taken", func() bool { return busy.Load() == slots })

	u, err := users.Upsert(ctx, "o-slots", "")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	// The service's own wait is longer; a caller's shorter deadline wins.
	_, err = svc.SetAvatar(short, u.ID, pngOf(t, 64, 64))
	if !errors.Is(err, failure.ErrUnavailable) {
		t.Fatalf("SetAvatar with every slot taken = %v, want the 503 unavailable", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := svc.SetAvatar(ctx, u.ID, pngOf(t, 64, 64))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("SetAvatar finished (%v) while every slot was taken", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	holders.Wait()
	if err := <-done; err != nil {
		t.Fatalf("SetAvatar once a slot was free: %v", err)
	}
}

func allocated(f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}
