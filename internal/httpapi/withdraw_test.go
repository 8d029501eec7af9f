package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/storage"
)

// TestHiddenMeansHidden: a URL handed out while a wallpaper was public
// stops working once it is made private or deleted, from the real S3
// server and from /media/ alike; the owner keeps short-lived signed URLs.
// With S3_PUBLIC_BASE_URL (the bucket serving public/ to anyone, as behind
// a CDN) the public URLs are unsigned and stop working all the same.
func TestHiddenMeansHidden(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name       string
		s3         bool
		publicBase bool
	}{{"s3", true, false}, {"s3-public-base-url", true, true}, {"local", false, false}} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			s := apptest.New(t, apptest.Options{S3: store.s3, S3PublicBaseURL: store.publicBase})
			// served checks, with S3_PUBLIC_BASE_URL, that a public URL is an
			// unsigned one under it, answering the image to a plain GET.
			served := func(w httpapi.Wallpaper) {
				t.Helper()
				if !store.publicBase {
					return
				}
				for _, u := range []string{w.ImageURL, w.ThumbnailURL} {
					if !strings.HasPrefix(u, s.Config.S3.PublicBaseURL+"/"+storage.PublicPrefix) || strings.Contains(u, "?") {
						t.Fatalf("%s is not an unsigned URL under S3_PUBLIC_BASE_URL %s", u, s.Config.S3.PublicBaseURL)
					}
					resp, body := s.Download(t, u)
					if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte{0xff, 0xd8}) {
						t.Fatalf("GET %s without a signature: %d, %d bytes, not the JPEG", u, resp.StatusCode, len(body))
					}
					if cc := resp.Header.Get("Cache-Control"); cc != storage.CachePublic {
						t.Errorf("GET %s: Cache-Control %q, want %q", u, cc, storage.CachePublic)
					}
				}
			}
			owner := s.Token(t, "owner")
			g := s.Wait(t, owner, s.Generate(t, owner, "a field of sunflowers"), 120*time.Second)
			if g.Status != "succeeded" {
				t.Fatalf("generation %s %+v", g.Status, g.Error)
			}
			id := g.Wallpaper.ID
			public := waitShown(t, s, id, true)
			for _, u := range []string{public.ImageURL, public.ThumbnailURL} {
				if st := status(t, s, u); st != http.StatusOK {
					t.Fatalf("the public URL %s answers %d", u, st)
				}
			}
			served(public)

			// Made private: the URLs handed out while public stop working.
			res := s.API.Do(http.MethodPatch, "/api/v1/wallpapers/"+id, map[string]bool{"public": false}, apitest.Bearer(owner))
			if res.Status != http.StatusOK {
				t.Fatalf("hide: %d %s", res.Status, res.Body)
			}
			waitShown(t, s, id, false)
			for _, u := range []string{public.ImageURL, public.ThumbnailURL} {
				apptest.WaitFor(t, 60*time.Second, "the old public URL to stop working", func() bool {
					st := status(t, s, u)
					return st == http.StatusNotFound || st == http.StatusForbidden
				})
			}
			var mine httpapi.Wallpaper
			s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil, apitest.Bearer(owner)).JSON(t, &mine)
			if !strings.Contains(mine.ImageURL, "/private/") || status(t, s, mine.ImageURL) != http.StatusOK {
				t.Errorf("the owner's URL of a private wallpaper %s: not a working private one", mine.ImageURL)
			}
			if bare, _, _ := strings.Cut(mine.ImageURL, "?"); status(t, s, bare) == http.StatusOK {
				t.Errorf("the private object answers without its signature: %s", bare)
			}

			// Public again, then deleted: gone from the new public URL too.
			res = s.API.Do(http.MethodPatch, "/api/v1/wallpapers/"+id, map[string]bool{"public": true}, apitest.Bearer(owner))
			if res.Status != http.StatusOK {
				t.Fatalf("show: %d %s", res.Status, res.Body)
			}
			again := waitShown(t, s, id, true)
			if st := status(t, s, again.ImageURL); st != http.StatusOK {
				t.Fatalf("public again, the image answers %d", st)
			}
			served(again)
			if store.publicBase && (again.ImageURL != public.ImageURL || again.ThumbnailURL != public.ThumbnailURL) {
				t.Errorf("public again at %s, not at the URL handed out before, %s", again.ImageURL, public.ImageURL)
			}
			if res := s.API.Do(http.MethodDelete, "/api/v1/wallpapers/"+id, nil, apitest.Bearer(owner)); res.Status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", res.Status, res.Body)
			}
			for _, u := range []string{again.ImageURL, again.ThumbnailURL, mine.ImageURL} {
				apptest.WaitFor(t, 60*time.Second, "the deleted wallpaper's URL to stop working", func() bool {
					st := status(t, s, u)
					return st == http.StatusNotFound || st == http.StatusForbidden
				})
			}
		})
	}
}

