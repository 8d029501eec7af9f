package httpapi_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wallpaperd/wallpaperd/internal/apptest"
	"github.com/wallpaperd/wallpaperd/internal/httpapi/apitest"
	"github.com/wallpaperd/wallpaperd/internal/testenv"
	"github.com/wallpaperd/wallpaperd/internal/wechat/wechattest"
)

// TestWrongMethodIs405: every route answers a method it does not have with
// 405 method_not_allowed, the usual error body and an Allow header naming
// exactly the methods it has. The routes come from docs/swagger.json, so a
// new endpoint is covered as soon as it is documented.
func TestWrongMethodIs405(t *testing.T) {
	t.Parallel()
	// Message push configured, so its route exists to refuse methods.
	ta := apptest.New(t, apptest.Options{Vars: map[string]string{"WECHAT_PUSH_TOKEN": wechattest.PushToken}})
	routes := documentedRoutes(t)
	// Outside the API: health, metrics (on the main listener in dev),
	// Swagger UI and local media.
	routes["/healthz"] = []string{http.MethodGet}
	routes["/readyz"] = []string{http.MethodGet}
	routes["/metrics"] = []string{http.MethodGet}
	routes["/swagger/index.html"] = []string{http.MethodGet}
	routes["/media/avatars/x/y.jpg"] = []string{http.MethodGet, http.MethodHead}
	if len(routes) < 15 {
		t.Fatalf("found only %d routes: %v", len(routes), routes)
	}
	all := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions}
	for path, allowed := range routes {
		for _, method := range all {
			if slices.Contains(allowed, method) {
				continue
			}
			t.Run(method+" "+path, func(t *testing.T) {
				res := ta.API.For(t).Do(method, concrete(path), nil, apitest.SkipRequestValidation)
				if res.Status != http.StatusMethodNotAllowed {
					t.Fatalf("status %d %s, want 405", res.Status, res.Body)
				}
				if method != http.MethodHead && res.ErrorCode() != "method_not_allowed" {
					t.Errorf("error code %q, want method_not_allowed: %s", res.ErrorCode(), res.Body)
				}
				got := strings.Split(res.Header.Get("Allow"), ", ")
				slices.Sort(got)
				want := slices.Sorted(slices.Values(allowed))
				if !slices.Equal(got, want) {
					t.Errorf("Allow: %q, want %q", res.Header.Get("Allow"), strings.Join(want, ", "))
				}
			})
		}
	}
}

// TestEveryOperationDocuments405: every operation of docs/swagger.json
// lists the 405 it answers a wrong method with (TestWrongMethodIs405 shows
// every path does), as the error body, so that a new endpoint cannot leave
// it out of the documentation.
func TestEveryOperationDocuments405(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(testenv.Path(t, "docs", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Schema struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	operations := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				continue
			}
			operations++
			r, ok := op.Responses["405"]
			switch {
			case !ok:
				t.Errorf("%s %s documents no 405: add `@Failure 405 {object} ErrorBody \"method_not_allowed: …\"` and run make generate",
					strings.ToUpper(method), path)
			case r.Schema.Ref != "#/definitions/httpapi.ErrorBody":
				t.Errorf("%s %s documents its 405 as %q, want the error body", strings.ToUpper(method), path, r.Schema.Ref)
			}
		}
	}
	if operations < 15 {
		t.Fatalf("found only %d operations in docs/swagger.json", operations)
	}
}

// concrete fills a documented path's parameters with well-formed values.
func concrete(path string) string {
	return strings.NewReplacer("{id}", "00000000-0000-4000-8000-000000000000", "{preset}", "guofeng").Replace(path)
}

// documentedRoutes maps each path of docs/swagger.json to its methods.
func documentedRoutes(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(testenv.Path(t, "docs", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	routes := map[string][]string{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if m := strings.ToUpper(method); slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, m) {
				routes[path] = append(routes[path], m)
			}
		}
	}
	return routes
}

// TestMalformedQueryStringIs400: a query string that does not parse is
// refused on every endpoint, before anything else happens, instead of
// being read as if its broken pairs were absent.
func TestMalformedQueryStringIs400(t *testing.T) {
	t.Parallel()
	ta := apptest.New(t, apptest.Options{})
	token := ta.Token(t, "alice")
	ta.Wait(t, token, ta.Generate(t, token, "a lighthouse"), 90*time.Second)

	bad := []string{"cursor=%%%x", "limit=5;cursor=x", "cursor=%zz", "%"}
	for path, methods := range documentedRoutes(t) {
		path = concrete(path)
		for _, method := range methods {
			for _, q := range bad {
				t.Run(method+" "+path+"?"+q, func(t *testing.T) {
					res := ta.API.For(t).Do(method, path+"?"+q, nil, apitest.Bearer(token), apitest.SkipRequestValidation)
					if res.Status != http.StatusBadRequest || res.ErrorCode() != "invalid_request" || !strings.Contains(string(res.Body), "query string") {
						t.Errorf("%d %s, want 400 invalid_request about the query string", res.Status, res.Body)
					}
				})
			}
		}
	}
	t.Run("a broken cursor never serves the first page", func(t *testing.T) {
		for _, path := range []string{"/api/v1/wallpapers", "/api/v1/me/wallpapers", "/api/v1/me/generations"} {
			res := ta.API.For(t).Do(http.MethodGet, path+"?cursor=%%%x", nil, apitest.Bearer(token), apitest.SkipRequestValidation)
			if res.Status != http.StatusBadRequest {
				t.Errorf("GET %s?cursor=%%%%%%x: %d %s, want 400", path, res.Status, res.Body)
			}
		}
	})
	t.Run("well-formed escapes still work", func(t *testing.T) {
		res := ta.API.For(t).Do(http.MethodGet, "/api/v1/wallpapers?limit=%35", nil, apitest.Bearer(token))
		if res.Status != http.StatusOK {
			t.Errorf("GET /api/v1/wallpapers?limit=%%35: %d %s", res.Status, res.Body)
		}
	})
}
