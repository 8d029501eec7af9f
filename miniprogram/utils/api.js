// api.js is the API as the pages see it: one function per endpoint of
// utils/endpoints.js, each going through the shared request client.
const { client } = require('./request')
const { ENDPOINTS, expand } = require('./endpoints')

function call(name, { params, query, data, idempotencyKey, withStatus } = {}) {
  const endpoint = ENDPOINTS[name]
  return client.request({
    method: endpoint.method,
    path: expand(endpoint.path, params),
    auth: endpoint.auth === undefined ? true : endpoint.auth,
    query,
    data,
    idempotencyKey,
    withStatus,
  })
}

module.exports = {
  // logout revokes the refresh tokens on the server (best effort: the
  // device forgets its session whatever the answer) and keeps the app from
  // logging in again by itself.
  logout: () => {
    const sent = client.hasSession() ? call('logout').catch(() => null) : Promise.resolve(null)
    return sent.then(() => client.signOut())
  },
  signIn: () => client.signIn(),
  isSignedOut: () => client.isSignedOut(),
  getMe: () => call('getMe'),
  updateMe: (fields) => call('updateMe', { data: fields }),
  // deleteMe deletes the account (注销); the session goes with it.
  deleteMe: () => call('deleteMe').then(() => client.signOut()),
  // deleteBannedAccount deletes a banned user's account (注销), who has no
  // session: a fresh wx.login code says who they are. The device then
  // stays signed out (the ban refuses a new login anyway).
  deleteBannedAccount: () =>
    client.loginCode().then((code) => call('deleteBannedAccount', { data: { code } })).then(() => client.signOut()),
  getClientConfig: () => call('getClientConfig'),
  listPresets: () => call('listPresets'),
  listMyGenerations: ({ cursor, limit } = {}) => call('listMyGenerations', { query: { cursor, limit } }),
  // reportWallpaper resolves {report, repeated}: repeated when this user
  // had already reported it (the server answers 200 with the first report).
  reportWallpaper: (id, report) =>
    call('reportWallpaper', { params: { id }, data: report, withStatus: true }).then((res) => ({ report: res.body, repeated: res.statusCode === 200 })),
  // wallpaperCodeURL is the image of the mini-program code that opens this
  // wallpaper, for wx.downloadFile (the poster draws it).
  wallpaperCodeURL: (id) => client.url(expand(ENDPOINTS.wallpaperCode.path, { id })),
  uploadAvatar: (filePath) =>
    client.upload({ path: ENDPOINTS.uploadAvatar.path, filePath, name: 'file' }),

  createGeneration: (body, idempotencyKey) => call('createGeneration', { data: body, idempotencyKey }),
  getGeneration: (id) => call('getGeneration', { params: { id } }),

  listWallpapers: ({ cursor, limit } = {}) => call('listWallpapers', { query: { cursor, limit } }),
  getWallpaper: (id) => call('getWallpaper', { params: { id } }),
  updateWallpaper: (id, fields) => call('updateWallpaper', { params: { id }, data: fields }),
  deleteWallpaper: (id) => call('deleteWallpaper', { params: { id } }),
  likeWallpaper: (id) => call('likeWallpaper', { params: { id } }),
  unlikeWallpaper: (id) => call('unlikeWallpaper', { params: { id } }),
  listMyWallpapers: ({ cursor, limit } = {}) => call('listMyWallpapers', { query: { cursor, limit } }),
}
