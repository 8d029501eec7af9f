package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/postgres/pgtest"
	"github.com/wallpaperd/wallpaperd/internal/storage/storagetest"
)

// TestStorageMoveSurvivesKill: wallpaperd is SIGKILLed in the middle of
// withdrawing a wallpaper's objects (copied to the private place, the
// state committed, the public copies not yet deleted); the next process
// finishes the move: no object left at the public place, none missing.
func TestStorageMoveSurvivesKill(t *testing.T) {
	t.Parallel()
	gw := storagetest.Start(t)
	target, err := url.Parse(gw.Config.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// S3 reached through a proxy that can hold every DELETE (the process
	// is killed while it waits); the Host header is left as the client
	// signed it.
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

	dbURL := pgtest.NewURL(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "S3_BUCKET": gw.Config.Bucket, "S3_REGION": gw.Config.Region,
		"S3_ENDPOINT": front.URL, "S3_FORCE_PATH_STYLE": "true",
		"S3_ACCESS_KEY_ID": gw.Config.AccessKeyID, "S3_SECRET_ACCESS_KEY": gw.Config.SecretAccessKey,
		// A job of a killed process is taken over after JOB_RESCUE_AFTER.
		"JOB_TIMEOUT": "20s", "JOB_RESCUE_AFTER": "25s", "WORKERS": "2",
	}
	first := apptest.Start(t, env)
	token := first.Login(t, "mover")
	var g struct {
		ID string `json:"id"`
	}
	if st := first.Call(t, http.MethodPost, "/api/v1/generations", token, `{"prompt":"a slow river","size":"1024x1024"}`, &g); st != http.StatusAccepted {
		t.Fatalf("submit: %d", st)
	}
	var wallpaperID string
	apptest.WaitFor(t, 90*time.Second, "the wallpaper to be public", func() bool {
		var got struct {
			Wallpaper *struct {
				ID string `json:"id"`
			} `json:"wallpaper"`
		}
		first.Call(t, http.MethodGet, "/api/v1/generations/"+g.ID, token, "", &got)
		if got.Wallpaper == nil {
			return false
		}
		wallpaperID = got.Wallpaper.ID
		return first.Call(t, http.MethodGet, "/api/v1/wallpapers/"+wallpaperID, "", "", nil) == http.StatusOK
	})
	objects := func() []string {
		out, err := gw.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &gw.Config.Bucket})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, *o.Key)
		}
		slices.Sort(keys)
		return keys
	}
	// The first attempt painted it: its objects are under "1/".
	prefix := "w/" + g.ID + "/1/"
	published := []string{"private/" + prefix + "master.png", "public/" + prefix + "image.jpg", "public/" + prefix + "thumb.jpg"}
	withdrawn := []string{"private/" + prefix + "image.jpg", "private/" + prefix + "master.png", "private/" + prefix + "thumb.jpg"}
	slices.Sort(published)
	if got := objects(); !slices.Equal(got, published) {
		t.Fatalf("a public wallpaper's objects: %v, want %v", got, published)
	}

	// Withdraw it, and kill the process while it deletes the public copies.
	holdDeletes.Store(1)
	if st := first.Call(t, http.MethodPatch, "/api/v1/wallpapers/"+wallpaperID, token, `{"public":false}`, nil); st != http.StatusOK {
		t.Fatalf("hide: %d", st)
	}
	apptest.WaitFor(t, 60*time.Second, "the move to reach the delete", func() bool { return heldDeletes.Load() > 0 })
	first.Kill()
	holdDeletes.Store(0)
	if got := objects(); slices.Equal(got, withdrawn) {
		t.Fatal("the move finished before the kill: the test tested nothing")
	}

	// The next process finishes it.
	second := apptest.Start(t, env)
	apptest.WaitFor(t, 120*time.Second, "the move to be finished", func() bool { return slices.Equal(objects(), withdrawn) },
		func() string { return fmt.Sprintf("objects %v, want %v", objects(), withdrawn) })
	if st := second.Call(t, http.MethodGet, "/api/v1/wallpapers/"+wallpaperID, "", "", nil); st != http.StatusNotFound {
		t.Errorf("the withdrawn wallpaper answers %d to others, want 404", st)
	}
	var mine struct {
		ImageURL string `json:"image_url"`
	}
	if st := second.Call(t, http.MethodGet, "/api/v1/wallpapers/"+wallpaperID, token, "", &mine); st != http.StatusOK {
		t.Fatalf("the owner's detail: %d", st)
	}
	resp, err := http.Get(mine.ImageURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the owner's (private) image URL answers %d", resp.StatusCode)
	}
}