// waitShown waits until others see the wallpaper (or no longer do) and
// returns what the anonymous detail showed last.
func waitShown(t *testing.T, s *apptest.Service, id string, shown bool) httpapi.Wallpaper {
	t.Helper()
	var w httpapi.Wallpaper
	apptest.WaitFor(t, 60*time.Second, "the wallpaper's visibility to settle", func() bool {
		res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id, nil)
		if res.Status == http.StatusOK {
			res.JSON(t, &w)
		}
		return (res.Status == http.StatusOK) == shown
	})
	return w
}

func status(t *testing.T, s *apptest.Service, url string) int {
	t.Helper()
	resp, _ := s.Download(t, url)
	return resp.StatusCode
}

// TestHeldMeansHidden: a public wallpaper held by its reports, hidden by
// an admin or rejected is gone from the URLs handed out while it was
// public, as one its owner made private is; approved again, it is back.
// With S3_PUBLIC_BASE_URL those are the unsigned URLs a CDN would serve.
func TestHeldMeansHidden(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name       string
		publicBase bool
	}{{"s3", false}, {"s3-public-base-url", true}} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			s := apptest.New(t, apptest.Options{S3: true, S3PublicBaseURL: store.publicBase,
				Vars: map[string]string{"REPORT_HOLD_THRESHOLD": "2"}})
			owner := s.Token(t, "owner")
			adminToken := s.AdminToken(t, "moderator")
			g := s.Wait(t, owner, s.Generate(t, owner, "a tram in the snow"), 120*time.Second)
			if g.Status != "succeeded" {
				t.Fatalf("generation %s %+v", g.Status, g.Error)
			}
			id := g.Wallpaper.ID
			gone := func(w httpapi.Wallpaper, why string) {
				t.Helper()
				for _, u := range []string{w.ImageURL, w.ThumbnailURL} {
					apptest.WaitFor(t, 60*time.Second, why+": the old public URL to stop working", func() bool {
						st := status(t, s, u)
						return st == http.StatusNotFound || st == http.StatusForbidden
					})
				}
			}
			back := func(w httpapi.Wallpaper, why string) {
				t.Helper()
				for _, u := range []string{w.ImageURL, w.ThumbnailURL} {
					if st := status(t, s, u); st != http.StatusOK {
						t.Fatalf("%s, %s answers %d", why, u, st)
					}
					if store.publicBase && (!strings.HasPrefix(u, s.Config.S3.PublicBaseURL+"/"+storage.PublicPrefix) || strings.Contains(u, "?")) {
						t.Fatalf("%s, %s is not an unsigned URL under S3_PUBLIC_BASE_URL", why, u)
					}
				}
			}
			decide := func(decision string) {
				t.Helper()
				res := s.API.Do(http.MethodPost, "/api/v1/admin/wallpapers/"+id+"/decision",
					map[string]string{"decision": decision, "note": "test"}, apitest.Bearer(adminToken))
				if res.Status != http.StatusOK {
					t.Fatalf("%s: %d %s", decision, res.Status, res.Body)
				}
			}

			public := waitShown(t, s, id, true)
			back(public, "public")
			for _, name := range []string{"reporter1", "reporter2"} {
				res := s.API.Do(http.MethodPost, "/api/v1/wallpapers/"+id+"/reports", map[string]string{"reason": "copyright"},
					apitest.Bearer(s.Token(t, name)))
				if res.Status != http.StatusAccepted {
					t.Fatalf("report by %s: %d %s", name, res.Status, res.Body)
				}
			}
			waitShown(t, s, id, false)
			gone(public, "held by two reports")

			decide("approve")
			again := waitShown(t, s, id, true)
			back(again, "approved again")
			decide("hide")
			waitShown(t, s, id, false)
			gone(again, "hidden by an admin")

			decide("approve")
			last := waitShown(t, s, id, true)
			back(last, "approved once more")
			decide("reject")
			waitShown(t, s, id, false)
			gone(last, "rejected")
		})
	}
}

// TestDeletedWallpaperTakesItsCode: the mini-program code kept for a
// wallpaper leaves storage with the wallpaper.
func TestDeletedWallpaperTakesItsCode(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{S3: true})
	owner := s.Token(t, "owner")
	g := s.Wait(t, owner, s.Generate(t, owner, "a kite over the dunes"), 120*time.Second)
	if g.Status != "succeeded" {
		t.Fatalf("generation %s %+v", g.Status, g.Error)
	}
	id := g.Wallpaper.ID
	waitShown(t, s, id, true)
	if res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id+"/wxacode", nil); res.Status != http.StatusOK {
		t.Fatalf("wxacode: %d %s", res.Status, res.Body)
	}
	key := "wxacode/" + id + ".png" // the local QR maker's, without WeChat
	if !s.S3.Exists(t, key) {
		t.Fatalf("the code is not kept at %s", key)
	}
	if res := s.API.Do(http.MethodDelete, "/api/v1/wallpapers/"+id, nil, apitest.Bearer(owner)); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	apptest.WaitFor(t, 60*time.Second, "the code to leave storage", func() bool { return !s.S3.Exists(t, key) })
}
