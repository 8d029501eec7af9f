//go:build browser

package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromiumPath finds the browser: $CHROMIUM, else the names Debian and
// others install it under.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: run `make chromium` (apt-get install -y chromium) or set CHROMIUM")
	return ""
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://[^\s]+)`)

// startChromium starts a headless Chromium on an empty page and returns a
// DevTools session attached to that page. Chromium is stopped when the test
// ends.
func startChromium(t *testing.T) *page {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, chromiumPath(t),
		"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-first-run", "--no-default-browser-check",
		"--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(),
		"--remote-debugging-address=127.0.0.1",
		// Port 0: Chromium picks a free one and prints it on stderr.
		"--remote-debugging-port=0",
		"--remote-allow-origins=http://127.0.0.1",
		"--window-size=1280,2000",
		"about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})

	found := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := devtoolsLine.FindStringSubmatch(line); m != nil {
				found <- m[1]
			} else if log.Len() < 4000 {
				log.WriteString(line + "\n")
			}
		}
		close(found)
		_, _ = io.Copy(io.Discard, stderr)
	}()
	var browserWS string
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("chromium exited before opening DevTools:\n%s", log.String())
		}
		browserWS = u
	case <-time.After(60 * time.Second):
		t.Fatalf("chromium did not open DevTools within 60s:\n%s", log.String())
	}

	// ws://127.0.0.1:PORT/devtools/browser/ID → the page targets at /json/list.
	host := strings.TrimPrefix(browserWS, "ws://")
	host = host[:strings.IndexByte(host, '/')]
	pageWS := ""
	deadline := time.Now().Add(30 * time.Second)
	for pageWS == "" {
		var targets []struct {
			Type                 string `json:"type"`
			WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
		}
		if err := getJSON("http://"+host+"/json/list", &targets); err == nil {
			for _, tg := range targets {
				if tg.Type == "page" {
					pageWS = tg.WebSocketDebuggerURL
					break
				}
			}
		}
		if pageWS == "" {
			if time.Now().After(deadline) {
				t.Fatal("chromium opened no page target")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ws, err := websocket.Dial(pageWS, "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("connect to the DevTools page: %v", err)
	}
	// Frames can be large (whole DOM snippets); the default limit is 32 MiB.
	ws.MaxPayloadBytes = 64 << 20
	t.Cleanup(func() { _ = ws.Close() })
	return &page{t: t, ws: ws}
}

func getJSON(url string, v any) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// page is a DevTools protocol session on one browser tab: enough of the
// protocol to navigate, type, and run JavaScript in the page.
type page struct {
	t    *testing.T
	ws   *websocket.Conn
	next int
}

// call sends one command and waits for its answer, skipping the events
// Chromium sends in between.
func (p *page) call(method string, params any, result any) error {
	p.next++
	id := p.next
	msg := map[string]any{"id": id, "method": method, "params": params}
	if params == nil {
		msg["params"] = struct{}{}
	}
	_ = p.ws.SetDeadline(time.Now().Add(60 * time.Second))
	if err := websocket.JSON.Send(p.ws, msg); err != nil {
		return fmt.Errorf("%s: send: %w", method, err)
	}
	for {
		var reply struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(p.ws, &reply); err != nil {
			return fmt.Errorf("%s: receive: %w", method, err)
		}
		if reply.ID != id {
			continue // an event, or an answer nobody waits for any more
		}
		if reply.Error != nil {
			return fmt.Errorf("%s: %d %s", method, reply.Error.Code, reply.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(reply.Result, result)
		}
		return nil
	}
}

// navigate opens url in the tab.
func (p *page) navigate(url string) {
	p.t.Helper()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.call("Page.navigate", map[string]any{"url": url}, &res); err != nil {
		p.t.Fatal(err)
	}
	if res.ErrorText != "" {
		p.t.Fatalf("navigate to %s: %s", url, res.ErrorText)
	}
}

// eval runs a JavaScript expression in the page (awaiting a promise) and
// decodes its JSON-able value into out, which may be nil.
func (p *page) eval(expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.call("Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	}, &res)
	if err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("javascript: %s %s", e.Text, e.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, out)
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
	if err := p.call("Input.insertText", map[string]any{"text": text}, nil); err != nil {
		p.t.Fatal(err)
	}
}
