package httpapi_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/config"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/user"
)

// storedKeys lists every object the service keeps, in S3 or under
// DATA_DIR/media.
func storedKeys(t *testing.T, s *apptest.Service) []string {
	t.Helper()
	var keys []string
	if s.S3 != nil {
		p := s3.NewListObjectsV2Paginator(s.S3.Client(), &s3.ListObjectsV2Input{Bucket: &s.S3.Config.Bucket})
		for p.HasMorePages() {
			out, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Contents {
				keys = append(keys, *o.Key)
			}
		}
		return keys
	}
	root := filepath.Join(s.Config.DataDir, "media")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		keys = append(keys, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// keysOf are the stored keys that belong to a user: their avatars and
// the objects of their generations.
func keysOf(keys []string, userID string, generations []string) []string {
	var out []string
	for _, k := range keys {
		mine := strings.Contains(k, "avatars/"+userID+"/")
		for _, g := range generations {
			mine = mine || strings.Contains(k, "/"+g+"/")
		}
		if mine {
			out = append(out, k)
		}
	}
	return out
}

func avatarPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDeleteAccount: DELETE /me removes the account at once for every
// purpose of the API, its objects from storage (a real S3 server and the
// local directory) through the job queue, and every row but the
// anonymised records kept for compliance; the same WeChat user logging in
// again is a new, empty account with the day's quota used.
func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name string
		s3   bool
	}{{"s3", true}, {"local", false}} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			s := apptest.New(t, apptest.Options{S3: store.s3})
			leaver := s.Login(t, "leaver")
			tok := leaver.AccessToken
			friend := s.Token(t, "friend")
			if res := s.API.Do(http.MethodPatch, "/api/v1/me", map[string]string{"nickname": "Leaver"}, apitest.Bearer(tok)); res.Status != http.StatusOK {
				t.Fatalf("rename: %d", res.Status)
			}
			if res := s.API.Do(http.MethodPut, "/api/v1/me/avatar", nil, apitest.Bearer(tok),
				apitest.MultipartFile("file", "a.png", "image/png", avatarPNG(t))); res.Status != http.StatusOK {
				t.Fatalf("avatar: %d %s", res.Status, res.Body)
			}
			public := paintedWallpaper(t, s, tok, map[string]any{"prompt": "a leaving train"})
			paintedWallpaper(t, s, tok, map[string]any{"prompt": "a private farewell", "public": false})
			theirs := paintedWallpaper(t, s, friend, map[string]any{"prompt": "a friend's kite"})
			if res := s.API.Do(http.MethodPut, "/api/v1/wallpapers/"+theirs.ID+"/like", nil, apitest.Bearer(tok)); res.Status != http.StatusOK {
				t.Fatalf("like: %d", res.Status)
			}
			if res := report(s, tok, theirs.ID, map[string]string{"reason": "other"}); res.Status != http.StatusAccepted {
				t.Fatalf("report: %d", res.Status)
			}
			if res := s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+public.ID+"/original", nil, apitest.Bearer(tok)); res.Status != http.StatusFound {
				t.Fatalf("original: %d", res.Status)
			}
			generations := generationIDs(t, s, leaver.User.ID)
			if len(generations) != 2 {
				t.Fatalf("generations %v, want 2", generations)
			}
			mine := keysOf(storedKeys(t, s), leaver.User.ID, generations)
			if len(mine) < 7 { // avatar, and master, image, thumbnail of each wallpaper
				t.Fatalf("the leaver's objects %v: want the avatar and three of each wallpaper", mine)
			}
			used := s.Me(t, tok).Quota.UsedToday

			if res := s.API.Do(http.MethodDelete, "/api/v1/me", nil, apitest.Bearer(tok)); res.Status != http.StatusNoContent {
				t.Fatalf("DELETE /me: %d %s", res.Status, res.Body)
			}

			t.Run("gone at once for every purpose of the API", func(t *testing.T) {
				for _, call := range []struct{ method, path string }{
					{http.MethodGet, "/api/v1/me"},
					{http.MethodGet, "/api/v1/me/wallpapers"},
					{http.MethodDelete, "/api/v1/me"},
				} {
					if res := s.API.For(t).Do(call.method, call.path, nil, apitest.Bearer(tok)); res.Status != http.StatusUnauthorized {
						t.Errorf("%s %s with the deleted account's token: %d, want 401", call.method, call.path, res.Status)
					}
				}
				if res := s.API.For(t).Do(http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": leaver.RefreshToken}); res.Status != http.StatusUnauthorized {
					t.Errorf("refresh: %d, want 401", res.Status)
				}
				if othersSee(t, s, public.ID, friend) {
					t.Error("the deleted account's public wallpaper is still seen")
				}
				var w httpapi.Wallpaper
				s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+theirs.ID, nil, apitest.Bearer(friend)).JSON(t, &w)
				if w.LikeCount != 0 {
					t.Errorf("like count of the friend's wallpaper %d, want 0 (the leaver's like is gone)", w.LikeCount)
				}
			})

			t.Run("its objects leave storage", func(t *testing.T) {
				apptest.WaitFor(t, 90*time.Second, "the objects to be deleted", func() bool {
					return len(keysOf(storedKeys(t, s), leaver.User.ID, generations)) == 0
				}, func() string { return strings.Join(keysOf(storedKeys(t, s), leaver.User.ID, generations), ", ") })
				var friendGen string
				if err := s.Pool.QueryRow(t.Context(), `SELECT generation_id::text FROM wallpapers WHERE id = $1`, theirs.ID).Scan(&friendGen); err != nil {
					t.Fatal(err)
				}
				if kept := keysOf(storedKeys(t, s), "-", []string{friendGen}); len(kept) != 3 {
					t.Errorf("the friend's objects %v: want its three, untouched", kept)
				}
			})

			t.Run("rows go, anonymised records stay", func(t *testing.T) {
				counts := []struct {
					name, query string
					want        int
				}{
					{"users", `SELECT count(*) FROM users WHERE id = $1`, 0},
					{"wallpapers", `SELECT count(*) FROM wallpapers WHERE user_id = $1`, 0},
					{"likes", `SELECT count(*) FROM likes WHERE user_id = $1`, 0},
					{"refresh tokens", `SELECT count(*) FROM refresh_tokens WHERE user_id = $1`, 0},
					{"quota", `SELECT count(*) FROM quota_usage WHERE user_id = $1`, 0},
					{"generations naming the user", `SELECT count(*) FROM generations WHERE user_id = $1`, 0},
					{"image checks naming the user", `SELECT count(*) FROM moderation_checks WHERE user_id = $1`, 0},
					{"downloads naming the user", `SELECT count(*) FROM original_downloads WHERE user_id = $1`, 0},
					{"reports naming the user", `SELECT count(*) FROM reports WHERE reporter_id = $1`, 0},
					{"generations kept, anonymised", `SELECT count(*) FROM generations WHERE user_id IS NULL AND subject IS NOT NULL
						AND prompt IN ('a leaving train', 'a private farewell') AND $1::uuid IS NOT NULL`, 2},
					{"one subject for the account's records", `SELECT count(DISTINCT subject) FROM generations WHERE user_id IS NULL AND $1::uuid IS NOT NULL`, 1},
					{"image checks kept under the subject", `SELECT count(*) FROM moderation_checks
						WHERE user_id IN (SELECT subject FROM generations WHERE user_id IS NULL) AND $1::uuid IS NOT NULL`, 1},
					{"downloads kept under the subject", `SELECT count(*) FROM original_downloads o JOIN generations g ON g.subject = o.user_id
						WHERE g.prompt = 'a leaving train' AND $1::uuid IS NOT NULL`, 1},
					{"reports kept, anonymous", `SELECT count(*) FROM reports WHERE reporter_id IS NULL AND $1::uuid IS NOT NULL`, 1},
				}
				for _, c := range counts {
					var n int
					if err := s.Pool.QueryRow(t.Context(), c.query, leaver.User.ID).Scan(&n); err != nil {
						t.Fatalf("%s: %v", c.name, err)
					}
					if n != c.want {
						t.Errorf("%s: %d, want %d", c.name, n, c.want)
					}
				}
			})

			t.Run("a new login is a new, empty account with the day's quota used", func(t *testing.T) {
				again := s.Login(t, "leaver")
				if again.User.ID == leaver.User.ID || again.User.Nickname != "" || again.User.AvatarURL != "" {
					t.Errorf("the new login %+v: want a new, empty account", again.User)
				}
				if got := s.Me(t, again.AccessToken).Quota.UsedToday; got != used {
					t.Errorf("quota used %d, want %d (the deleted account's day)", got, used)
				}
				var page httpapi.WallpaperPage
				s.API.Do(http.MethodGet, "/api/v1/me/wallpapers", nil, apitest.Bearer(again.AccessToken)).JSON(t, &page)
				if len(page.Items) != 0 {
					t.Errorf("the new account has %d wallpapers", len(page.Items))
				}
			})
		})
	}
}

