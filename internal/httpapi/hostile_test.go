package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/auth"
	"github.com/wallpaperd/wallpaperd/internal/httpapi"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
)

const hostileJWTSecret = "hostile-test-secret-0123456789abcdef"

// snapshot is every figure a hostile request could change.
type snapshot struct {
	Users, RefreshTokens, Generations, Wallpapers, PublicWallpapers, Likes, QuotaUsed int
	Reports, OriginalDownloads                                                        int
	Nicknames                                                                         string
}

func takeSnapshot(t *testing.T, s *apptest.Service) snapshot {
	t.Helper()
	var sn snapshot
	err := s.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM users), (SELECT count(*) FROM refresh_tokens),
		(SELECT count(*) FROM generations), (SELECT count(*) FROM wallpapers),
		(SELECT count(*) FROM wallpapers WHERE public), (SELECT count(*) FROM likes),
		(SELECT COALESCE(sum(used), 0) FROM quota_usage),
		(SELECT count(*) FROM reports), (SELECT count(*) FROM original_downloads),
		(SELECT COALESCE(string_agg(nickname, ',' ORDER BY id), '') FROM users)`).Scan(
		&sn.Users, &sn.RefreshTokens, &sn.Generations, &sn.Wallpapers, &sn.PublicWallpapers, &sn.Likes, &sn.QuotaUsed,
		&sn.Reports, &sn.OriginalDownloads, &sn.Nicknames)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// hiddenLength wraps a body so the request has no Content-Length: the
// limit must hold while reading, not only on the declared length.
type hiddenLength struct{ io.Reader }

// TestHostileRequests sends hostile requests through the real router (the
// service as serve wires it) with the spec-checking client: each gets a
// clear 4xx, never a 500, its answer still follows docs/swagger.json, and
// no stored figure changes.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, apptest.Options{Vars: map[string]string{"JWT_SECRET": hostileJWTSecret, "JOB_MAX_ATTEMPTS": "5",
		// Hostile input, not its rate, is the subject here.
		"GENERATION_RATE_PER_MINUTE": "10000", "PROFILE_RATE_PER_MINUTE": "10000"}})
	alice, bob := s.Token(t, "alice"), s.Token(t, "bob")

	// Alice owns a public and a private wallpaper; bob owns nothing.
	genPub := s.Generate(t, alice, "alice's public lake")
	genPriv := s.Generate(t, alice, "alice's private lake")
	pub := s.Wait(t, alice, genPub, 90*time.Second)
	priv := s.Wait(t, alice, genPriv, 90*time.Second)
	if pub.Wallpaper == nil || priv.Wallpaper == nil {
		t.Fatalf("setup: generations %s / %s", pub.Status, priv.Status)
	}
	if res := s.API.Do(http.MethodPatch, "/api/v1/wallpapers/"+priv.Wallpaper.ID, map[string]bool{"public": false}, apitest.Bearer(alice)); res.Status != http.StatusOK {
		t.Fatalf("setup: making a wallpaper private: %d %s", res.Status, res.Body)
	}
	pubID, privID := pub.Wallpaper.ID, priv.Wallpaper.ID
	// Others see the public one once its images are published.
	waitShown(t, s, pubID, true)

	var aliceID uuid.UUID
	{
		res := s.API.Do(http.MethodGet, "/api/v1/me", nil, apitest.Bearer(alice))
		var me httpapi.Me
		res.JSON(t, &me)
		aliceID = uuid.MustParse(me.ID)
	}
	expired, err := auth.NewAccessTokens([]byte(hostileJWTSecret), time.Minute, func() time.Time { return time.Now().Add(-time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	expiredToken, _ := expired.Issue(aliceID)
	otherKey, _ := auth.NewAccessTokens([]byte("not-the-service-key-0123456789abcdef"), time.Hour, nil)
	forgedToken, _ := otherKey.Issue(aliceID)
	noneToken, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iss": auth.Issuer, "aud": auth.Audience, "sub": aliceID.String(), "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Unix(), "jti": uuid.NewString(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)

	huge := bytes.Repeat([]byte("a"), 5<<20)
	hugeJSON := append(append([]byte(`{"prompt":"`), huge...), '"', '}')

	type hostile struct {
		name   string
		method string
		path   string
		body   []byte // sent verbatim
		ct     string // Content-Type; "" with a body means application/json
		token  string
		header map[string]string
		// raw skips the client's own checks on the request (the spec
		// rightly forbids it); the response is checked either way.
		want int
	}
	gen := "/api/v1/generations"
	tests := []hostile{
		// Bodies.
		{name: "huge body", method: "POST", path: gen, body: hugeJSON, token: alice, want: 413},
		{name: "huge body without a length", method: "POST", path: gen, body: hugeJSON, token: alice, header: map[string]string{"X-Hide-Length": "1"}, want: 413},
		{name: "truncated JSON", method: "POST", path: gen, body: []byte(`{"prompt":"a lake`), token: alice, want: 400},
		{name: "two JSON objects", method: "POST", path: gen, body: []byte(`{"prompt":"a"}{"prompt":"b"}`), token: alice, want: 400},
		{name: "null body", method: "POST", path: gen, body: []byte(`null`), token: alice, want: 400},
		{name: "prompt of the wrong type", method: "POST", path: gen, body: []byte(`{"prompt":42}`), token: alice, want: 400},
		{name: "size of the wrong type", method: "POST", path: gen, body: []byte(`{"prompt":"a","size":1024}`), token: alice, want: 400},
		{name: "unknown field", method: "POST", path: gen, body: []byte(`{"prompt":"a","user_id":"` + aliceID.String() + `"}`), token: bob, want: 400},
		{name: "invalid UTF-8 in the prompt", method: "POST", path: gen, body: []byte("{\"prompt\":\"a \xff\xfe lake\"}"), token: alice, want: 400},
		{name: "control character in the prompt", method: "POST", path: gen, body: []byte(`{"prompt":"a\u0007lake"}`), token: alice, want: 400},
		{name: "NUL in the prompt", method: "POST", path: gen, body: []byte(`{"prompt":"a\u0000lake"}`), token: alice, want: 400},
		{name: "only spaces", method: "POST", path: gen, body: []byte(`{"prompt":"   \n\t "}`), token: alice, want: 400},
		{name: "prompt over 1000 characters", method: "POST", path: gen, body: []byte(`{"prompt":"` + strings.Repeat("山", 1001) + `"}`), token: alice, want: 400},
		{name: "not JSON", method: "POST", path: gen, body: []byte(`prompt=a`), ct: "application/x-www-form-urlencoded", token: alice, want: 415},
		{name: "control character in a nickname", method: "PATCH", path: "/api/v1/me", body: []byte(`{"nickname":"al\u001bice"}`), token: alice, want: 400},
		{name: "newline in a nickname", method: "PATCH", path: "/api/v1/me", body: []byte(`{"nickname":"al\nice"}`), token: alice, want: 400},
		{name: "invalid UTF-8 in a nickname", method: "PATCH", path: "/api/v1/me", body: []byte("{\"nickname\":\"\xc3\x28\"}"), token: alice, want: 400},
		{name: "nickname of the wrong type", method: "PATCH", path: "/api/v1/me", body: []byte(`{"nickname":["alice"]}`), token: alice, want: 400},
		{name: "visibility of the wrong type", method: "PATCH", path: "/api/v1/wallpapers/" + pubID, body: []byte(`{"public":"no"}`), token: alice, want: 400},
		{name: "visibility null", method: "PATCH", path: "/api/v1/wallpapers/" + pubID, body: []byte(`{"public":null}`), token: alice, want: 400},
		{name: "avatar that is not an image", method: "PUT", path: "/api/v1/me/avatar", body: []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n#!/bin/sh\r\n--x--\r\n"), ct: "multipart/form-data; boundary=x", token: alice, want: 415},

		// Paths under /media/.
		{name: "media traversal", method: "GET", path: "/media/../../etc/passwd", want: 404},
		{name: "media traversal, encoded slashes", method: "GET", path: "/media/..%2f..%2fetc%2fpasswd", want: 404},
		{name: "media traversal, encoded dots", method: "GET", path: "/media/%2e%2e/%2e%2e/etc/passwd", want: 404},
		{name: "media traversal inside a key", method: "GET", path: "/media/wallpapers/../../../../etc/passwd", want: 404},
		{name: "media backslashes", method: "GET", path: "/media/wallpapers/..%5c..%5c..%5cetc%5cpasswd", want: 404},
		{name: "media dot file", method: "GET", path: "/media/wallpapers/.tmp-1", want: 404},

		// SQL-looking strings where ids, cursors and codes go.
		{name: "SQL in a wallpaper id", method: "GET", path: "/api/v1/wallpapers/1%27%20OR%20%271%27=%271", token: bob, want: 400},
		{name: "SQL in a generation id", method: "GET", path: "/api/v1/generations/x%27;DROP%20TABLE%20users;--", token: bob, want: 400},
		{name: "SQL in a cursor", method: "GET", path: "/api/v1/wallpapers?cursor=%27%20OR%201=1--", want: 400},
		{name: "SQL in a limit", method: "GET", path: "/api/v1/wallpapers?limit=1%3BDELETE%20FROM%20wallpapers", want: 400},
		{name: "SQL in a login code", method: "POST", path: "/api/v1/auth/login", body: []byte(`{"code":"dev-x' OR '1'='1"}`), want: 401},
		{name: "SQL in a refresh token", method: "POST", path: "/api/v1/auth/refresh", body: []byte(`{"refresh_token":"' OR 1=1--"}`), want: 401},

		// Headers.
		{name: "oversized Idempotency-Key", method: "POST", path: gen, body: []byte(`{"prompt":"a"}`), token: alice, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 4096)}, want: 400},
		{name: "Idempotency-Key with spaces", method: "POST", path: gen, body: []byte(`{"prompt":"a"}`), token: alice, header: map[string]string{"Idempotency-Key": "a key"}, want: 400},
		{name: "oversized bearer token", method: "GET", path: "/api/v1/me", token: strings.Repeat("A", 30<<10), want: 401},
		{name: "forged X-Request-ID", method: "GET", path: "/api/v1/me", header: map[string]string{"X-Request-ID": "<script>alert(1)</script>"}, want: 401},

		// Tokens.
		{name: "no token", method: "GET", path: "/api/v1/me", want: 401},
		{name: "garbage token", method: "GET", path: "/api/v1/me", token: "not.a.jwt", want: 401},
		{name: "token signed with another key", method: "GET", path: "/api/v1/me", token: forgedToken, want: 401},
		{name: "alg none token", method: "GET", path: "/api/v1/me", token: noneToken, want: 401},
		{name: "expired token", method: "GET", path: "/api/v1/me", token: expiredToken, want: 401},
		{name: "expired token on a write", method: "POST", path: gen, body: []byte(`{"prompt":"a"}`), token: expiredToken, want: 401},
		{name: "forged token on a delete", method: "DELETE", path: "/api/v1/wallpapers/" + pubID, token: forgedToken, want: 401},
		{name: "refresh token as access token", method: "GET", path: "/api/v1/me", token: "rt_" + strings.Repeat("x", 40), want: 401},

		// Another user's ids on every endpoint that takes one.
		{name: "another's generation", method: "GET", path: "/api/v1/generations/" + genPub, token: bob, want: 404},
		{name: "another's private wallpaper", method: "GET", path: "/api/v1/wallpapers/" + privID, token: bob, want: 404},
		{name: "hide another's public wallpaper", method: "PATCH", path: "/api/v1/wallpapers/" + pubID, body: []byte(`{"public":false}`), token: bob, want: 403},
		{name: "publish another's private wallpaper", method: "PATCH", path: "/api/v1/wallpapers/" + privID, body: []byte(`{"public":true}`), token: bob, want: 404},
		{name: "delete another's public wallpaper", method: "DELETE", path: "/api/v1/wallpapers/" + pubID, token: bob, want: 403},
		{name: "delete another's private wallpaper", method: "DELETE", path: "/api/v1/wallpapers/" + privID, token: bob, want: 404},
		{name: "like another's private wallpaper", method: "PUT", path: "/api/v1/wallpapers/" + privID + "/like", token: bob, want: 404},
		{name: "unlike another's private wallpaper", method: "DELETE", path: "/api/v1/wallpapers/" + privID + "/like", token: bob, want: 404},
		{name: "another's public wallpaper's original", method: "GET", path: "/api/v1/wallpapers/" + pubID + "/original", token: bob, want: 403},
		{name: "another's private wallpaper's original", method: "GET", path: "/api/v1/wallpapers/" + privID + "/original", token: bob, want: 404},
		{name: "an original without a token", method: "GET", path: "/api/v1/wallpapers/" + pubID + "/original", want: 401},
		{name: "report another's private wallpaper", method: "POST", path: "/api/v1/wallpapers/" + privID + "/reports", body: []byte(`{"reason":"other"}`), token: bob, want: 404},
		{name: "another's private wallpaper's code", method: "GET", path: "/api/v1/wallpapers/" + privID + "/wxacode", want: 404},
		{name: "a wallpaper id as a generation id", method: "GET", path: "/api/v1/generations/" + pubID, token: alice, want: 404},
		{name: "a user id as a wallpaper id", method: "DELETE", path: "/api/v1/wallpapers/" + aliceID.String(), token: alice, want: 404},
		{name: "method override to DELETE", method: "POST", path: "/api/v1/wallpapers/" + pubID, token: bob, header: map[string]string{"X-HTTP-Method-Override": "DELETE"}, want: 405},
	}
	before := takeSnapshot(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = bytes.NewReader(tt.body)
				if tt.header["X-Hide-Length"] != "" {
					body = hiddenLength{body}
				}
			}
			req := httptest.NewRequest(tt.method, "http://example.com/", body)
			// The raw path as written, encoded variants included.
			req.URL.Path, req.URL.RawPath, req.URL.RawQuery = "", "", ""
			req.RequestURI = tt.path
			u, err := req.URL.Parse(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			req.URL = u
			if tt.body != nil {
				ct := tt.ct
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			for k, v := range tt.header {
				if k != "X-Hide-Length" {
					req.Header.Set(k, v)
				}
			}
			res := s.API.Raw(req)
			if res.Status != tt.want {
				t.Errorf("%s %s: %d %.300s; want %d", tt.method, tt.path, res.Status, res.Body, tt.want)
			}
			if res.Status >= 500 {
				t.Errorf("a hostile request caused a %d", res.Status)
			}
			if code := res.ErrorCode(); code == "" || code == "internal_error" {
				t.Errorf("no clear error code in %.300s", res.Body)
			}
			if bytes.Contains(res.Body, []byte("goroutine")) || bytes.Contains(res.Body, []byte("SQLSTATE")) || bytes.Contains(res.Body, []byte("root:")) {
				t.Errorf("the answer leaks internals: %.300s", res.Body)
			}
			if after := takeSnapshot(t, s); after != before {
				t.Errorf("stored data changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}

	// Bob's lists show none of alice's things.
	res := s.API.Do(http.MethodGet, "/api/v1/me/generations", nil, apitest.Bearer(bob))
	var gens httpapi.GenerationPage
	res.JSON(t, &gens)
	if len(gens.Items) != 0 {
		t.Errorf("bob sees %d generations of others", len(gens.Items))
	}
	res = s.API.Do(http.MethodGet, "/api/v1/me/wallpapers", nil, apitest.Bearer(bob))
	if bytes.Contains(res.Body, []byte(privID)) || bytes.Contains(res.Body, []byte(pubID)) {
		t.Errorf("bob's wallpapers list alice's: %.300s", res.Body)
	}
	res = s.API.Do(http.MethodGet, "/api/v1/wallpapers?limit=50", nil)
	if bytes.Contains(res.Body, []byte(privID)) {
		t.Error("the public feed shows a private wallpaper")
	}
}
