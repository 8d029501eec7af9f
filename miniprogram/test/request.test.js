const { createServer, error, json } = require('./helpers/server')
const { BASE_URL, createWx, flush } = require('./helpers/wx')
const { createClient, STORAGE_KEYS, showError } = require('../utils/request')

let server
let client

beforeEach(() => {
  server = createServer()
  global.wx = createWx(server)
  client = createClient({ baseURL: BASE_URL, devLoginCode: '' })
  server.route('GET', '/api/v1/me', (req) => json({ id: 'u-1', token: req.token }))
})

afterEach(() => {
  delete global.wx
})

// loggedIn stores a session the fake server accepts, as a previous launch
// would have left it, and forgets the calls that made it.
function loggedIn() {
  const code = `code-${server.nextCode()}`
  return server.handle({ wireMethod: 'POST', path: '/api/v1/auth/login', header: {}, body: { code } }).then((res) => {
    wx.setStorageSync(STORAGE_KEYS.access, res.body.access_token)
    wx.setStorageSync(STORAGE_KEYS.refresh, res.body.refresh_token)
    server.calls.length = 0
    return res.body
  })
}

describe('session', () => {
  test('logs in with wx.login on the first authenticated call and attaches the token', async () => {
    const me = await client.request({ method: 'GET', path: '/api/v1/me' })

    expect(wx.login).toHaveBeenCalledTimes(1)
    expect(server.callsTo('POST', '/api/v1/auth/login')).toHaveLength(1)
    expect(me.token).toBe(wx.getStorageSync(STORAGE_KEYS.access))
    expect(wx.getStorageSync(STORAGE_KEYS.refresh)).toMatch(/^rt-/)
    expect(server.callsTo('GET', '/api/v1/me')[0].header.Authorization).toBe(`Bearer ${me.token}`)
  })

  const devCodes = [
    { name: 'uses the dev login code in the develop environment', env: 'develop', want: 'dev-alice' },
    { name: 'ignores the dev login code in a release build', env: 'release', want: 'code-1' },
    { name: 'ignores the dev login code in a trial build', env: 'trial', want: 'code-1' },
  ]
  devCodes.forEach((tc) => {
    test(tc.name, async () => {
      wx.envVersion = tc.env
      server.route('POST', '/api/v1/auth/login', (req) => {
        seen = req.body.code
        return { status: 401, body: { code: 'invalid_code', message: 'no', request_id: 'r' } }
      }, { auth: false })
      let seen = ''
      const devClient = createClient({ baseURL: BASE_URL, devLoginCode: 'dev-alice' })

      await expect(devClient.request({ method: 'GET', path: '/api/v1/me' })).rejects.toMatchObject({ code: 'invalid_code' })

      expect(seen).toBe(tc.want)
      expect(wx.login).toHaveBeenCalledTimes(tc.want === 'dev-alice' ? 0 : 1)
    })
  })

  test('sends no token and never logs in for a public call', async () => {
    server.route('GET', '/api/v1/wallpapers', (req) => json({ items: [], next_cursor: null, auth: req.header.Authorization || '' }), { auth: false })

    const page = await client.request({ method: 'GET', path: '/api/v1/wallpapers', auth: false, query: { limit: 20, cursor: '' } })

    expect(page.auth).toBe('')
    expect(wx.login).not.toHaveBeenCalled()
    expect(server.calls[0].url).toBe(`${BASE_URL}/api/v1/wallpapers?limit=20`)
  })

  test('uses the stored token without logging in', async () => {
    const pair = await loggedIn()

    const me = await client.request({ method: 'GET', path: '/api/v1/me' })

    expect(me.token).toBe(pair.access_token)
    expect(wx.login).not.toHaveBeenCalled()
  })

  test('N concurrent 401s share one refresh, then each request is retried once', async () => {
    const old = await loggedIn()
    server.expireAccessTokens()

    const results = await Promise.all([1, 2, 3, 4, 5].map(() => client.request({ method: 'GET', path: '/api/v1/me' })))

    expect(server.callsTo('POST', '/api/v1/auth/refresh')).toHaveLength(1)
    expect(server.callsTo('POST', '/api/v1/auth/refresh')[0].body).toEqual({ refresh_token: old.refresh_token })
    expect(wx.login).not.toHaveBeenCalled()
    expect(server.callsTo('GET', '/api/v1/me')).toHaveLength(10)
    const fresh = wx.getStorageSync(STORAGE_KEYS.access)
    expect(fresh).not.toBe(old.access_token)
    results.forEach((me) => expect(me.token).toBe(fresh))
  })

  test('N concurrent 401s with a dead refresh token share one wx.login', async () => {
    await loggedIn()
    server.expireAccessTokens()
    server.revokeRefreshTokens()

    const results = await Promise.all([1, 2, 3].map(() => client.request({ method: 'GET', path: '/api/v1/me' })))

    expect(server.callsTo('POST', '/api/v1/auth/refresh')).toHaveLength(1)
    expect(wx.login).toHaveBeenCalledTimes(1)
    expect(server.callsTo('POST', '/api/v1/auth/login')).toHaveLength(1)
    results.forEach((me) => expect(me.token).toBe(wx.getStorageSync(STORAGE_KEYS.access)))
  })

  test('concurrent first calls without any session share one login', async () => {
    await Promise.all([1, 2, 3, 4].map(() => client.request({ method: 'GET', path: '/api/v1/me' })))

    expect(wx.login).toHaveBeenCalledTimes(1)
    expect(server.callsTo('GET', '/api/v1/me')).toHaveLength(4)
  })

  test('a second 401 after the retry is an error, not a loop', async () => {
    await loggedIn()
    server.route('GET', '/api/v1/me', () => error(401, 'unauthorized', 'token revoked'), { auth: false })

    await expect(client.request({ method: 'GET', path: '/api/v1/me' })).rejects.toMatchObject({ statusCode: 401, code: 'unauthorized' })

    expect(server.callsTo('GET', '/api/v1/me')).toHaveLength(2)
    expect(server.callsTo('POST', '/api/v1/auth/refresh')).toHaveLength(1)
    expect(wx.login).not.toHaveBeenCalled()
  })

  test('a refresh the server cannot answer is an error, without a new login', async () => {
    await loggedIn()
    server.expireAccessTokens()
    server.route('POST', '/api/v1/auth/refresh', () => error(503, 'unavailable', 'database unavailable'), { auth: false })

    const results = await Promise.allSettled([1, 2].map(() => client.request({ method: 'GET', path: '/api/v1/me' })))

    results.forEach((r) => expect(r).toMatchObject({ status: 'rejected', reason: { statusCode: 503, code: 'unavailable' } }))
    expect(server.callsTo('POST', '/api/v1/auth/refresh')).toHaveLength(1)
    expect(wx.login).not.toHaveBeenCalled()
    expect(wx.getStorageSync(STORAGE_KEYS.refresh)).not.toBe('')
  })

  test('a failed login rejects every waiting request with the login error', async () => {
    wx.login.mockImplementation((opts) => Promise.resolve().then(() => opts.fail({ errMsg: 'login:fail' })))

    const calls = [1, 2].map(() => client.request({ method: 'GET', path: '/api/v1/me' }))

    await expect(calls[0]).rejects.toMatchObject({ code: 'login_failed' })
    await expect(calls[1]).rejects.toMatchObject({ code: 'login_failed' })
    expect(wx.login).toHaveBeenCalledTimes(1)
    expect(server.callsTo('GET', '/api/v1/me')).toHaveLength(0)
  })

  test('a 401 answered after another request already renewed retries without renewing again', async () => {
    const old = await loggedIn()
    server.expireAccessTokens()
    let release
    const gate = new Promise((resolve) => {
      release = resolve
    })
    server.route('GET', '/api/v1/slow', async () => {
      await gate
      return error(401, 'unauthorized', 'expired')
    }, { auth: false })

    const slow = client.request({ method: 'GET', path: '/api/v1/slow' })
    await flush()
    await client.request({ method: 'GET', path: '/api/v1/me' }) // renews
    server.route('GET', '/api/v1/slow', (req) => json({ token: req.token }))
    release()
    const body = await slow

    expect(body.token).not.toBe(old.access_token)
    expect(server.callsTo('POST', '/api/v1/auth/refresh')).toHaveLength(1)
  })
})

