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
}

// The server's messages are English and written for developers; users get
// these. A code not listed here falls back to the server's message.
const MESSAGES = {
  invalid_request: '请求有误，请检查输入',
  unauthorized: '登录已失效，请重试',
  invalid_code: '微信登录失败，请重试',
  login_failed: '微信登录失败，请重试',
  forbidden: '没有权限执行此操作',
  not_found: '内容不存在或已被删除',
  conflict: '请求冲突，请刷新后重试',
  payload_too_large: '文件太大，请选择 2 MB 以内的图片',
  unsupported_media_type: '不支持的图片格式',
  prompt_rejected: '描述未通过内容审核，请修改后重试',
  content_rejected: '内容未通过审核，请修改后重试',
  rate_limited: '操作太频繁，请稍后再试',
  method_not_allowed: '暂不支持此操作，请更新小程序后重试',
  quota_exceeded: '今日生成次数已用完，明天再来吧',
  upstream_error: '服务繁忙，请稍后再试',
  unavailable: '服务暂时不可用，请稍后再试',
  internal_error: '服务器开小差了，请稍后再试',
  timeout: '网络超时，请重试',
  offline: '网络不可用，请检查网络连接',
  network_error: '网络异常，请重试',
  bad_response: '服务器返回了无法识别的数据',
}

// ApiError is what every failed call rejects with. statusCode is 0 when no
// HTTP response arrived (timeout, offline, DNS, TLS).
class ApiError extends Error {
  constructor({ statusCode = 0, code, message, serverMessage = '', requestId = '', retryAfter = '' }) {
    super(message || MESSAGES[code] || '请求失败')
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
// {code, message, request_id} body into an ApiError.
function errorFromResponse(res) {
  const body = parseBody(res.data)
  const hasBody = body && typeof body === 'object'
  const code = hasBody && body.code ? body.code : res.statusCode >= 500 ? 'internal_error' : `http_${res.statusCode}`
  const serverMessage = hasBody && body.message ? String(body.message) : ''
  return new ApiError({
    statusCode: res.statusCode,
    code,
    message: MESSAGES[code] || serverMessage || `请求失败（${res.statusCode}）`,
    serverMessage,
    requestId: (hasBody && body.request_id) || headerValue(res.header, 'X-Request-ID'),
    retryAfter: headerValue(res.header, 'Retry-After'),
  })
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
  // renew once and retry once, never loop.
  async function send(opts, transport) {
    const auth = opts.auth !== false
    let token = auth ? accessToken() : ''
    if (auth && !token) {
      await ensureFresh('')
      token = accessToken()
    }
    let res = await transport(opts, token)
    if (res.statusCode === 401 && auth) {
      await ensureFresh(token)
      res = await transport(opts, accessToken())
    }
    if (!isSuccess(res.statusCode)) throw errorFromResponse(res)
    const body = parseBody(res.data)
    if (body === undefined) throw new ApiError({ statusCode: res.statusCode, code: 'bad_response' })
    return body
  }

  return {
    // request performs {method, path, query, data, header, auth,
    // idempotencyKey, timeout} and resolves with the parsed body (null for
    // a 204).
    request(opts) {
      return send(opts, transmit)
    },
    // upload posts a local file as multipart (field `name`, default "file").
    upload(opts) {
      return send(Object.assign({ method: 'POST' }, opts), transmitUpload)
    },
  }
}

// showError tells the user what went wrong, in a toast, and leaves the
// request id in the console for whoever reads the server's logs.
function showError(err, fallback) {
  const title = (err && err.message) || fallback || '出错了，请重试'
  if (err && err.requestId) console.warn(`request ${err.requestId} failed: ${err.code} ${err.serverMessage || ''}`)
  wx.showToast({ title, icon: 'none', duration: 2500 })
}

module.exports = {
  ApiError,
  MESSAGES,
  STORAGE_KEYS,
  createClient,
  errorFromResponse,
  showError,
  client: createClient(),
}
