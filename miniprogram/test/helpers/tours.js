// Tours of every page for the contract test: each page is driven through
// its states (load, paging, refresh, submit, polling, failure, retry,
// share, poster, report, account) against a fake server that answers with
// complete objects of the launch API, while the tracer records what the
// code reads and what it sends. What a tour does not reach is not
// checked, so contract.test.js also requires every endpoint the page code
// names to have been called by its tour.
const { createServer, error, json } = require('./server')
const { createWx, flush } = require('./wx')
const { loadPage, tap } = require('./page')
const { ENDPOINTS } = require('../../utils/endpoints')

// endpointOf names the endpoint of utils/endpoints.js a call went to.
function endpointOf(method, path) {
  return Object.keys(ENDPOINTS).find((name) => {
    const e = ENDPOINTS[name]
    const re = new RegExp(`^${e.path.replace(/\{\w+\}/g, '[^/]+')}$`)
    return e.method === method && re.test(path)
  })
}

function wallpaperOf(n, fields) {
  return Object.assign(
    {
      id: `w-${n}`,
      prompt: `雨夜霓虹 ${n}`,
      size: '1024x1792',
      width: 1024,
      height: 1792,
      model: 'offline',
      provider: 'offline',
      preset: 'pixel',
      ai_generated: true,
      review: 'approved',
      params: { quality: 'standard', style: 'vivid' },
      image_url: `https://img.test/w-${n}.png`,
      thumbnail_url: `https://img.test/w-${n}.thumb.jpg`,
      public: true,
      like_count: n,
      liked: false,
      author: { id: 'u-2', nickname: `作者${n}`, avatar_url: 'https://img.test/a.png' },
      created_at: '2026-11-20T00:00:00Z',
    },
    fields,
  )
}

function generationOf(id, fields) {
  return Object.assign(
    {
      id,
      status: 'queued',
      prompt: '雪山日出',
      size: '1024x1792',
      style: 'vivid',
      quality: 'standard',
      public: true,
      preset: 'guofeng',
      attempts: 0,
      created_at: '2026-11-23T05:00:00Z',
    },
    fields,
  )
}

// createTourServer is the fake wallpaperd with every endpoint the
// mini-program calls; state lets a tour move generations along.
function createTourServer() {
  const server = createServer()
  const state = {
    generations: [
      generationOf('g-3', { status: 'running' }),
      generationOf('g-2', { status: 'failed', finished_at: '2026-11-23T05:01:00Z', error: { code: 'upstream_timeout', message: 'took too long' } }),
      generationOf('g-1', { status: 'succeeded', finished_at: '2026-11-23T05:01:00Z', wallpaper: wallpaperOf(1, { review: 'pending' }) }),
    ],
    feed: Array.from({ length: 30 }, (_, i) => wallpaperOf(30 - i)),
    mine: Array.from({ length: 25 }, (_, i) => wallpaperOf(60 - i, { author: { id: 'u-1', nickname: '我', avatar_url: '' }, review: i % 2 ? 'approved' : 'pending', public: i % 3 !== 0 })),
    seq: 10,
  }
  const user = server.user
  const quota = { daily_limit: 10, used_today: 3, remaining: 7, resets_at: '2026-11-24T00:00:00+08:00' }
  const page = (list, req) => {
    const start = req.query.cursor ? Number(req.query.cursor) : 0
    const limit = Number(req.query.limit || 20)
    return json({ items: list.slice(start, start + limit), next_cursor: start + limit < list.length ? String(start + limit) : null })
  }

  server.route('POST', '/api/v1/auth/logout', () => ({ status: 204 }))
  server.route('GET', '/api/v1/me', () => json(Object.assign({}, user, { quota })))
  server.route('PATCH', '/api/v1/me', (req) => json(Object.assign(user, { nickname: req.body.nickname })))
  server.route('DELETE', '/api/v1/me', () => ({ status: 204 }))
  server.route('POST', '/api/v1/auth/delete-account', () => ({ status: 204 }), { auth: false })
  server.route('POST', '/api/v1/me/avatar', () => json(Object.assign(user, { avatar_url: 'https://img.test/avatars/u-1.png' })))
  server.route('GET', '/api/v1/client-config', () =>
    json({ subscribe_template_id: 'tmpl-ready', sizes: ['1024x1792', '1792x1024', '1024x1024'], presets_version: 'v1', daily_limit: 10, reports_enabled: true, report_response_hours: 24 }),
  { auth: false })
  server.route('GET', '/api/v1/presets', () =>
    json([
      { id: 'guofeng', name: '国风', description: '水墨与工笔', cover_url: 'https://img.test/p/guofeng.jpg' },
      { id: 'pixel', name: '像素', description: '8 位像素风', cover_url: 'https://img.test/p/pixel.jpg' },
    ]),
  { auth: false })
  server.route('POST', '/api/v1/generations', (req) => {
    state.seq += 1
    const g = generationOf(`g-${state.seq}`, { prompt: req.body.prompt, size: req.body.size, style: req.body.style, quality: req.body.quality, public: req.body.public !== false, preset: req.body.preset || null })
    state.generations.unshift(g)
    return json(g, 202)
  })
  server.route('GET', '/api/v1/generations/{id}', (req) => {
    const g = state.generations.find((x) => x.id === req.params.id)
    return g ? json(g) : error(404, 'not_found', 'generation not found')
  })
  server.route('GET', '/api/v1/me/generations', (req) => page(state.generations, req))
  server.route('GET', '/api/v1/me/wallpapers', (req) => page(state.mine, req))
  server.route('GET', '/api/v1/wallpapers', (req) => page(state.feed, req), { auth: 'optional' })
  server.route('GET', '/api/v1/wallpapers/{id}', (req) => {
    const w = state.feed.concat(state.mine).find((x) => x.id === req.params.id)
    return w ? json(w) : error(404, 'not_found', 'wallpaper not found')
  }, { auth: 'optional' })
  server.route('PATCH', '/api/v1/wallpapers/{id}', (req) => {
    const w = state.mine.find((x) => x.id === req.params.id)
    w.public = req.body.public
    return json(w)
  })
  server.route('DELETE', '/api/v1/wallpapers/{id}', (req) => {
    state.mine = state.mine.filter((x) => x.id !== req.params.id)
    return { status: 204 }
  })
  server.route('PUT', '/api/v1/wallpapers/{id}/like', () => json({ liked: true, like_count: 5 }))
  server.route('DELETE', '/api/v1/wallpapers/{id}/like', () => json({ liked: false, like_count: 4 }))
  server.route('POST', '/api/v1/wallpapers/{id}/reports', (req) => json(Object.assign({ id: 'r-1', created_at: '2026-11-23T05:00:00Z' }, req.body), 202))
  return { server, state }
}