describe('optional auth', () => {
  function serveOptional() {
    server.route('GET', '/api/v1/wallpapers/{id}', (req) => json({ id: req.params.id, liked: Boolean(req.token), token: req.token }), { auth: 'optional' })
  }

  test('sends no token and never logs in when there is no session', async () => {
    serveOptional()

    const w = await client.request({ method: 'GET', path: '/api/v1/wallpapers/w-1', auth: 'optional' })

    expect(w).toMatchObject({ liked: false, token: '' })
    expect(wx.login).not.toHaveBeenCalled()
    expect(server.callsTo('POST', '/api/v1/auth/login')).toHaveLength(0)
  })

  test('sends the stored token so the answer is personal', async () => {
    const pair = await loggedIn()
    serveOptional()

    const w = await client.request({ method: 'GET', path: '/api/v1/wallpapers/w-1', auth: 'optional' })

    expect(w).toMatchObject({ liked: true, token: pair.access_token })
  })

  test('renews an expired token once, and falls back to no token when it cannot be renewed', async () => {
    await loggedIn()
    server.expireAccessTokens()
    serveOptional()
    server.route('POST', '/api/v1/auth/refresh', () => error(503, 'unavailable', 'down'), { auth: false })

    const w = await client.request({ method: 'GET', path: '/api/v1/wallpapers/w-1', auth: 'optional' })

    expect(w).toMatchObject({ token: '' })
    expect(server.callsTo('GET', '/api/v1/wallpapers/w-1')).toHaveLength(2)
    expect(server.callsTo('POST', '/api/v1/auth/refresh')).toHaveLength(1)
  })

  test('without wx.login (single-page mode) an authenticated call fails in Chinese instead of logging in', async () => {
    wx.login = undefined

    const err = await client.request({ method: 'GET', path: '/api/v1/me' }).catch((e) => e)

    expect(err).toMatchObject({ code: 'login_unavailable', message: '请前往小程序使用完整服务' })
  })
})

