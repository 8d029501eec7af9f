// showError logs the request id of every failed call for whoever debugs in
// DevTools; in tests that is expected noise, so it is kept out of the report.
beforeEach(() => {
  jest.spyOn(console, 'warn').mockImplementation(() => {})
})
