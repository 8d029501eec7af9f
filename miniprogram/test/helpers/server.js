// A tiny fake wallpaperd for the fake wx runtime: a route table keyed by
// method and path, the server's session rules (login, rotating refresh
// tokens, 401 for a missing or expired access token), the
// X-HTTP-Method-Override rule for PATCH, and a log of every call.
let requestSeq = 0

function error(status, code, message, header) {
  requestSeq += 1
  return { status, body: { code, message, request_id: `req-${requestSeq}` }, header }
}

function json(body, status = 200) {
  return { status, body }
}

function compile(path) {
  const keys = []
  const source = path.replace(/\{(\w+)\}/g, (_, key) => {
    keys.push(key)
    return '([^/]+)'
  })
  return { regex: new RegExp(`^${source}$`), keys }
}

function createServer() {
  const routes = []
  const calls = []
  const accessTokens = new Set()
  const refreshTokens = new Set()
  let codeSeq = 0
  let tokenSeq = 0

  // Like the real server, a new user has no nickname ("") until they set one.
  const user = { id: 'u-1', nickname: '', avatar_url: '', created_at: '2026-11-01T00:00:00Z' }

  function issue() {
    tokenSeq += 1
    const pair = { access_token: `at-${tokenSeq}`, refresh_token: `rt-${tokenSeq}` }
    accessTokens.add(pair.access_token)
    refreshTokens.add(pair.refresh_token)
    return Object.assign({ token_type: 'Bearer', expires_in: 7200, user }, pair)
  }

  const server = {
    calls,
    user,

    // route registers a handler; auth routes answer 401 by themselves when
    // the bearer token is missing or no longer valid, 'optional' routes
    // only when a token was sent and is not valid.
    route(method, path, handler, { auth = true } = {}) {
      routes.unshift(Object.assign({ method, path, handler, auth }, compile(path)))
      return server
    },

    async handle(req) {
      let method = req.wireMethod
      const override = req.header['X-HTTP-Method-Override']
      if (method === 'POST' && override && override.toUpperCase() === 'PATCH') method = 'PATCH'
      req.method = method
      calls.push(req)

      const route = routes.find((r) => r.method === method && r.regex.test(req.path))
      if (!route) return error(404, 'not_found', `no route ${method} ${req.path}`)
      const auth = req.header.Authorization || ''
      req.token = auth.startsWith('Bearer ') ? auth.slice(7) : ''
      const refused = route.auth === 'optional' ? req.token && !accessTokens.has(req.token) : route.auth && !accessTokens.has(req.token)
      if (refused) return error(401, 'unauthorized', 'missing or invalid access token')
      const match = route.regex.exec(req.path)
      req.params = {}
      route.keys.forEach((key, i) => {
        req.params[key] = decodeURIComponent(match[i + 1])
      })
      return route.handler(req)
    },

    nextCode() {
      codeSeq += 1
      return codeSeq
    },

    // expireAccessTokens makes every issued access token stale, as time does.
    expireAccessTokens() {
      accessTokens.clear()
    },

    revokeRefreshTokens() {
      refreshTokens.clear()
    },

    // callsTo lists the calls to one endpoint, by its logical method.
    callsTo(method, path) {
      return calls.filter((c) => c.method === method && c.path === path)
    },
  }

  server.route(
    'POST',
    '/api/v1/auth/login',
    (req) => {
      if (!req.body || !/^(code-\d+|dev-\w+)$/.test(req.body.code)) return error(401, 'invalid_code', 'invalid or used code')
      return json(issue())
    },
    { auth: false },
  )
  server.route(
    'POST',
    '/api/v1/auth/refresh',
    (req) => {
      const token = req.body && req.body.refresh_token
      if (!refreshTokens.has(token)) return error(401, 'unauthorized', 'refresh token expired or revoked')
      refreshTokens.delete(token)
      return json(issue())
    },
    { auth: false },
  )
  return server
}

// wallpaper builds a wallpaper as the API returns it (ai_generated is
// always true there, so the grids show their "AI生成" badge).
function wallpaper(n, fields) {
  return Object.assign(
    {
      id: `w-${n}`,
      prompt: `prompt ${n}`,
      size: '1024x1792',
      width: 1024,
      height: 1792,
      model: 'offline',
      image_url: `https://img.test/w-${n}.png`,
      thumbnail_url: `https://img.test/w-${n}.thumb.jpg`,
      public: true,
      ai_generated: true,
      like_count: n,
      liked: false,
      author: { id: 'u-2', nickname: `作者${n}`, avatar_url: '' },
      created_at: '2026-11-20T00:00:00Z',
    },
    fields,
  )
}

module.exports = { createServer, error, json, wallpaper }
