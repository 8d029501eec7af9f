// Package browser holds the end-to-end check of Swagger UI in a real
// headless Chromium, driven over the DevTools protocol. The tests only build
// with the browser tag: go test -tags browser ./test/browser (make
// test-browser installs Chromium when it is missing).
package browser
