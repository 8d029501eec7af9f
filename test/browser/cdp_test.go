//go:build browser

package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/wallpaperd/wallpaperd/internal/testenv"
)

// page is one tab of a headless Chromium, driven by chromedp: enough to
// navigate, type, click and run JavaScript in the page.
type page struct {
	t   *testing.T
	ctx context.Context
}

// startChromium starts a headless Chromium (Debian's, installed by `make
// chromium`; $CHROMIUM_BIN overrides) on an empty tab. It is stopped when
// the test ends.
func startChromium(t *testing.T) *page {
	t.Helper()
	bin := testenv.Program(t, "chromium", "REQUIRE_CHROMIUM", "/usr/bin/chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 2000),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first call starts the browser, which lives as long as the
	// context of that call: no deadline on it (chromedp.Run's rule).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &page{t: t, ctx: ctx}
}

// do runs chromedp steps with a deadline: only a broken page takes this
// long.
func (p *page) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// must runs steps and ends the test on failure.
func (p *page) must(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.do(steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// navigate opens url in the tab and waits for it to load.
func (p *page) navigate(url string) {
	p.t.Helper()
	p.must("navigate to "+url, chromedp.Navigate(url))
}

// eval runs a JavaScript expression in the page (awaiting a promise) and
// decodes its JSON-able value into out, which may be nil.
func (p *page) eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	var exc *chromedp.ExceptionError
	if errors.As(err, &exc) {
		return fmt.Errorf("javascript: %s", exc.Error())
	}
	if err != nil {
		return err
	}
	if out != nil && len(raw) > 0 && string(raw) != "null" {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// mustEval is eval that ends the test on failure.
func (p *page) mustEval(expr string, out any) {
	p.t.Helper()
	if err := p.eval(expr, out); err != nil {
		p.t.Fatalf("%v\nin: %s", err, expr)
	}
}

// waitFor polls a JavaScript expression until it yields a non-empty
// string, and returns it. The deadline is generous: the machine is slow
// and shared, and only a broken page takes this long.
func (p *page) waitFor(what, expr string) string {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for {
		var s string
		if err := p.eval(expr, &s); err != nil {
			last = err
		} else if s != "" {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 60s for %s (last error: %v)", what, last)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// insertText types text into the focused element, as a keyboard would.
func (p *page) insertText(text string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
		p.t.Fatalf("type: %v", err)
	}
}
