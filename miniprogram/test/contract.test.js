// The contract check: every call the mini-program makes (utils/endpoints.js)
// must be documented in the backend's generated docs/swagger.json, method
// and path alike (path parameter names may differ: {id} vs {wallpaper_id}),
// and the fields the pages send and read must be in its schemas.
const fs = require('fs')
const path = require('path')
const { ENDPOINTS } = require('../utils/endpoints')

const SWAGGER = path.resolve(__dirname, '../../docs/swagger.json')

function normalise(p) {
  return p.replace(/\{[^}]+\}/g, '{}').replace(/\/+$/, '')
}

// documented lists "METHOD /full/path" for every operation in the spec.
function documented(spec) {
  const base = !spec.basePath || spec.basePath === '/' ? '' : spec.basePath.replace(/\/+$/, '')
  const ops = new Set()
  Object.keys(spec.paths || {}).forEach((p) => {
    Object.keys(spec.paths[p]).forEach((method) => {
      ops.add(`${method.toUpperCase()} ${normalise(base + p)}`)
    })
  })
  return ops
}

const spec = JSON.parse(fs.readFileSync(SWAGGER, 'utf8'))
const ops = documented(spec)

// operation finds the spec's operation for an endpoint of endpoints.js.
function operation(endpoint) {
  const base = !spec.basePath || spec.basePath === '/' ? '' : spec.basePath.replace(/\/+$/, '')
  const key = Object.keys(spec.paths || {}).find((p) => normalise(base + p) === normalise(endpoint.path))
  return key ? spec.paths[key][endpoint.method.toLowerCase()] : undefined
}

// resolve follows $ref and merges allOf, so nested and wrapped schemas read
// as plain objects.
function resolve(schema) {
  if (!schema) return undefined
  if (schema.$ref) return resolve(spec.definitions[schema.$ref.replace('#/definitions/', '')])
  if (schema.allOf) {
    const merged = { type: 'object', properties: Object.assign({}, schema.properties) }
    schema.allOf.forEach((part) => Object.assign(merged.properties, (resolve(part) || {}).properties))
    return merged
  }
  return schema
}

// hasField answers whether a dotted field path ("items[].author.nickname")
// exists in a schema.
function hasField(schema, field) {
  let node = resolve(schema)
  for (const part of field.split('.')) {
    const array = part.endsWith('[]')
    const name = array ? part.slice(0, -2) : part
    node = node && node.properties ? resolve(node.properties[name]) : undefined
    if (array) node = node && node.type === 'array' ? resolve(node.items) : undefined
    if (!node) return false
  }
  return true
}

test('docs/swagger.json is a Swagger 2.0 document', () => {
  expect(spec.swagger).toBe('2.0')
})

describe.each(Object.entries(ENDPOINTS))('%s', (name, endpoint) => {
  test(`${endpoint.method} ${endpoint.path} is documented`, () => {
    const op = `${endpoint.method} ${normalise(endpoint.path)}`
    expect({ endpoint: name, documented: ops.has(op) }).toEqual({ endpoint: name, documented: true })
  })
})

// What the pages read from each answer and send in each body. A field the
// backend renames or drops fails here, not on a phone.
const USED = {
  login: { status: '200', reads: ['access_token', 'refresh_token', 'user'], sends: ['code'] },
  refresh: { status: '200', reads: ['access_token', 'refresh_token'], sends: ['refresh_token'] },
  getMe: { status: '200', reads: ['id', 'nickname', 'avatar_url', 'quota.daily_limit', 'quota.used_today', 'quota.remaining'] },
  updateMe: { status: '200', reads: ['nickname'], sends: ['nickname'] },
  uploadAvatar: { status: '200', reads: ['avatar_url'], formData: ['file'] },
  createGeneration: { status: '202', reads: ['id', 'status', 'prompt'], sends: ['prompt', 'size', 'style'], headers: ['Idempotency-Key'] },
  getGeneration: { status: '200', reads: ['id', 'status', 'prompt', 'error.code', 'error.message', 'wallpaper.id', 'wallpaper.thumbnail_url'] },
  listWallpapers: {
    status: '200',
    reads: ['items[].id', 'items[].thumbnail_url', 'items[].like_count', 'items[].author.nickname', 'next_cursor'],
    query: ['limit', 'cursor'],
  },
  getWallpaper: {
    status: '200',
    reads: ['id', 'prompt', 'image_url', 'thumbnail_url', 'liked', 'like_count', 'width', 'height', 'model', 'author.nickname'],
  },
  updateWallpaper: { status: '200', reads: ['id', 'public', 'thumbnail_url'], sends: ['public'] },
  deleteWallpaper: { status: '204', reads: [] },
  likeWallpaper: { status: '200', reads: ['liked', 'like_count'] },
  unlikeWallpaper: { status: '200', reads: ['liked', 'like_count'] },
  listMyWallpapers: { status: '200', reads: ['items[].id', 'items[].public', 'items[].prompt', 'items[].thumbnail_url', 'next_cursor'], query: ['limit', 'cursor'] },
}

test('every endpoint has its fields listed here', () => {
  expect(Object.keys(USED).sort()).toEqual(Object.keys(ENDPOINTS).sort())
})

describe.each(Object.entries(USED))('%s fields', (name, used) => {
  const op = operation(ENDPOINTS[name])
  const params = (op && op.parameters) || []
  const response = op && op.responses && op.responses[used.status]

  test(`answers ${used.status} with ${used.reads.join(', ') || 'no body'}`, () => {
    expect(response).toBeDefined()
    const missing = used.reads.filter((field) => !hasField(response.schema, field))
    expect(missing).toEqual([])
  })

  test('takes what the mini-program sends', () => {
    const body = params.find((p) => p.in === 'body')
    const missing = [
      ...(used.sends || []).filter((field) => !body || !hasField(body.schema, field)).map((f) => `body ${f}`),
      ...(used.query || []).filter((q) => !params.some((p) => p.in === 'query' && p.name === q)).map((q) => `query ${q}`),
      ...(used.headers || []).filter((h) => !params.some((p) => p.in === 'header' && p.name === h)).map((h) => `header ${h}`),
      ...(used.formData || []).filter((f) => !params.some((p) => p.in === 'formData' && p.name === f)).map((f) => `formData ${f}`),
    ]
    expect(missing).toEqual([])
  })
})

test('errors are documented as {code, message, request_id}', () => {
  const op = operation(ENDPOINTS.getMe)
  const unauthorized = op && op.responses && op.responses['401']
  expect(unauthorized).toBeDefined()
  expect(['code', 'message', 'request_id'].filter((f) => !hasField(unauthorized.schema, f))).toEqual([])
})
