package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/likecheck"
	"github.com/wallpaperd/wallpaperd/internal/wallpaper"
)

// TestHotLikesOverHTTP: 64 users on 16 connections like one wallpaper,
// then unlike it, then like and unlike it at random, through the whole
// service (apptest) with the per-user like limit on (each user stays
// under it). Every answer passes likecheck (each phase exactly), none is
// refused, and the detail and the feed then show the count the calls
// leave, which is the likes rows.
func TestHotLikesOverHTTP(t *testing.T) {
	t.Parallel()
	const workers, perWorker, mixedCalls = 16, 4, 8
	// The logins come from one address: the login limit is not what this
	// tests. The like limit stays at its default.
	s := apptest.New(t, apptest.Options{Vars: map[string]string{"LOGIN_RATE_PER_MINUTE": "1000"}})
	if s.Config.LikeRatePerMinute < 2+mixedCalls {
		t.Fatalf("LIKE_RATE_PER_MINUTE %d: the test's users would be limited", s.Config.LikeRatePerMinute)
	}
	owner := s.Login(t, "hot-owner")
	ownerID := uuid.MustParse(owner.User.ID)
	id := uuid.New()
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `INSERT INTO wallpapers
		(id, user_id, prompt, size, width, height, model, image_key, thumbnail_key, public, published)
		VALUES ($1, $2, 'a comet over a harbour', '1024x1792', 1024, 1792, 'offline', $3, $4, true, true)`,
		id, ownerID, wallpaper.ObjectKey(wallpaper.PublicPrefix, id, "image.jpg"), wallpaper.ObjectKey(wallpaper.PublicPrefix, id, "thumb.jpg")); err != nil {
		t.Fatal(err)
	}
	tokens := make([][]string, workers)
	for w := range tokens {
		for u := range perWorker {
			tokens[w] = append(tokens[w], s.Token(t, fmt.Sprintf("hot-%d-%d", w, u)))
		}
	}
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	t.Cleanup(client.CloseIdleConnections)
	url := s.URL + "/api/v1/wallpapers/" + id.String() + "/like"
	like := func(token string, liked bool) (httpapi.LikeState, error) {
		method := http.MethodPut
		if !liked {
			method = http.MethodDelete
		}
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			return httpapi.LikeState{}, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return httpapi.LikeState{}, err
		}
		defer res.Body.Close()
		var st httpapi.LikeState
		if res.StatusCode != http.StatusOK {
			return st, fmt.Errorf("%s: %d", method, res.StatusCode)
		}
		if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
			return st, err
		}
		if st.Liked != liked {
			return st, fmt.Errorf("%s answered liked %v", method, st.Liked)
		}
		return st, nil
	}
	// phase runs each worker's calls (user index, like) at once.
	phase := func(calls func(w int) [][2]int) []likecheck.Call {
		out := make([][]likecheck.Call, workers)
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, c := range calls(w) {
					start := time.Now()
					st, err := like(tokens[w][c[0]], c[1] == 1)
					if err != nil {
						errs <- err
						return
					}
					out[w] = append(out[w], likecheck.Call{User: tokens[w][c[0]], Like: c[1] == 1,
						Start: start, End: time.Now(), Count: st.LikeCount})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var all []likecheck.Call
		for _, c := range out {
			all = append(all, c...)
		}
		return all
	}
	every := func(liked int) func(int) [][2]int {
		return func(int) (out [][2]int) {
			for u := range perWorker {
				out = append(out, [2]int{u, liked})
			}
			return out
		}
	}
	var history likecheck.History
	n := workers * perWorker
	likes := phase(every(1))
	if err := likecheck.CheckPhase(0, true, likes); err != nil {
		t.Errorf("everyone likes: %v", err)
	}
	unlikes := phase(every(0))
	if err := likecheck.CheckPhase(n, false, unlikes); err != nil {
		t.Errorf("everyone unlikes: %v", err)
	}
	mixed := phase(func(w int) (out [][2]int) {
		for i := range mixedCalls {
			out = append(out, [2]int{(w + i*7) % perWorker, (w + i*i) % 3 % 2})
		}
		return out
	})
	history.Calls = append(append(append(history.Calls, likes...), unlikes...), mixed...)
	if err := history.Check(); err != nil {
		t.Fatal(err)
	}

	want := history.Final()
	var rows int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM likes WHERE wallpaper_id = $1`, id).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	var detail httpapi.Wallpaper
	s.API.Do(http.MethodGet, "/api/v1/wallpapers/"+id.String(), nil, apitest.Bearer(owner.AccessToken)).JSON(t, &detail)
	var feed httpapi.WallpaperPage
	s.API.Do(http.MethodGet, "/api/v1/wallpapers", nil).JSON(t, &feed)
	if len(feed.Items) != 1 || feed.Items[0].ID != id.String() {
		t.Fatalf("feed %+v; want the one wallpaper", feed.Items)
	}
	if rows != want || detail.LikeCount != want || feed.Items[0].LikeCount != want {
		t.Fatalf("the calls leave %d likes; %d likes rows, the detail says %d, the feed %d",
			want, rows, detail.LikeCount, feed.Items[0].LikeCount)
	}
}
