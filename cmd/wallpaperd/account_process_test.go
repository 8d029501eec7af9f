package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/storage/storagetest"
)

// TestAccountDeletionSurvivesKill: wallpaperd is SIGKILLed while it
// removes a deleted account's objects (the rows gone, the object
// deletions queued, the first of them waiting on S3); the next process
// finishes: nothing of the account is left in storage.
func TestAccountDeletionSurvivesKill(t *testing.T) {
	t.Parallel()
	gw := storagetest.Start(t)
	target, err := url.Parse(gw.Config.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// S3 through a proxy that can hold every DELETE while the process is
	// killed; the Host header is left as the client signed it.
	var holdDeletes, heldDeletes atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && holdDeletes.Load() == 1 {
			heldDeletes.Add(1)
			<-r.Context().Done()
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	env := map[string]string{
		"DATABASE_URL": pgtest.NewURL(t), "S3_BUCKET": gw.Config.Bucket, "S3_REGION": gw.Config.Region,
		"S3_ENDPOINT": front.URL, "S3_FORCE_PATH_STYLE": "true",
		"S3_ACCESS_KEY_ID": gw.Config.AccessKeyID, "S3_SECRET_ACCESS_KEY": gw.Config.SecretAccessKey,
		// A job of a killed process is taken over after JOB_RESCUE_AFTER.
		"JOB_TIMEOUT": "20s", "JOB_RESCUE_AFTER": "25s", "WORKERS": "2",
	}
	first := apptest.Start(t, env)
	token := first.Login(t, "leaver")
	var ids []string
	for _, prompt := range []string{"a last walk", "a last look"} {
		var g struct {
			ID string `json:"id"`
		}
		if st := first.Call(t, http.MethodPost, "/api/v1/generations", token, `{"prompt":"`+prompt+`","size":"1024x1024"}`, &g); st != http.StatusAccepted {
			t.Fatalf("submit: %d", st)
		}
		ids = append(ids, g.ID)
	}
	objects := func() []string {
		out, err := gw.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &gw.Config.Bucket})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			for _, id := range ids {
				if strings.Contains(*o.Key, "/"+id+"/") {
					keys = append(keys, *o.Key)
				}
			}
		}
		return keys
	}
	apptest.WaitFor(t, 120*time.Second, "both wallpapers to be stored and published", func() bool {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		first.Call(t, http.MethodGet, "/api/v1/wallpapers", "", "", &page)
		return len(page.Items) == 2 && len(objects()) == 6
	}, func() string { return fmt.Sprint(objects()) })

	// Delete the account, and kill the process while it deletes objects.
	holdDeletes.Store(1)
	if st := first.Call(t, http.MethodDelete, "/api/v1/me", token, "", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE /me: %d", st)
	}
	apptest.WaitFor(t, 60*time.Second, "an object deletion to reach S3", func() bool { return heldDeletes.Load() > 0 })
	first.Kill()
	holdDeletes.Store(0)
	if len(objects()) == 0 {
		t.Fatal("the objects were gone before the kill: the test tested nothing")
	}

	// The next process finishes it; the account was gone all along.
	second := apptest.Start(t, env)
	if st := second.Call(t, http.MethodGet, "/api/v1/me", token, "", nil); st != http.StatusUnauthorized {
		t.Errorf("the deleted account's token on the next process: %d, want 401", st)
	}
	apptest.WaitFor(t, 120*time.Second, "the account's objects to be deleted", func() bool { return len(objects()) == 0 },
		func() string { return fmt.Sprintf("left: %v", objects()) })
}
