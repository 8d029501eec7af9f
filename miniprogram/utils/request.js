// The request module: the only code that talks to wx.request and
// wx.uploadFile. It keeps the session (access + refresh token) in storage,
// renews it once for any number of requests that hit a 401 at the same time,
// retries each of those requests once, and turns every failure (an HTTP
// error body, a timeout, no network) into an ApiError with a message a
// person can read.
const config = require('../config')
const { ENDPOINTS } = require('./endpoints')

const STORAGE_KEYS = {
  access: 'wallpaperd.access_token',
  refresh: 'wallpaperd.refresh_token',
  user: 'wallpaperd.user',
  // signedOut is set by an explicit logout or account deletion: until the
  // user signs in again, no call logs in by itself.
  signedOut: 'wallpaperd.signed_out',
}

// The server's messages are English and written for developers; users get
// these, for every code the API documents and the ones this module makes
// itself. A code not listed here gets GENERIC with the request id, never
// the server's English.
const MESSAGES = {
  invalid_request: '请求有误，请检查输入',
  invalid_image: '图片无法读取，请换一张',
  unauthorized: '登录已失效，请重试',
  invalid_code: '微信登录失败，请重试',
  login_failed: '微信登录失败，请重试',
  login_unavailable: '请前往小程序使用完整服务',
  signed_out: '你已退出登录，请在「我的」页面重新登录',
  banned: '账号已被封禁，无法继续使用。如有疑问，请联系客服',
  not_banned: '账号未被封禁，请在「我的」页面注销账号',
  forbidden: '没有权限执行此操作',
  not_found: '内容不存在或已被删除',
  method_not_allowed: '暂不支持此操作，请更新小程序后重试',
  conflict: '请求冲突，请刷新后重试',
  payload_too_large: '文件太大，请选择 2 MB 以内的图片',
  unsupported_media_type: '不支持的图片格式',
  prompt_rejected: '描述未通过内容审核，请修改后重试',
  content_rejected: '内容未通过审核，请修改后重试',
  rate_limited: '操作太频繁，请稍后再试',
  method_not_allowed: '暂不支持此操作，请更新小程序后重试',
  quota_exceeded: '今日生成次数已用完，明天再来吧',
  // Only WeChat's message push (server to server) can meet these two.
  bad_signature: '签名校验失败',
  wrong_appid: '小程序标识不匹配',
  upstream_error: '服务繁忙，请稍后再试',
  unavailable: '服务暂时不可用，请稍后再试',
  internal_error: '服务器开小差了，请稍后再试',
  wechat_misconfigured: '服务器开小差了，请稍后再试',
  timeout: '网络超时，请重试',
  offline: '网络不可用，请检查网络连接',
  network_error: '网络异常，请重试',
  bad_response: '服务器返回了无法识别的数据',
}

// Why a generation failed (its error.code), said for the person who asked
// for it. The codes are the API's generation failure codes; a failed
// generation's quota unit is always returned, which the pages say apart.
const FAILURES = {
  content_policy: '图像模型认为描述不合适，请换个说法再试',
  content_rejected: '生成的图片未通过内容审核，请修改描述后再试',
  cancelled: '账号受限，本次生成已取消',
  upstream_rate_limited: '绘图服务太忙了，请稍后再试',
  upstream_unavailable: '绘图服务暂时不可用，请稍后再试',
  upstream_timeout: '绘图超时了，请稍后再试',
  upstream_billing: '绘图服务暂时不可用，请稍后再试',
  upstream_auth: '绘图服务暂时不可用，请稍后再试',
  upstream_rejected: '绘图服务拒绝了这次请求，请修改描述后再试',
  invalid_image: '生成的图片已损坏，请重试',
  storage_unavailable: '图片保存失败，请重试',
  internal_error: '生成时出了点问题，请重试',
}

// GENERIC is what any code without its own text gets; the request id lets
// whoever reads the server's logs find the call.
const GENERIC = '出错了，请稍后再试'

function genericMessage(requestId) {
  return requestId ? `${GENERIC}（编号 ${String(requestId).slice(0, 8)}）` : GENERIC
}

// messageFor answers the Chinese text for an API error code.
function messageFor(code, requestId) {
  return MESSAGES[code] || genericMessage(requestId)
}

