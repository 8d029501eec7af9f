// Every API call the mini-program makes, in one list. The contract test
// (test/contract.test.js) checks each {method, path} against the backend's
// docs/swagger.json, so a renamed or missing endpoint fails CI instead of
// failing on a user's phone.
//
// `method` is the method the endpoint is documented with. Two transport
// details live in utils/request.js, not here:
//   - wx.request cannot send PATCH, so PATCH goes out as POST with
//     `X-HTTP-Method-Override: PATCH`, which the server honours for PATCH
//     routes only;
//   - wx.uploadFile can only POST, so the avatar upload (PUT /me/avatar in
//     the API) uses the POST alias the server keeps for exactly this.
//
// `auth` is true (the default: a session is needed), false (never send a
// token) or 'optional' (send the token when there is one, so `liked`
// shows, but never log in for it: Moments' single-page mode cannot).
// `file: true` marks an answer that is a file, fetched with wx.downloadFile.
const ENDPOINTS = {
  login: { method: 'POST', path: '/api/v1/auth/login', auth: false },
  refresh: { method: 'POST', path: '/api/v1/auth/refresh', auth: false },
  logout: { method: 'POST', path: '/api/v1/auth/logout' },
  // A banned user's account deletion: no token (a ban leaves none), a
  // fresh wx.login code in the body.
  deleteBannedAccount: { method: 'POST', path: '/api/v1/auth/delete-account', auth: false },
  getMe: { method: 'GET', path: '/api/v1/me' },
  updateMe: { method: 'PATCH', path: '/api/v1/me' },
  deleteMe: { method: 'DELETE', path: '/api/v1/me' },
  uploadAvatar: { method: 'POST', path: '/api/v1/me/avatar' },
  getClientConfig: { method: 'GET', path: '/api/v1/client-config', auth: false },
  listPresets: { method: 'GET', path: '/api/v1/presets', auth: false },
  createGeneration: { method: 'POST', path: '/api/v1/generations' },
  getGeneration: { method: 'GET', path: '/api/v1/generations/{id}' },
  listMyGenerations: { method: 'GET', path: '/api/v1/me/generations' },
  listWallpapers: { method: 'GET', path: '/api/v1/wallpapers', auth: 'optional' },
  getWallpaper: { method: 'GET', path: '/api/v1/wallpapers/{id}', auth: 'optional' },
  wallpaperCode: { method: 'GET', path: '/api/v1/wallpapers/{id}/wxacode', auth: false, file: true },
  reportWallpaper: { method: 'POST', path: '/api/v1/wallpapers/{id}/reports' },
  updateWallpaper: { method: 'PATCH', path: '/api/v1/wallpapers/{id}' },
  deleteWallpaper: { method: 'DELETE', path: '/api/v1/wallpapers/{id}' },
  likeWallpaper: { method: 'PUT', path: '/api/v1/wallpapers/{id}/like' },
  unlikeWallpaper: { method: 'DELETE', path: '/api/v1/wallpapers/{id}/like' },
  listMyWallpapers: { method: 'GET', path: '/api/v1/me/wallpapers' },
}

// expand fills `{name}` placeholders; ids are opaque strings, so they are
// URL-encoded rather than trusted.
function expand(path, params) {
  return path.replace(/\{(\w+)\}/g, (_, name) => {
    if (!params || params[name] === undefined || params[name] === null || params[name] === '') {
      throw new Error(`missing path parameter ${name} for ${path}`)
    }
    return encodeURIComponent(String(params[name]))
  })
}

module.exports = { ENDPOINTS, expand }
