// Package browser holds the end-to-end checks of Swagger UI and the admin
// console in a real headless Chromium, driven with chromedp. The tests only
// build with the browser tag: go test -tags browser ./test/browser (make
// test-browser installs Chromium when it is missing).
package browser
