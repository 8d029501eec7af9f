package httpapi_test

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/picture/picturetest"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

// TestConcurrentAvatarUploadsBoundedHeap: 50 users upload at once the
// dearest avatar accepted (2048² RGBA, ~50 MiB to decode and scale, from a
// file of a few hundred KB). With IMAGE_DECODE_CONCURRENCY=2 the heap
// stays under two avatars' worth (user.AvatarMemory each) plus room for
// the requests and the collector; every upload is stored or, having
// waited too long for a slot, a 503 to retry. Without the bound the 50
// decodes run together and the heap takes gigabytes. The test is not
// parallel: it measures the whole process's heap.
func TestConcurrentAvatarUploadsBoundedHeap(t *testing.T) {
	const users, slots = 50, 2
	ta := apptest.New(t, apptest.Options{NoWorkers: true, Vars: map[string]string{
		"IMAGE_DECODE_CONCURRENCY": strconv.Itoa(slots),
		"LOGIN_RATE_PER_MINUTE":    "10000",
	}})
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i] = ta.Token(t, fmt.Sprintf("uploader%d", i))
	}
	img := picturetest.CraftPNG(t, 2048, 2048, 8, 6, false)
	if len(img) > user.MaxAvatarBytes {
		t.Fatalf("test setup: the image is %d bytes", len(img))
	}

	// Keep garbage from hiding the live heap: collect at 20 % growth.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	base := heapObjects()
	peak := base
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peak = max(peak, heapObjects())
			}
		}
	}()

	statuses := make([]int, users)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range users {
		wg.Go(func() {
			<-start
			res := ta.API.Do(http.MethodPut, "/api/v1/me/avatar", nil, apitest.Bearer(tokens[i]),
				apitest.MultipartFile("file", "avatar.png", "image/png", img))
			statuses[i] = res.Status
			if res.Status == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After: %s", res.Body)
			}
		})
	}
	close(start)
	wg.Wait()
	close(stop)
	<-sampled

	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	grew := peak - base
	const ceiling = slots*user.AvatarMemory + 48<<20
	t.Logf("answers %v; heap grew by %d MiB at most (ceiling %d MiB)", count, grew>>20, ceiling>>20)
	if count[http.StatusOK]+count[http.StatusServiceUnavailable] != users || count[http.StatusOK] < slots {
		t.Errorf("answers %v, want 200s (at least %d) and 503s only", count, slots)
	}
	if grew > ceiling {
		t.Errorf("the heap grew by %d MiB during %d concurrent uploads, over the ceiling of %d MiB", grew>>20, users, ceiling>>20)
	}
}

// heapObjects is the bytes of heap objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