// TestDeletedAccountKeepsItsBan: a banned user may still delete their
// account (PIPL Art. 47: every user may), and DELETE /me is the only call
// the ban leaves them. The deletion leaves only the keyed hash of the
// openid, which still refuses the next login of the same WeChat user.
func TestDeletedAccountKeepsItsBan(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{})
	adminToken := s.AdminToken(t, "ops")
	banned := s.Login(t, "outlaw")
	ban(t, s, adminToken, banned.User.ID, "fraud")
	bearer := apitest.Bearer(banned.AccessToken)

	if res := s.API.Do(http.MethodGet, "/api/v1/me", nil, bearer); res.Status != http.StatusForbidden || res.ErrorCode() != "banned" {
		t.Fatalf("GET /me of the banned user: %d %s, want 403 banned", res.Status, res.Body)
	}
	if res := s.API.Do(http.MethodDelete, "/api/v1/me", nil, bearer); res.Status != http.StatusNoContent {
		t.Fatalf("DELETE /me of the banned user: %d %s, want 204", res.Status, res.Body)
	}
	var users int
	if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE openid = 'dev:outlaw'`).Scan(&users); err != nil || users != 0 {
		t.Fatalf("%d accounts of dev:outlaw after the deletion (%v), want none", users, err)
	}
	if res := s.API.Do(http.MethodDelete, "/api/v1/me", nil, bearer); res.Status != http.StatusUnauthorized {
		t.Errorf("DELETE /me again with the deleted account's token: %d %s, want 401", res.Status, res.Body)
	}

	subjects, err := user.NewSubjects(config.Secret(apptest.JWTSecret).Derive("openid-subject"))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]byte
	r, err := s.Pool.Query(t.Context(), `SELECT subject FROM bans WHERE user_id IS NULL`)
	if err == nil {
		for r.Next() {
			var b []byte
			if err = r.Scan(&b); err != nil {
				break
			}
			rows = append(rows, b)
		}
		r.Close()
	}
	if err != nil || len(rows) != 1 || !slices.Equal(rows[0], subjects.Of("dev:outlaw")) {
		t.Fatalf("the ban after the deletion: %x (%v); want one, keyed by the openid's hash", rows, err)
	}
	res := s.API.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"code": "dev-outlaw"})
	if res.Status != http.StatusForbidden || res.ErrorCode() != "banned" {
		t.Errorf("login after deleting a banned account: %d %s, want 403 banned", res.Status, res.Body)
	}
	if err := s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE openid = 'dev:outlaw'`).Scan(&users); err != nil || users != 0 {
		t.Errorf("the refused login created %d accounts (%v)", users, err)
	}
}

// generationIDs returns the ids of the generations recorded for user.
func generationIDs(t *testing.T, s *apptest.Service, user string) []string {
	t.Helper()
	rows, err := s.Pool.Query(t.Context(), `SELECT id::text FROM generations WHERE user_id = $1`, user)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