// tourWx is the fake runtime with its network traced: each answer body
// reaches the code wrapped by the tracer (error bodies under "#error"),
// and each call is logged with its endpoint (file downloads included).
function tourWx(server, tracer, wire) {
  const wx = createWx(server)
  const request = wx.request
  wx.request = jest.fn((opts) => {
    const url = new URL(opts.url)
    const method = opts.header && opts.header['X-HTTP-Method-Override'] ? opts.header['X-HTTP-Method-Override'] : opts.method || 'GET'
    const endpoint = endpointOf(method, url.pathname)
    wire.push({ endpoint, body: opts.data, query: Object.fromEntries(url.searchParams), header: Object.assign({}, opts.header) })
    request(
      Object.assign({}, opts, {
        success: (res) => opts.success(Object.assign({}, res, { data: tracer.wrap(res.data, res.statusCode < 300 ? endpoint : '#error') })),
      }),
    )
  })
  const uploadFile = wx.uploadFile
  wx.uploadFile = jest.fn((opts) => {
    const url = new URL(opts.url)
    const endpoint = endpointOf('POST', url.pathname)
    wire.push({ endpoint, formData: [opts.name], header: Object.assign({}, opts.header) })
    uploadFile(
      Object.assign({}, opts, {
        success: (res) => opts.success(Object.assign({}, res, { data: tracer.wrap(JSON.parse(res.data || 'null'), res.statusCode < 300 ? endpoint : '#error') })),
      }),
    )
  })
  const downloadFile = wx.downloadFile
  wx.downloadFile = jest.fn((opts) => {
    const url = new URL(opts.url)
    wire.push({ endpoint: endpointOf('GET', url.pathname) || 'image host', file: true })
    downloadFile(opts)
  })
  return wx
}

function open(tracer, route, query) {
  const page = tracer.traced(route, loadPage(route))
  page.onLoad(query || {})
  page.onShow()
  return page
}

async function advance(ms) {
  jest.advanceTimersByTime(ms)
  await flush()
}

