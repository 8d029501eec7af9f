// api.js is the API as the pages see it: one function per endpoint of
// utils/endpoints.js, each going through the shared request client.
const { client } = require('./request')
const { ENDPOINTS, expand } = require('./endpoints')

function call(name, { params, query, data, idempotencyKey } = {}) {
  const endpoint = ENDPOINTS[name]
  return client.request({
    method: endpoint.method,
    path: expand(endpoint.path, params),
    auth: endpoint.auth !== false,
    query,
    data,
    idempotencyKey,
  })
}

module.exports = {
  getMe: () => call('getMe'),
  updateMe: (fields) => call('updateMe', { data: fields }),
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
