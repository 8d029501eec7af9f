//go:build browser

package browser

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
)

// inOp wraps JavaScript that works on one operation block of Swagger UI:
// the body sees `block` (the .opblock of method and path, or undefined) and
// returns a string, "" meaning "not yet".
func inOp(op operation, body string) string {
	return fmt.Sprintf(`(async () => {
  const block = [...document.querySelectorAll('.opblock')].find(b =>
    b.querySelector('.opblock-summary-method')?.textContent.trim().toLowerCase() === %q &&
    b.querySelector('.opblock-summary-path')?.getAttribute('data-path') === %q);
  %s
})()`, op.Method, op.Path, body)
}

// renderedOperations lists the operations Swagger UI shows.
const renderedOperations = `[...document.querySelectorAll('.opblock')].map(b => ({
  Method: b.querySelector('.opblock-summary-method')?.textContent.trim().toLowerCase() ?? '',
  Path: b.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '',
}))`

// tryItOut opens an operation, presses "Try it out" and "Execute" with the
// defaults the page offers, and returns the status Swagger UI shows.
func tryItOut(p *page, op operation) string {
	p.t.Helper()
	p.waitFor(op.String()+" to open", inOp(op, `
  if (!block) return '';
  if (!block.classList.contains('is-open')) {
    (block.querySelector('.opblock-summary-control') ?? block.querySelector('.opblock-summary')).click();
  }
  return block.querySelector('.opblock-body') ? 'open' : '';`))
	p.waitFor(`"Try it out" in `+op.String(), inOp(op, `
  if (block.querySelector('.execute')) return 'ready';
  const b = block.querySelector('.try-out__btn');
  if (b && b.textContent.trim() === 'Try it out') b.click();
  return '';`))
	// A previous answer stays on the page; clear it so the status read
	// below is the new one.
	p.waitFor("the previous answer to clear", inOp(op, `
  const clear = block.querySelector('.btn-clear');
  if (clear) { clear.click(); return ''; }
  return block.querySelector('.live-responses-table') ? '' : 'clear';`))
	p.mustEval(inOp(op, `block.querySelector('.execute').click(); return 'clicked';`), nil)
	return p.waitFor("the answer to "+op.String(), inOp(op, `
  const cell = block.querySelector('.live-responses-table tbody .response-col_status');
  return cell ? cell.textContent.trim() : '';`))
}

// authorize fills the BearerAuth scheme of Swagger UI's "Authorize"
// dialog (the dialog also offers AdminAuth) with an API key value.
func authorize(p *page, value string) {
	p.t.Helper()
	const scheme = `[...document.querySelectorAll('.modal-ux .auth-container')].find(c => c.textContent.includes('BearerAuth'))`
	p.waitFor(`the "Authorize" button`, `(() => {
  const b = document.querySelector('.auth-wrapper .authorize');
  if (!b) return '';
  b.click();
  return 'clicked';
})()`)
	p.waitFor("the BearerAuth input", `(() => {
  const input = `+scheme+`?.querySelector('input');
  if (!input) return '';
  input.focus();
  return document.activeElement === input ? 'focused' : '';
})()`)
	p.insertText(value)
	p.waitFor("the token to be accepted", `(() => {
  const c = `+scheme+`;
  const b = [...c.querySelectorAll('.auth-btn-wrapper button')].find(b => b.textContent.trim() === 'Authorize');
  if (b) { b.click(); return ''; }
  // Once authorized, the scheme offers Logout instead.
  return [...c.querySelectorAll('.auth-btn-wrapper button')].some(b => b.textContent.trim() === 'Logout') ? 'yes' : '';
})()`)
	p.waitFor("the dialog to close", `(() => {
  const close = document.querySelector('.modal-ux .btn-done') ?? document.querySelector('.modal-ux .close-modal');
  if (close) { close.click(); return ''; }
  return 'closed';
})()`)
}

func TestSwaggerUI(t *testing.T) {
	srv := startWallpaperd(t)
	base := srv.base
	documented := documentedOperations(t)

	t.Run("every endpoint of the API the binary serves is documented", func(t *testing.T) {
		// The probe must tell a missing route from a present one.
		if srv.serves(t, operation{"get", "/api/v1/no-such-endpoint"}) || srv.serves(t, operation{"delete", "/healthz"}) {
			t.Fatal("the probe takes a missing route for a served one: has the router's 404/405 answer changed?")
		}
		var undocumented []string
		served := 0
		for _, op := range productEndpoints {
			if !srv.serves(t, op) {
				continue
			}
			served++
			if !documented[op] {
				undocumented = append(undocumented, op.String())
			}
		}
		t.Logf("%d of %d endpoints of the API served, %d operations documented", served, len(productEndpoints), len(documented))
		if len(undocumented) > 0 {
			t.Errorf("served but missing from docs/swagger.json (add swag annotations, then make generate): %v", undocumented)
		}
	})

	p := startChromium(t)
	p.navigate(base + "/swagger/index.html")
	p.waitFor("the operations to render", `document.querySelectorAll('.opblock').length > 0 ? 'yes' : ''`)

	t.Run("every documented operation renders", func(t *testing.T) {
		var rendered []operation
		p.mustEval(renderedOperations, &rendered)
		shown := map[operation]bool{}
		for _, op := range rendered {
			shown[op] = true
		}
		var missing []string
		for op := range documented {
			if !shown[op] {
				missing = append(missing, op.String())
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("Swagger UI does not show %v (it shows %d operations)", missing, len(rendered))
		}
		if len(rendered) != len(documented) {
			t.Errorf("Swagger UI shows %d operations, docs/swagger.json has %d", len(rendered), len(documented))
		}
	})

	tests := []struct {
		name string
		op   operation
		want string
	}{
		{name: "liveness", op: operation{"get", "/healthz"}, want: "200"},
		{name: "readiness", op: operation{"get", "/readyz"}, want: "200"},
		{name: "the public gallery", op: operation{"get", "/api/v1/wallpapers"}, want: "200"},
		{name: "the profile without a token", op: operation{"get", "/api/v1/me"}, want: "401"},
	}
	for _, tt := range tests {
		t.Run("try it out: "+tt.name, func(t *testing.T) {
			if !documented[tt.op] {
				t.Skipf("%s is not in docs/swagger.json yet", tt.op)
			}
			p.t = t
			if got := tryItOut(p, tt.op); got != tt.want {
				t.Errorf("Try it out %s: status %s, want %s", tt.op, got, tt.want)
			}
		})
	}

	t.Run("authorize with a dev token", func(t *testing.T) {
		me := operation{"get", "/api/v1/me"}
		if !documented[me] || !documented[operation{"post", "/api/v1/auth/login"}] {
			t.Skip("login or GET /api/v1/me is not in docs/swagger.json yet")
		}
		p.t = t
		token, err := devLogin(base, "dev-alice")
		if err != nil {
			t.Fatalf("dev login: %v", err)
		}
		authorize(p, "Bearer "+token)
		if got := tryItOut(p, me); got != "200" {
			t.Fatalf("Try it out %s after Authorize: status %s, want 200", me, got)
		}
		var body string
		p.mustEval(inOp(me, `return block.querySelector('.live-responses-table tbody .response-col_description .microlight, .live-responses-table tbody .response-col_description pre')?.textContent ?? '';`), &body)
		var user struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(body), &user); err != nil || user.ID == "" {
			t.Errorf("the shown answer is not the user: %q (%v)", body, err)
		}
	})
}