// The tours, one per page (the request module's own calls, login and
// refresh, happen on the way).
const TOURS = {
  'pages/gallery/gallery': async (tracer) => {
    const page = open(tracer, 'pages/gallery/gallery')
    await flush()
    await page.onReachBottom()
    await flush()
    page.onHide()
    await page.onShow()
    await page.onTabItemTap({ index: 0 })
    await page.onPullDownRefresh()
    page.onOpen(tap({ id: 'w-30' }))
  },

  'pages/create/create': async (tracer, { state }) => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] })
    try {
      const page = open(tracer, 'pages/create/create')
      await flush()
      page.onPresetTap(tap({ id: 'pixel' }))
      page.onQualityChange({ detail: { value: '1' } })
      page.onPromptInput({ detail: { value: '一只猫' } })
      await page.onSubmit()
      await flush()
      state.generations[0].status = 'running'
      await advance(1000)
      Object.assign(state.generations[0], { status: 'succeeded', finished_at: '2026-11-23T05:01:00Z', wallpaper: wallpaperOf(70, { review: 'pending' }) })
      await advance(2000)
      page.onOpenResult()
      page.onCreateAgain()
      page.onPrivateChange({ detail: { value: true } })
      await page.onSubmit()
      await flush()
      Object.assign(state.generations[0], { status: 'failed', finished_at: '2026-11-23T05:01:00Z', error: { code: 'content_policy', message: 'refused' } })
      await advance(1000)
      page.onUnload()
    } finally {
      jest.useRealTimers()
    }
  },

  'pages/detail/detail': async (tracer) => {
    const page = open(tracer, 'pages/detail/detail', { id: 'w-30' })
    await flush()
    await page.onToggleLike()
    await page.onToggleLike()
    page.onCopyPrompt()
    page.onMakeSame()
    await page.onSave()
    await page.onPoster()
    await page.onSavePoster()
    page.onShareAppMessage()
    page.onShareTimeline()
    page.onOpenReport()
    page.onReportReason(tap({ reason: 'other' }))
    page.onReportDetail({ detail: { value: '说明' } })
    await page.onSubmitReport()
    // A wallpaper that is gone: the error body is read.
    page.setData({ id: 'w-gone' })
    await page.load()
  },

  'pages/mine/mine': async (tracer, { server, state }) => {
    const page = tracer.traced('pages/mine/mine', loadPage('pages/mine/mine'))
    page.onLoad({})
    await page.onShow()
    await flush()
    await page.onReachBottom()
    await page.onChooseAvatar({ detail: { avatarUrl: 'wxfile://tmp/a.jpg' } })
    page.onNicknameInput({ detail: { value: '小明' } })
    page.onNicknameBlur({ detail: { value: '小明' } })
    await page.onNicknameReview({ detail: { pass: true, timeout: false } })
    await page.onTogglePublic(tap({ id: state.mine[0].id }, { value: true }))
    await page.onDelete(tap({ id: state.mine[1].id }))
    page.onHide()
    await page.onShow()
    page.onOpenHistory()
    page.onPrivacy()
    await page.onLogout()
    await page.onSignIn()
    await flush()
    await page.onDeleteAccount()
    // Banned since: signing in shows the ban, whose 注销账号 takes a code.
    server.route('POST', '/api/v1/auth/login', () => error(403, 'banned', 'this account is banned'), { auth: false })
    await page.onSignIn()
    await page.onDeleteBannedAccount()
  },

  'pages/history/history': async (tracer, { state }) => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] })
    try {
      const page = open(tracer, 'pages/history/history')
      await flush()
      await page.onRetry(tap({ id: 'g-2' }))
      Object.assign(state.generations.find((g) => g.id === 'g-3'), { status: 'succeeded', wallpaper: wallpaperOf(3) })
      await advance(1000)
      page.onOpen(tap({ id: 'g-1' }))
      await page.onReachBottom()
      page.onUnload()
    } finally {
      jest.useRealTimers()
    }
  },
}

// runTour runs one page's tour on a fresh server and runtime, with an
// expired session at the start so the renewal path runs too. Resolves with
// the calls on the wire.
async function runTour(route, tracer) {
  const wire = []
  const fake = createTourServer()
  global.wx = tourWx(fake.server, tracer, wire)
  // A session from an earlier launch, already expired: the first call
  // refreshes it.
  const res = await fake.server.handle({ wireMethod: 'POST', path: '/api/v1/auth/login', header: {}, body: { code: 'dev-tour' } })
  global.wx.setStorageSync('wallpaperd.access_token', 'at-expired')
  global.wx.setStorageSync('wallpaperd.refresh_token', res.body.refresh_token)
  fake.server.calls.length = 0
  try {
    await TOURS[route](tracer, fake)
    await flush()
  } finally {
    delete global.wx
    delete global.Page
  }
  return wire
}

module.exports = { TOURS, endpointOf, runTour }
