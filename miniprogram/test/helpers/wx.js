// A stand-in for the WeChat runtime: in-memory storage, a wx.request /
// wx.uploadFile routed to a tiny fake wallpaperd (see server.js), and
// jest.fn stubs for the UI and device APIs the pages call. Responses are
// delivered on a later microtask, as the real callbacks are asynchronous.
const { createCanvas } = require('./canvas')

const BASE_URL = 'http://api.test'

function createWx(server, { networkType = 'wifi' } = {}) {
  const storage = new Map()
  const later = (fn) => Promise.resolve().then(fn)

  function dispatch(opts, extra) {
    const url = new URL(opts.url)
    const header = Object.assign({}, opts.header)
    return server.handle(
      Object.assign(
        {
          url: opts.url,
          wireMethod: (opts.method || 'GET').toUpperCase(),
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          header,
          body: opts.data,
          timeout: opts.timeout,
        },
        extra,
      ),
    )
  }

  function deliver(opts, result, shape) {
    later(() => {
      if (result.fail) {
        if (opts.fail) opts.fail({ errMsg: result.fail })
      } else if (opts.success) {
        opts.success(shape(result))
      }
      if (opts.complete) opts.complete()
    })
  }

  const wx = {
    networkType,

    getStorageSync: jest.fn((key) => (storage.has(key) ? storage.get(key) : '')),
    setStorageSync: jest.fn((key, value) => {
      storage.set(key, value)
    }),
    removeStorageSync: jest.fn((key) => {
      storage.delete(key)
    }),
    clearStorageSync: jest.fn(() => storage.clear()),

    request: jest.fn((opts) => {
      Promise.resolve(dispatch(opts)).then((result) =>
        deliver(opts, result, (r) => ({ statusCode: r.status, data: r.body === undefined ? '' : r.body, header: r.header || {} })),
      )
    }),

    // wx.uploadFile gives the body back as a string, unlike wx.request.
    uploadFile: jest.fn((opts) => {
      Promise.resolve(dispatch(Object.assign({ method: 'POST' }, opts), { file: { filePath: opts.filePath, name: opts.name }, body: opts.formData })).then((result) =>
        deliver(opts, result, (r) => ({ statusCode: r.status, data: r.body === undefined ? '' : JSON.stringify(r.body), header: r.header || {} })),
      )
    }),

    downloadFile: jest.fn((opts) => {
      later(() => opts.success && opts.success({ statusCode: 200, tempFilePath: `wxfile://tmp/${encodeURIComponent(opts.url)}` }))
    }),

    getNetworkType: jest.fn((opts) => later(() => opts.success && opts.success({ networkType: wx.networkType }))),

    // Tests run as a release build: wx.login, not the dev login code.
    envVersion: 'release',
    getAccountInfoSync: jest.fn(() => ({ miniProgram: { appId: 'touristappid', envVersion: wx.envVersion } })),
    login: jest.fn((opts) => later(() => opts.success && opts.success({ code: `code-${server.nextCode()}`, errMsg: 'login:ok' }))),

    saveImageToPhotosAlbum: jest.fn((opts) => later(() => opts.success && opts.success({ errMsg: 'saveImageToPhotosAlbum:ok' }))),
    openSetting: jest.fn((opts) => later(() => opts.success && opts.success({ authSetting: {} }))),
    // authSetting is what getSetting answers; authorize grants by default.
    authSetting: {},
    getSetting: jest.fn((opts) => later(() => opts.success && opts.success({ authSetting: Object.assign({}, wx.authSetting) }))),
    authorize: jest.fn((opts) =>
      later(() => {
        wx.authSetting[opts.scope] = true
        if (opts.success) opts.success({ errMsg: 'authorize:ok' })
      }),
    ),
    // subscribeAnswer is the user's answer in the subscribe dialog.
    subscribeAnswer: 'accept',
    requestSubscribeMessage: jest.fn((opts) =>
      later(() => {
        const res = { errMsg: 'requestSubscribeMessage:ok' }
        opts.tmplIds.forEach((id) => {
          res[id] = wx.subscribeAnswer
        })
        if (opts.success) opts.success(res)
      }),
    ),
    openPrivacyContract: jest.fn((opts) => later(() => opts && opts.success && opts.success({}))),
    // scene is the launch scene (1154: opened from Moments).
    scene: 1001,
    getLaunchOptionsSync: jest.fn(() => ({ scene: wx.scene, path: 'pages/gallery/gallery', query: {} })),
    // canvas is the canvas node pages find by selector (the poster's);
    // shareCanvas is detail's #sharecard, where the share cards are drawn.
    // Both record every drawing call (see canvas.js).
    canvas: createCanvas(),
    shareCanvas: createCanvas(),
    createSelectorQuery: jest.fn(() => {
      let selector = ''
      const query = {
        select: jest.fn((s) => {
          selector = s
          return query
        }),
        in: jest.fn(() => query),
        fields: jest.fn(() => query),
        exec: jest.fn((cb) => later(() => cb([{ node: selector === '#sharecard' ? wx.shareCanvas : wx.canvas, width: 1080, height: 1920 }]))),
      }
      return query
    }),
    // The poster's canvas exports poster.jpg; another exports a file named
    // by its size when exported (card-500x400.jpg).
    canvasToTempFilePath: jest.fn((opts) =>
      later(() => {
        const c = opts.canvas
        const tempFilePath = !c || c === wx.canvas ? 'wxfile://tmp/poster.jpg' : `wxfile://tmp/card-${c.width}x${c.height}.jpg`
        if (opts.success) opts.success({ tempFilePath })
      }),
    ),
    previewImage: jest.fn(),
    pageScrollTo: jest.fn(),
    setClipboardData: jest.fn((opts) => later(() => opts.success && opts.success({}))),
    showModal: jest.fn((opts) => later(() => opts.success && opts.success({ confirm: true, cancel: false }))),

    showToast: jest.fn(),
    showLoading: jest.fn(),
    hideLoading: jest.fn(),
    navigateTo: jest.fn(),
    redirectTo: jest.fn(),
    switchTab: jest.fn(),
    stopPullDownRefresh: jest.fn(),
    setNavigationBarTitle: jest.fn(),
    showShareMenu: jest.fn(),
    hideShareMenu: jest.fn(),
  }
  return wx
}

// Captured at load, before a test can install fake timers: flush must keep
// working while the pages' own timers are faked. jsdom has no setImmediate.
const realTick = typeof setImmediate === 'function' ? setImmediate : (fn) => setTimeout(fn, 0)

// flush lets every pending callback and promise chain run to its end. The
// fake runtime only uses microtasks, so a few macrotask turns are plenty.
async function flush(turns = 5) {
  for (let i = 0; i < turns; i++) {
    await new Promise((resolve) => realTick(resolve))
  }
}

module.exports = { BASE_URL, createWx, flush }