// failureMessage answers why a failed generation failed, in Chinese.
function failureMessage(error) {
  const code = error && error.code
  return FAILURES[code] || MESSAGES[code] || '生成失败，请重试'
}

// waitText turns a Retry-After value (seconds) into words, or ''.
function waitText(retryAfter) {
  const seconds = Number(retryAfter)
  if (!Number.isFinite(seconds) || seconds <= 0) return ''
  if (seconds < 60) return `${Math.ceil(seconds)} 秒`
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} 分钟`
  return `${Math.ceil(seconds / 3600)} 小时`
}

// ApiError is what every failed call rejects with. statusCode is 0 when no
// HTTP response arrived (timeout, offline, DNS, TLS).
class ApiError extends Error {
  constructor({ statusCode = 0, code, message, serverMessage = '', requestId = '', retryAfter = '' }) {
    super(message || messageFor(code, requestId))
    this.name = 'ApiError'
    this.statusCode = statusCode
    this.code = code
    this.serverMessage = serverMessage
    this.requestId = requestId
    this.retryAfter = retryAfter
  }

  // isNetwork is true when the request may or may not have reached the
  // server: the caller can retry it (with the same Idempotency-Key).
  get isNetwork() {
    return this.statusCode === 0
  }
}

function isSuccess(statusCode) {
  return statusCode >= 200 && statusCode < 300
}

// parseBody accepts wx.request's already-parsed object and wx.uploadFile's
// raw string alike.
function parseBody(data) {
  if (typeof data !== 'string') return data
  if (data === '') return null
  try {
    return JSON.parse(data)
  } catch (err) {
    return undefined
  }
}

function headerValue(header, name) {
  if (!header) return ''
  const wanted = name.toLowerCase()
  const key = Object.keys(header).find((k) => k.toLowerCase() === wanted)
  return key ? String(header[key]) : ''
}

// errorFromResponse turns a non-2xx response with the API's
// {code, message, request_id} body into an ApiError. The server's message
// stays in serverMessage for the console: users read Chinese only.
function errorFromResponse(res) {
  const body = parseBody(res.data)
  const hasBody = body && typeof body === 'object'
  const code = hasBody && body.code ? String(body.code) : res.statusCode >= 500 ? 'internal_error' : `http_${res.statusCode}`
  const serverMessage = hasBody && body.message ? String(body.message) : ''
  const requestId = (hasBody && body.request_id) || headerValue(res.header, 'X-Request-ID')
  const retryAfter = headerValue(res.header, 'Retry-After')
  let message = messageFor(code, requestId)
  // A rate limit that says how long to wait says it to the user too.
  const wait = code === 'rate_limited' ? waitText(retryAfter) : ''
  if (wait) message = `操作太频繁，请 ${wait}后再试`
  return new ApiError({ statusCode: res.statusCode, code, message, serverMessage, requestId, retryAfter })
}

// networkError classifies a fail callback: a timeout says so in errMsg; for
// anything else the network type tells "offline" from "something broke".
function networkError(errMsg) {
  if (/timeout|timed out/i.test(errMsg || '')) {
    return Promise.resolve(new ApiError({ code: 'timeout', serverMessage: errMsg }))
  }
  return new Promise((resolve) => {
    const classify = (type) => resolve(new ApiError({ code: type === 'none' ? 'offline' : 'network_error', serverMessage: errMsg }))
    try {
      wx.getNetworkType({
        success: (res) => classify(res.networkType),
        fail: () => classify('unknown'),
      })
    } catch (err) {
      classify('unknown')
    }
  })
}

function buildQuery(query) {
  if (!query) return ''
  const parts = Object.keys(query)
    .filter((k) => query[k] !== undefined && query[k] !== null && query[k] !== '')
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(String(query[k]))}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

// createClient builds a client for one API base URL. The app uses the one
// exported as `client`; tests build their own so each starts clean.
function createClient(options = {}) {
  const baseURL = (options.baseURL || config.baseURL).replace(/\/+$/, '')
  const timeout = options.timeout || config.requestTimeoutMs
  const uploadTimeout = options.uploadTimeout || config.uploadTimeoutMs
  const devLoginCode = options.devLoginCode !== undefined ? options.devLoginCode : config.devLoginCode
  // The one renewal in flight; every 401 that arrives meanwhile waits on it.
  let renewing = null

  function accessToken() {
    return wx.getStorageSync(STORAGE_KEYS.access) || ''
  }

  function saveSession(body) {
    if (!body || !body.access_token || !body.refresh_token) {
      throw new ApiError({ code: 'bad_response' })
    }
    wx.setStorageSync(STORAGE_KEYS.access, body.access_token)
    wx.setStorageSync(STORAGE_KEYS.refresh, body.refresh_token)
    if (body.user) wx.setStorageSync(STORAGE_KEYS.user, body.user)
  }

  function clearSession() {
    wx.removeStorageSync(STORAGE_KEYS.access)
    wx.removeStorageSync(STORAGE_KEYS.refresh)
    wx.removeStorageSync(STORAGE_KEYS.user)
  }

  function headersFor(opts, token) {
    const header = Object.assign({}, opts.header)
    if (token) header.Authorization = `Bearer ${token}`
    if (opts.idempotencyKey) header['Idempotency-Key'] = opts.idempotencyKey
    return header
  }

  // transmit sends one HTTP request and resolves with the raw response for
  // any status; it rejects only when no response arrived.
  function transmit(opts, token) {
    const header = headersFor(opts, token)
    let method = opts.method || 'GET'
    if (method === 'PATCH') {
      // wx.request has no PATCH; the server maps this back for PATCH routes.
      method = 'POST'
      header['X-HTTP-Method-Override'] = 'PATCH'
    }
    return new Promise((resolve, reject) => {
      wx.request({
        url: baseURL + opts.path + buildQuery(opts.query),
        method,
        data: opts.data,
        header,
        timeout: opts.timeout || timeout,
        success: resolve,
        fail: (err) => networkError(err && err.errMsg).then(reject),
      })
    })
  }

  function transmitUpload(opts, token) {
    return new Promise((resolve, reject) => {
      wx.uploadFile({
        url: baseURL + opts.path,
        filePath: opts.filePath,
        name: opts.name || 'file',
        formData: opts.formData,
        header: headersFor(opts, token),
        timeout: opts.timeout || uploadTimeout,
        success: resolve,
        fail: (err) => networkError(err && err.errMsg).then(reject),
      })
    })
  }

  // developCode answers the configured dev login code, but only inside the
  // develop environment, so a forgotten setting cannot reach users.
  function developCode() {
    if (!devLoginCode) return ''
    try {
      return wx.getAccountInfoSync().miniProgram.envVersion === 'develop' ? devLoginCode : ''
    } catch (err) {
      return ''
    }
  }

  function wxLogin() {
    const dev = developCode()
    if (dev) return Promise.resolve(dev)
    // Moments' single-page mode has no login at all.
    if (typeof wx.login !== 'function') return Promise.reject(new ApiError({ code: 'login_unavailable' }))
    return new Promise((resolve, reject) => {
      wx.login({
        success: (res) => (res && res.code ? resolve(res.code) : reject(new ApiError({ code: 'login_failed', serverMessage: 'wx.login returned no code' }))),
        fail: (err) => reject(new ApiError({ code: 'login_failed', serverMessage: err && err.errMsg })),
      })
    })
  }

  async function login() {
    const code = await wxLogin()
    const res = await transmit({ method: ENDPOINTS.login.method, path: ENDPOINTS.login.path, data: { code } }, '')
    if (!isSuccess(res.statusCode)) throw errorFromResponse(res)
    saveSession(parseBody(res.data))
  }

  // renew trades the refresh token for a new pair; when the server refuses
  // it (expired, rotated, revoked) the user logs in again with wx.login,
  // which needs no tap in WeChat.
  async function renew() {
    const refreshToken = wx.getStorageSync(STORAGE_KEYS.refresh)
    if (refreshToken) {
      const res = await transmit({ method: ENDPOINTS.refresh.method, path: ENDPOINTS.refresh.path, data: { refresh_token: refreshToken } }, '')
      if (isSuccess(res.statusCode)) {
        saveSession(parseBody(res.data))
        return
      }
      // A 5xx or a 429 says nothing about the token: logging in would not
      // help, and would spend a wx.login code.
      if (res.statusCode >= 500 || res.statusCode === 429) throw errorFromResponse(res)
    }
    clearSession()
    await login()
  }

  // ensureFresh renews the session unless someone already replaced the token
  // this request was sent with; concurrent callers share one renewal.
  function ensureFresh(staleToken) {
    const current = accessToken()
    if (!renewing && current && current !== staleToken) return Promise.resolve()
    if (!renewing) {
      renewing = renew().finally(() => {
        renewing = null
      })
    }
    return renewing
  }

  // send runs one call with the session rules: attach the token, on a 401
  // renew once and retry once, never loop. auth is true (a session is
  // needed: log in if there is none), false (never send a token) or
  // 'optional' (send the token if there is one, never log in for it, and
  // fall back to no token when it cannot be renewed).
  async function send(opts, transport) {
    const mode = opts.auth === undefined ? true : opts.auth
    let token = mode ? accessToken() : ''
    if (mode === true && !token) {
      if (wx.getStorageSync(STORAGE_KEYS.signedOut)) throw new ApiError({ code: 'signed_out' })
      await ensureFresh('')
      token = accessToken()
    }
    let res = await transport(opts, token)
    if (res.statusCode === 401 && mode && token) {
      if (mode === true) {
        await ensureFresh(token)
        res = await transport(opts, accessToken())
      } else {
        const renewed = await ensureFresh(token).then(() => true, () => false)
        res = await transport(opts, renewed ? accessToken() : '')
      }
    }
    if (!isSuccess(res.statusCode)) throw errorFromResponse(res)
    const body = parseBody(res.data)
    if (body === undefined) throw new ApiError({ statusCode: res.statusCode, code: 'bad_response' })
    // withStatus: the caller tells answers apart by status (a replayed
    // report is 200, a new one 202).
    return opts.withStatus ? { statusCode: res.statusCode, body } : body
  }

  return {
    // request performs {method, path, query, data, header, auth,
    // idempotencyKey, timeout, withStatus} and resolves with the parsed
    // body (null for a 204), or {statusCode, body} with withStatus.
    request(opts) {
      return send(opts, transmit)
    },
    // upload posts a local file as multipart (field `name`, default "file").
    upload(opts) {
      return send(Object.assign({ method: 'POST' }, opts), transmitUpload)
    },
    // url answers the absolute URL of an API path, for the few answers that
    // are files (wx.downloadFile) rather than JSON.
    url(path, query) {
      return baseURL + path + buildQuery(query)
    },
    // loginCode answers a fresh wx.login code (the dev code in develop),
    // for the one call that takes a code without logging in: a banned
    // user's account deletion.
    loginCode() {
      return wxLogin()
    },
    // hasSession is true while tokens are stored.
    hasSession() {
      return Boolean(accessToken() || wx.getStorageSync(STORAGE_KEYS.refresh))
    },
    isSignedOut() {
      return Boolean(wx.getStorageSync(STORAGE_KEYS.signedOut))
    },
    // signIn is the user's explicit "log in" after a logout.
    async signIn() {
      wx.removeStorageSync(STORAGE_KEYS.signedOut)
      if (!accessToken()) await ensureFresh('')
    },
    // signOut forgets the session on this device and keeps calls from
    // logging in again by themselves until signIn.
    signOut() {
      clearSession()
      wx.setStorageSync(STORAGE_KEYS.signedOut, true)
    },
  }
}

// showError tells the user what went wrong, in a toast, and leaves the
// request id in the console for whoever reads the server's logs.
function showError(err, fallback) {
  // Only an ApiError's message is written for users; anything else is a
  // bug whose English stays in the console.
  const title = (err && err.name === 'ApiError' && err.message) || fallback || GENERIC
  if (err && err.name !== 'ApiError') console.warn(err)
  if (err && err.requestId) console.warn(`request ${err.requestId} failed: ${err.code} ${err.serverMessage || ''}`)
  wx.showToast({ title, icon: 'none', duration: 2500 })
}

module.exports = {
  ApiError,
  FAILURES,
  MESSAGES,
  failureMessage,
  messageFor,
  waitText,
  STORAGE_KEYS,
  createClient,
  errorFromResponse,
  showError,
  client: createClient(),
}
