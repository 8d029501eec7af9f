// The one place that knows where the API lives. WeChat DevTools with
// "do not verify domain names" ticked can reach a local wallpaperd over plain
// http; a release build needs an https domain that is on the request,
// uploadFile and downloadFile allow-lists (see README.md).
module.exports = {
  baseURL: 'http://127.0.0.1:8080',
  // Requests give up after this long; app.json's networkTimeout is the cap.
  requestTimeoutMs: 15000,
  uploadTimeoutMs: 30000,
  // devLoginCode lets DevTools log in to a local wallpaperd in dev mode,
  // which accepts only codes of the form "dev-NAME". It is used only in the
  // develop environment (never in trial or release builds); leave it empty
  // to log in with wx.login against a server with a real AppID.
  devLoginCode: 'dev-devtools',
}