describe('sign out', () => {
  test('signOut clears the tokens and keeps calls from logging in until signIn', async () => {
    await loggedIn()

    client.signOut()
    expect(wx.getStorageSync(STORAGE_KEYS.access)).toBe('')
    expect(wx.getStorageSync(STORAGE_KEYS.refresh)).toBe('')

    const err = await client.request({ method: 'GET', path: '/api/v1/me' }).catch((e) => e)
    expect(err).toMatchObject({ code: 'signed_out', message: '你已退出登录，请在「我的」页面重新登录' })
    expect(wx.login).not.toHaveBeenCalled()

    await client.signIn()
    await expect(client.request({ method: 'GET', path: '/api/v1/me' })).resolves.toMatchObject({ id: 'u-1' })
    expect(wx.login).toHaveBeenCalledTimes(1)
  })
})

describe('transport', () => {
  test('PATCH goes out as POST with X-HTTP-Method-Override', async () => {
    server.route('PATCH', '/api/v1/me', (req) => json({ nickname: req.body.nickname }))

    const user = await client.request({ method: 'PATCH', path: '/api/v1/me', data: { nickname: '小明' } })

    expect(user.nickname).toBe('小明')
    const call = server.callsTo('PATCH', '/api/v1/me')[0]
    expect(call.wireMethod).toBe('POST')
    expect(call.header['X-HTTP-Method-Override']).toBe('PATCH')
  })

  test('sends the Idempotency-Key header when given', async () => {
    server.route('POST', '/api/v1/generations', (req) => json({ id: 'g-1', status: 'queued', key: req.header['Idempotency-Key'] }, 202))

    const gen = await client.request({ method: 'POST', path: '/api/v1/generations', data: { prompt: 'x' }, idempotencyKey: 'k-1' })

    expect(gen.key).toBe('k-1')
  })

  test('a 204 resolves with null', async () => {
    server.route('DELETE', '/api/v1/wallpapers/{id}', () => ({ status: 204 }))

    await expect(client.request({ method: 'DELETE', path: '/api/v1/wallpapers/w-1' })).resolves.toBeNull()
  })

  test('upload sends the file as multipart field "file" and parses the string body', async () => {
    server.route('POST', '/api/v1/me/avatar', (req) => json({ id: 'u-1', avatar_url: `https://img.test/${req.file.name}` }))

    const user = await client.upload({ path: '/api/v1/me/avatar', filePath: 'wxfile://tmp/a.png', name: 'file' })

    expect(user.avatar_url).toBe('https://img.test/file')
    expect(wx.uploadFile).toHaveBeenCalledWith(expect.objectContaining({ filePath: 'wxfile://tmp/a.png', name: 'file' }))
    expect(server.callsTo('POST', '/api/v1/me/avatar')[0].header.Authorization).toMatch(/^Bearer at-/)
  })

  test('upload renews the session on a 401 and retries once', async () => {
    await loggedIn()
    server.expireAccessTokens()
    server.route('POST', '/api/v1/me/avatar', () => json({ id: 'u-1' }))

    await expect(client.upload({ path: '/api/v1/me/avatar', filePath: 'wxfile://tmp/a.png' })).resolves.toEqual({ id: 'u-1' })
    expect(server.callsTo('POST', '/api/v1/me/avatar')).toHaveLength(2)
    expect(server.callsTo('POST', '/api/v1/auth/refresh')).toHaveLength(1)
  })
})

