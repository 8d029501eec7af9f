// A wx runtime whose network is real: wx.request and wx.uploadFile go over
// HTTP (Node's fetch) to a running wallpaperd, with wx's semantics — success
// for any status, a JSON body parsed, uploadFile's body left as a string,
// fail only when no response came. Used by live.test.js.
const fs = require('fs')
const path = require('path')

function createLiveWx() {
  const storage = new Map()

  function failure(opts, prefix, err) {
    const reason = err && err.name === 'TimeoutError' ? 'timeout' : (err && err.message) || 'unknown'
    if (opts.fail) opts.fail({ errMsg: `${prefix}:fail ${reason}` })
  }

  async function answer(res, parseJson) {
    const text = await res.text()
    let data = text
    if (parseJson && /json/.test(res.headers.get('content-type') || '') && text) data = JSON.parse(text)
    return { statusCode: res.status, data, header: Object.fromEntries(res.headers.entries()) }
  }

  return {
    envVersion: 'develop',
    getAccountInfoSync: () => ({ miniProgram: { appId: 'touristappid', envVersion: 'develop' } }),
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
    getNetworkType: (opts) => opts.success({ networkType: 'wifi' }),
    login: (opts) => opts.fail({ errMsg: 'login:fail not available outside WeChat' }),

    request(opts) {
      const header = Object.assign({ 'Content-Type': 'application/json' }, opts.header)
      const hasBody = opts.data !== undefined && opts.method !== 'GET'
      fetch(opts.url, {
        method: opts.method || 'GET',
        headers: header,
        body: hasBody ? JSON.stringify(opts.data) : undefined,
        signal: AbortSignal.timeout(opts.timeout || 60000),
      })
        .then((res) => answer(res, true))
        .then((res) => opts.success && opts.success(res), (err) => failure(opts, 'request', err))
    },

    uploadFile(opts) {
      const form = new FormData()
      Object.entries(opts.formData || {}).forEach(([k, v]) => form.append(k, v))
      form.append(opts.name, new Blob([fs.readFileSync(opts.filePath)]), path.basename(opts.filePath))
      fetch(opts.url, { method: 'POST', headers: opts.header, body: form, signal: AbortSignal.timeout(opts.timeout || 60000) })
        .then((res) => answer(res, false))
        .then((res) => opts.success && opts.success(res), (err) => failure(opts, 'uploadFile', err))
    },
  }
}

module.exports = { createLiveWx }