describe('errors', () => {
  const cases = [
    {
      name: 'known code gets the readable message',
      response: () => error(429, 'quota_exceeded', 'daily quota exceeded', { 'Retry-After': '3600' }),
      want: { statusCode: 429, code: 'quota_exceeded', message: '今日生成次数已用完，明天再来吧', serverMessage: 'daily quota exceeded', retryAfter: '3600' },
    },
    {
      name: 'an unknown code gets the Chinese generic message with the request id, never the English one',
      response: () => ({ status: 400, body: { code: 'nickname_too_long', message: 'nickname must be 1-32 characters', request_id: '4f9c2a1e-2d1b-4f0e' } }),
      want: { statusCode: 400, code: 'nickname_too_long', message: '出错了，请稍后再试（编号 4f9c2a1e）', serverMessage: 'nickname must be 1-32 characters' },
    },
    {
      name: 'a banned user is told so',
      response: () => error(403, 'banned', 'this account is banned'),
      want: { statusCode: 403, code: 'banned', message: '账号已被封禁，无法继续使用。如有疑问，请联系客服' },
    },
    {
      name: 'a rate limit with Retry-After says how long to wait',
      response: () => error(429, 'rate_limited', 'slow down', { 'Retry-After': '30' }),
      want: { statusCode: 429, code: 'rate_limited', message: '操作太频繁，请 30 秒后再试', retryAfter: '30' },
    },
    {
      name: 'a body that is not the error shape still gives a message',
      response: () => ({ status: 502, body: '<html>bad gateway</html>' }),
      want: { statusCode: 502, code: 'internal_error', message: '服务器开小差了，请稍后再试' },
    },
    {
      name: 'a 4xx without a body gets the generic message, with the request id of the header',
      response: () => ({ status: 418, header: { 'X-Request-ID': 'abcdef0123456789' } }),
      want: { statusCode: 418, code: 'http_418', message: '出错了，请稍后再试（编号 abcdef01）', requestId: 'abcdef0123456789' },
    },
  ]
  cases.forEach((tc) => {
    test(tc.name, async () => {
      server.route('GET', '/api/v1/thing', tc.response, { auth: false })

      const err = await client.request({ method: 'GET', path: '/api/v1/thing', auth: false }).catch((e) => e)

      expect(err).toMatchObject(tc.want)
      expect(err.isNetwork).toBe(false)
    })
  })

  test('the request id of the error body is kept', async () => {
    server.route('GET', '/api/v1/thing', () => error(404, 'not_found', 'wallpaper not found'), { auth: false })

    const err = await client.request({ method: 'GET', path: '/api/v1/thing', auth: false }).catch((e) => e)

    expect(err.requestId).toMatch(/^req-/)
    expect(err.message).toBe('内容不存在或已被删除')
  })

  test('a timeout is reported as such', async () => {
    server.route('GET', '/api/v1/thing', () => ({ fail: 'request:fail timeout' }), { auth: false })

    const err = await client.request({ method: 'GET', path: '/api/v1/thing', auth: false }).catch((e) => e)

    expect(err).toMatchObject({ statusCode: 0, code: 'timeout', message: '网络超时，请重试' })
    expect(err.isNetwork).toBe(true)
  })

  test('a failure while offline says the network is off', async () => {
    wx.networkType = 'none'
    server.route('GET', '/api/v1/thing', () => ({ fail: 'request:fail -2:net::ERR_INTERNET_DISCONNECTED' }), { auth: false })

    const err = await client.request({ method: 'GET', path: '/api/v1/thing', auth: false }).catch((e) => e)

    expect(err).toMatchObject({ statusCode: 0, code: 'offline', message: '网络不可用，请检查网络连接' })
  })

  test('any other failure is a generic network error', async () => {
    server.route('GET', '/api/v1/thing', () => ({ fail: 'request:fail ssl hand shake error' }), { auth: false })

    const err = await client.request({ method: 'GET', path: '/api/v1/thing', auth: false }).catch((e) => e)

    expect(err).toMatchObject({ statusCode: 0, code: 'network_error' })
  })

  test('showError never shows the text of an error that is not an ApiError', () => {
    showError(new Error('missing path parameter id for /api/v1/wallpapers/{id}'))

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '出错了，请稍后再试', icon: 'none' }))
  })

  test('showError puts the message in a toast', async () => {
    server.route('GET', '/api/v1/thing', () => error(403, 'forbidden', 'not yours'), { auth: false })
    const err = await client.request({ method: 'GET', path: '/api/v1/thing', auth: false }).catch((e) => e)

    showError(err)

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '没有权限执行此操作', icon: 'none' }))
    expect(console.warn).toHaveBeenCalledWith(expect.stringContaining(err.requestId))
  })
})
