const { createServer, error, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')
const config_ = require('../config')
const { loadPage, tap } = require('./helpers/page')
const { STORAGE_KEYS } = require('../utils/request')

let server
let likes
let config
let reports

const IMAGE = 'https://img.test/w-4.png'
const THUMB = 'https://img.test/w-4.thumb.jpg'
const tempOf = (url) => `wxfile://tmp/${encodeURIComponent(url)}`
// downloadsOf answers the wx.downloadFile calls for url (the share cards
// download the thumbnail in the background).
const downloadsOf = (url) => wx.downloadFile.mock.calls.map((c, i) => ({ url: c[0].url, order: wx.downloadFile.mock.invocationCallOrder[i] })).filter((c) => c.url === url)

beforeEach(() => {
  server = createServer()
  global.wx = createWx(server)
  likes = { liked: false, like_count: 4 }
  config = { subscribe_template_id: '', sizes: [], presets_version: 'v1', daily_limit: 10, reports_enabled: true, report_response_hours: 24 }
  reports = []
  server.route('GET', '/api/v1/client-config', () => json(config), { auth: false })
  server.route(
    'GET',
    '/api/v1/wallpapers/{id}',
    (req) => {
      if (req.params.id === 'w-private') return json(wallpaper(9, { id: 'w-private', public: false, review: 'unchecked' }))
      if (req.params.id === 'w-pending') return json(wallpaper(8, { id: 'w-pending', public: true, review: 'pending' }))
      if (req.params.id === 'w-approved') return json(wallpaper(7, { id: 'w-approved', public: true, review: 'approved' }))
      if (req.params.id !== 'w-4') return error(404, 'not_found', 'wallpaper not found')
      return json(wallpaper(4, { prompt: '霓虹雨夜里的一只猫', liked: Boolean(req.token) && likes.liked, like_count: likes.like_count, preset: 'pixel', ai_generated: true }))
    },
    { auth: 'optional' },
  )
  server.route('PUT', '/api/v1/wallpapers/{id}/like', () => {
    if (!likes.liked) likes = { liked: true, like_count: likes.like_count + 1 }
    return json(likes)
  })
  server.route('DELETE', '/api/v1/wallpapers/{id}/like', () => {
    if (likes.liked) likes = { liked: false, like_count: likes.like_count - 1 }
    return json(likes)
  })
  server.route('POST', '/api/v1/wallpapers/{id}/reports', (req) => {
    const earlier = reports.find((r) => r.token === req.token)
    if (earlier) return json(earlier.answer, 200)
    const answer = Object.assign({ id: `r-${reports.length + 1}`, created_at: '2026-11-23T05:00:00Z' }, req.body)
    reports.push({ token: req.token, answer })
    return json(answer, 202)
  })
})

afterEach(() => {
  delete global.wx
  delete global.Page
})

async function openDetail(query = { id: 'w-4' }) {
  const page = loadPage('pages/detail/detail')
  page.onLoad(query)
  await flush()
  return page
}

// loggedIn stores a session, as an earlier launch would have.
async function loggedIn(user = { id: 'u-1' }) {
  const res = await server.handle({ wireMethod: 'POST', path: '/api/v1/auth/login', header: {}, body: { code: 'dev-me' } })
  wx.setStorageSync(STORAGE_KEYS.access, res.body.access_token)
  wx.setStorageSync(STORAGE_KEYS.refresh, res.body.refresh_token)
  wx.setStorageSync(STORAGE_KEYS.user, user)
}

describe('loading', () => {
  test('shows a visible wallpaper without logging in, thumbnail first', async () => {
    const page = await openDetail()

    expect(wx.login).not.toHaveBeenCalled()
    expect(server.callsTo('GET', '/api/v1/wallpapers/w-4')[0].header.Authorization).toBeUndefined()
    expect(page.data).toMatchObject({ loading: false, error: '', showOriginal: false, singlePage: false, canShare: true })
    expect(page.data.wallpaper.id).toBe('w-4')

    page.onOriginalLoad()
    expect(page.data.showOriginal).toBe(true)
  })

  test('sends the token when logged in, so the heart shows what the user liked', async () => {
    await loggedIn()
    likes.liked = true

    const page = await openDetail()

    expect(server.callsTo('GET', '/api/v1/wallpapers/w-4')[0].header.Authorization).toMatch(/^Bearer at-/)
    expect(page.data.wallpaper.liked).toBe(true)
    expect(wx.login).not.toHaveBeenCalled()
  })

  test('a missing wallpaper shows the error state', async () => {
    const page = await openDetail({ id: 'w-404' })

    expect(page.data).toMatchObject({ loading: false, wallpaper: null, error: '内容不存在或已被删除' })
  })

  test('opens from the mini-program code, whose scene is the id without dashes', async () => {
    const page = await openDetail({ scene: encodeURIComponent('5b1e2c3d4f5a4b6c8d7e9f0a1b2c3d4e') })

    expect(page.data.id).toBe('5b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e')
    expect(server.callsTo('GET', '/api/v1/wallpapers/5b1e2c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e')).toHaveLength(1)
  })

  test('copies the prompt', async () => {
    const page = await openDetail()

    page.onCopyPrompt()

    expect(wx.setClipboardData).toHaveBeenCalledWith(expect.objectContaining({ data: '霓虹雨夜里的一只猫' }))
  })
})

describe('sharing', () => {
  test('offers both share menus, to a friend and to Moments, only once the wallpaper is known to be visible', async () => {
    const page = loadPage('pages/detail/detail')
    page.onLoad({ id: 'w-4' })

    expect(wx.showShareMenu).not.toHaveBeenCalled()
    expect(wx.hideShareMenu).toHaveBeenCalledWith(expect.objectContaining({ menus: ['shareAppMessage', 'shareTimeline'] }))

    await flush()
    expect(wx.showShareMenu).toHaveBeenCalledWith(expect.objectContaining({ menus: ['shareAppMessage', 'shareTimeline'] }))
  })

  test('my approved public wallpaper is shared like any other', async () => {
    await loggedIn({ id: 'u-2' })
    const page = await openDetail({ id: 'w-approved' })

    expect(page.data.canShare).toBe(true)
    expect(wx.showShareMenu).toHaveBeenCalled()
    expect(page.onShareAppMessage().path).toBe('/pages/detail/detail?id=w-approved')
  })

  const FRIEND_CARD = 'wxfile://tmp/card-500x400.jpg'
  const MOMENTS_CARD = 'wxfile://tmp/card-500x500.jpg'

  test('to a friend: a link to this detail page, showing the 5:4 card', async () => {
    const page = await openDetail()

    expect(page.onShareAppMessage()).toEqual({ title: '霓虹雨夜里的一只猫', path: '/pages/detail/detail?id=w-4', imageUrl: FRIEND_CARD })
  })

  test('to Moments: the query that opens this wallpaper, showing the 1:1 card', async () => {
    const page = await openDetail()

    expect(page.onShareTimeline()).toEqual({ title: '霓虹雨夜里的一只猫', query: 'id=w-4', imageUrl: MOMENTS_CARD })
  })

  test('the cards are drawn from the thumbnail, downloaded once, each cropped to its shape with its own AI生成 label', async () => {
    await openDetail()

    expect(downloadsOf(THUMB)).toHaveLength(1)
    const calls = wx.shareCanvas.ctx.calls
    const images = calls.filter((c) => c.op === 'drawImage')
    expect(images.map((c) => c.args[0].src)).toEqual([tempOf(THUMB), tempOf(THUMB)])
    expect(images.map((c) => c.args.slice(7))).toEqual([
      [500, 400],
      [500, 500],
    ])
    images.forEach((c) => expect(c.args[3] / c.args[4]).toBeCloseTo(c.args[7] / c.args[8], 5))
    const labels = calls.filter((c) => c.op === 'fillText' && c.args[0] === 'AI生成')
    expect(labels).toHaveLength(2)
    labels.forEach((c, i) => {
      expect(calls.indexOf(c)).toBeGreaterThan(calls.indexOf(images[i]))
      expect(Number(/(\d+)px/.exec(c.state.font)[1])).toBeGreaterThanOrEqual(0.05 * 400)
    })
    expect(wx.canvasToTempFilePath.mock.calls.map((c) => c[0].canvas)).toEqual([wx.shareCanvas, wx.shareCanvas])
    expect(wx.canvas.ctx.calls).toHaveLength(0)
  })

  test('before the cards are drawn: the thumbnail, and for a friend the promise WeChat waits for gives the card', async () => {
    let release
    const held = new Promise((resolve) => {
      release = resolve
    })
    const downloadFile = wx.downloadFile.getMockImplementation()
    wx.downloadFile.mockImplementation((opts) => (opts.url === THUMB ? held.then(() => downloadFile(opts)) : downloadFile(opts)))
    const page = await openDetail()

    const share = page.onShareAppMessage()
    expect(share).toEqual({ title: '霓虹雨夜里的一只猫', path: '/pages/detail/detail?id=w-4', imageUrl: THUMB, promise: expect.any(Promise) })
    expect(page.onShareTimeline()).toEqual({ title: '霓虹雨夜里的一只猫', query: 'id=w-4', imageUrl: THUMB })

    release()
    await expect(share.promise).resolves.toEqual({ title: '霓虹雨夜里的一只猫', path: '/pages/detail/detail?id=w-4', imageUrl: FRIEND_CARD })
    expect(page.onShareAppMessage()).toEqual({ title: '霓虹雨夜里的一只猫', path: '/pages/detail/detail?id=w-4', imageUrl: FRIEND_CARD })
    expect(page.onShareTimeline().imageUrl).toBe(MOMENTS_CARD)
  })

  test('cards that cannot be drawn leave the thumbnail', async () => {
    wx.downloadFile.mockImplementation((opts) => Promise.resolve().then(() => opts.success({ statusCode: 404, tempFilePath: '' })))
    const page = await openDetail()

    const share = page.onShareAppMessage()
    expect(share.imageUrl).toBe(THUMB)
    await expect(share.promise).resolves.toEqual({ title: '霓虹雨夜里的一只猫', path: '/pages/detail/detail?id=w-4', imageUrl: THUMB })
    expect(page.onShareTimeline().imageUrl).toBe(THUMB)
    expect(wx.canvasToTempFilePath).not.toHaveBeenCalled()
  })

  test('a private wallpaper of mine offers no share or poster (others could not open it)', async () => {
    await loggedIn()
    const page = await openDetail({ id: 'w-private' })

    expect(page.data.canShare).toBe(false)
    await page.onPoster()
    expect(wx.downloadFile).not.toHaveBeenCalled()
  })

  test.each([
    ['private', 'w-private'],
    ['public but still being checked', 'w-pending'],
    ['missing', 'w-404'],
  ])('a %s wallpaper: share menus hidden, and a share asked for anyway shares the gallery', async (_, id) => {
    await loggedIn({ id: 'u-2' })
    const page = await openDetail({ id })

    expect(page.data.canShare).toBe(false)
    expect(wx.showShareMenu).not.toHaveBeenCalled()
    expect(wx.hideShareMenu).toHaveBeenLastCalledWith(expect.objectContaining({ menus: ['shareAppMessage', 'shareTimeline'] }))
    expect(page.onShareAppMessage()).toEqual({ title: 'AI 壁纸画廊', path: '/pages/gallery/gallery' })
    expect(page.onShareTimeline()).toEqual({ title: 'AI 壁纸画廊', query: 'home=1' })
    // No share card is drawn for it.
    expect(wx.downloadFile).not.toHaveBeenCalled()
    expect(wx.canvasToTempFilePath).not.toHaveBeenCalled()
  })

  test('before the wallpaper is known, a share asked for shares the gallery', () => {
    const page = loadPage('pages/detail/detail')
    page.onLoad({ id: 'w-4' })

    expect(page.onShareAppMessage()).toEqual({ title: 'AI 壁纸画廊', path: '/pages/gallery/gallery' })
    expect(page.onShareTimeline()).toEqual({ title: 'AI 壁纸画廊', query: 'home=1' })
  })

  test('the gallery shared to Moments (?home=1) opens the gallery', async () => {
    const page = await openDetail({ home: '1' })

    expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/gallery/gallery' })
    expect(page.data).toMatchObject({ home: true, loading: false, error: '' })
    expect(server.calls.filter((c) => c.path.startsWith('/api/v1/wallpapers'))).toHaveLength(0)
  })
})

describe("Moments' single-page mode (no wx.login)", () => {
  beforeEach(() => {
    wx.scene = 1154
    wx.login = undefined
  })

  test('shows the wallpaper without logging in and without any interactive action', async () => {
    const page = await openDetail()

    expect(page.data).toMatchObject({ singlePage: true, error: '', loading: false })
    expect(page.data.wallpaper.prompt).toBe('霓虹雨夜里的一只猫')
    expect(server.callsTo('POST', '/api/v1/auth/login')).toHaveLength(0)
    expect(server.callsTo('GET', '/api/v1/client-config')).toHaveLength(0)
    expect(wx.showShareMenu).not.toHaveBeenCalled()
    // Nothing to share from here: no share card is drawn.
    expect(wx.downloadFile).not.toHaveBeenCalled()
  })

  test('the gallery shared to Moments (?home=1) shows a word about the gallery, no wallpaper', async () => {
    const page = await openDetail({ home: '1' })

    expect(page.data).toMatchObject({ home: true, singlePage: true, loading: false, error: '' })
    expect(wx.switchTab).not.toHaveBeenCalled()
    expect(server.calls).toHaveLength(0)
  })

  test('like, save, 做同款 and report do nothing', async () => {
    const page = await openDetail()

    await page.onToggleLike()
    await page.onSave()
    page.onMakeSame()
    page.onOpenReport()

    expect(server.calls.filter((c) => c.method !== 'GET')).toHaveLength(0)
    expect(wx.saveImageToPhotosAlbum).not.toHaveBeenCalled()
    expect(wx.switchTab).not.toHaveBeenCalled()
    expect(page.data.report.open).toBe(false)
  })
})

describe('like', () => {
  test('like then unlike follow the server (logging in for it)', async () => {
    const page = await openDetail()

    await page.onToggleLike()
    expect(wx.login).toHaveBeenCalledTimes(1)
    expect(page.data.wallpaper).toMatchObject({ liked: true, like_count: 5 })
    expect(server.callsTo('PUT', '/api/v1/wallpapers/w-4/like')).toHaveLength(1)

    await page.onToggleLike()
    expect(page.data.wallpaper).toMatchObject({ liked: false, like_count: 4 })
    expect(server.callsTo('DELETE', '/api/v1/wallpapers/w-4/like')).toHaveLength(1)
  })

  test('shows the new state before the server answers and ignores a second tap meanwhile', async () => {
    const page = await openDetail()

    const first = page.onToggleLike()
    expect(page.data.wallpaper).toMatchObject({ liked: true, like_count: 5 })
    page.onToggleLike()
    await first
    await flush()

    expect(server.callsTo('PUT', '/api/v1/wallpapers/w-4/like')).toHaveLength(1)
    expect(server.callsTo('DELETE', '/api/v1/wallpapers/w-4/like')).toHaveLength(0)
  })

  test('a failed like puts the old state back and says why', async () => {
    const page = await openDetail()
    server.route('PUT', '/api/v1/wallpapers/{id}/like', () => error(429, 'rate_limited', 'slow down'))

    await page.onToggleLike()

    expect(page.data.wallpaper).toMatchObject({ liked: false, like_count: 4 })
    expect(page.data.liking).toBe(false)
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '操作太频繁，请稍后再试' }))
  })
})

test('做同款 leaves the prompt and preset for the create tab and opens it', async () => {
  const page = await openDetail()

  page.onMakeSame()

  expect(wx.getStorageSync('wallpaperd.draft')).toEqual({ prompt: '霓虹雨夜里的一只猫', preset: 'pixel' })
  expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/create/create' })
})

describe('save to album', () => {
  test('asks for album access first, then downloads the labelled image_url and saves it', async () => {
    const page = await openDetail()

    await page.onSave()

    expect(wx.authorize).toHaveBeenCalledWith(expect.objectContaining({ scope: 'scope.writePhotosAlbum' }))
    expect(downloadsOf(IMAGE)).toHaveLength(1)
    expect(wx.authorize.mock.invocationCallOrder[0]).toBeLessThan(downloadsOf(IMAGE)[0].order)
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledWith(expect.objectContaining({ filePath: tempOf(IMAGE) }))
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已保存到相册' }))
    expect(wx.openSetting).not.toHaveBeenCalled()
    expect(page.data.saving).toBe(false)
  })

  test('access granted earlier: no prompt, straight to the download', async () => {
    wx.authSetting['scope.writePhotosAlbum'] = true
    const page = await openDetail()

    await page.onSave()

    expect(wx.authorize).not.toHaveBeenCalled()
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledTimes(1)
  })

  const refusals = [
    { name: 'refused earlier, switched on in the settings: saves', earlier: false, confirm: true, granted: true, saves: 1 },
    { name: 'refused earlier, kept off in the settings: nothing downloaded', earlier: false, confirm: true, granted: false, saves: 0 },
    { name: 'refused earlier, declines to go to the settings: nothing downloaded', earlier: false, confirm: false, granted: false, saves: 0 },
    { name: 'refused in the prompt just now, switched on in the settings: saves', earlier: undefined, confirm: true, granted: true, saves: 1 },
    { name: 'refused in the prompt just now, declines the settings: nothing downloaded', earlier: undefined, confirm: false, granted: false, saves: 0 },
  ]
  refusals.forEach((tc) => {
    test(`permission refusal: ${tc.name}`, async () => {
      if (tc.earlier === false) wx.authSetting['scope.writePhotosAlbum'] = false
      else wx.authorize.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.fail({ errMsg: 'authorize:fail auth deny' })))
      wx.showModal.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ confirm: tc.confirm, cancel: !tc.confirm })))
      wx.openSetting.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ authSetting: { 'scope.writePhotosAlbum': tc.granted } })))
      const page = await openDetail()

      await page.onSave()

      expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '需要相册权限', confirmText: '去设置' }))
      expect(wx.openSetting).toHaveBeenCalledTimes(tc.confirm ? 1 : 0)
      expect(downloadsOf(IMAGE)).toHaveLength(tc.saves)
      expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledTimes(tc.saves)
      expect(page.data.saving).toBe(false)
    })
  })

  test('access switched off between the check and the save: the settings path, then saved', async () => {
    wx.saveImageToPhotosAlbum.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.fail({ errMsg: 'saveImageToPhotosAlbum:fail auth deny' })))
    wx.openSetting.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ authSetting: { 'scope.writePhotosAlbum': true } })))
    const page = await openDetail()

    await page.onSave()

    expect(wx.openSetting).toHaveBeenCalledTimes(1)
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledTimes(2)
    expect(wx.showToast).toHaveBeenLastCalledWith(expect.objectContaining({ title: '已保存到相册' }))
  })

  test('a cancelled save is quiet', async () => {
    wx.saveImageToPhotosAlbum.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.fail({ errMsg: 'saveImageToPhotosAlbum:fail cancel' })))
    const page = await openDetail()

    await page.onSave()

    expect(wx.showModal).not.toHaveBeenCalled()
    expect(wx.showToast).not.toHaveBeenCalled()
  })

  test('a failed download says so and saves nothing', async () => {
    const page = await openDetail()
    wx.downloadFile.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ statusCode: 403, tempFilePath: '' })))

    await page.onSave()

    expect(wx.saveImageToPhotosAlbum).not.toHaveBeenCalled()
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '图片下载失败，请重试' }))
  })
})

describe('poster', () => {
  // Pages use the app's client, so the code's URL is on config.js's base.
  const CODE = `${config_.baseURL}/api/v1/wallpapers/w-4/wxacode`

  function drawn() {
    return wx.canvas.ctx.calls
  }

  test('draws the labelled wallpaper, the code from the server, the prompt and its own AI生成 label, then exports it', async () => {
    wx.canvas.sizes[tempOf(CODE)] = { width: 430, height: 430 }
    const page = await openDetail()

    await page.onPoster()

    expect(wx.downloadFile.mock.calls.map((c) => c[0].url).filter((url) => url !== THUMB).sort()).toEqual([CODE, IMAGE].sort())
    const images = drawn().filter((c) => c.op === 'drawImage')
    expect(images.map((c) => c.args[0].src)).toEqual([tempOf(IMAGE), tempOf(CODE)])
    const label = drawn().find((c) => c.op === 'fillText' && c.args[0] === 'AI生成')
    expect(label).toBeDefined()
    const size = Number(/(\d+)px/.exec(label.state.font)[1])
    expect(size).toBeGreaterThanOrEqual(0.05 * Math.min(wx.canvas.width, wx.canvas.height))
    expect(drawn().indexOf(label)).toBeGreaterThan(drawn().indexOf(images[0]))
    expect(drawn().some((c) => c.op === 'fillText' && c.args[0] === '霓虹雨夜里的一只猫')).toBe(true)
    expect(wx.canvasToTempFilePath).toHaveBeenCalledWith(expect.objectContaining({ canvas: wx.canvas }))
    expect(page.data.poster).toEqual({ busy: false, path: 'wxfile://tmp/poster.jpg' })
  })

  test('the poster is saved to the album after asking for access', async () => {
    const page = await openDetail()
    await page.onPoster()

    await page.onSavePoster()

    expect(wx.authorize).toHaveBeenCalledTimes(1)
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledWith(expect.objectContaining({ filePath: 'wxfile://tmp/poster.jpg' }))
    expect(page.data.poster.path).toBe('')
  })

  test('a code the server will not give (404) ends in a Chinese message and no poster', async () => {
    wx.downloadFile.mockImplementation((opts) => Promise.resolve().then(() => opts.success({ statusCode: opts.url === CODE ? 404 : 200, tempFilePath: tempOf(opts.url) })))
    const page = await openDetail()

    await page.onPoster()

    expect(wx.canvasToTempFilePath).not.toHaveBeenCalledWith(expect.objectContaining({ canvas: wx.canvas }))
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '海报生成失败，请重试' }))
    expect(page.data.poster).toEqual({ busy: false, path: '' })
  })
})

describe('report', () => {
  test('is hidden when the server does not take reports', async () => {
    config.reports_enabled = false
    const page = await openDetail()

    page.onOpenReport()

    expect(page.data.reports.enabled).toBe(false)
    expect(page.data.report.open).toBe(false)
  })

  test('is hidden on my own wallpaper', async () => {
    await loggedIn({ id: 'u-2' })
    const page = await openDetail()

    page.onOpenReport()

    expect(page.data.mine).toBe(true)
    expect(page.data.report.open).toBe(false)
  })

  test('offers the six reasons in Chinese and the committed response time', async () => {
    const page = await openDetail()

    page.onOpenReport()

    expect(page.data.report.open).toBe(true)
    expect(page.data.reasons.map((r) => r.value)).toEqual(['porn', 'politics', 'violence', 'abuse', 'copyright', 'other'])
    page.data.reasons.forEach((r) => expect(r.label).toMatch(/^[\u4e00-\u9fff]+$/))
    expect(page.data.reports.hours).toBe(24)
  })

  test('needs a reason', async () => {
    const page = await openDetail()
    page.onOpenReport()

    await page.onSubmitReport()

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '请选择举报原因' }))
    expect(server.callsTo('POST', '/api/v1/wallpapers/w-4/reports')).toHaveLength(0)
  })

  test('refuses a detail over 200 characters', async () => {
    const page = await openDetail()
    page.onOpenReport()
    page.onReportReason(tap({ reason: 'other' }))
    page.onReportDetail({ detail: { value: '字'.repeat(201) } })

    await page.onSubmitReport()

    expect(page.data.report.detailLength).toBe(201)
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '补充说明最多 200 字' }))
    expect(server.callsTo('POST', '/api/v1/wallpapers/w-4/reports')).toHaveLength(0)
  })

  test('sends the reason and the detail, and says when it will be handled', async () => {
    const page = await openDetail()
    page.onOpenReport()
    page.onReportReason(tap({ reason: 'copyright' }))
    page.onReportDetail({ detail: { value: ' 这是我的作品 ' } })

    await page.onSubmitReport()

    expect(server.callsTo('POST', '/api/v1/wallpapers/w-4/reports')[0].body).toEqual({ reason: 'copyright', detail: '这是我的作品' })
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '举报已提交，我们会在 24 小时内处理' }))
    expect(page.data.report.open).toBe(false)
  })

  test('without a detail only the reason is sent; a second report says it was already filed', async () => {
    const page = await openDetail()
    for (let i = 0; i < 2; i++) {
      page.onOpenReport()
      page.onReportReason(tap({ reason: 'porn' }))
      await page.onSubmitReport()
    }

    expect(server.callsTo('POST', '/api/v1/wallpapers/w-4/reports').map((c) => c.body)).toEqual([{ reason: 'porn' }, { reason: 'porn' }])
    expect(wx.showToast).toHaveBeenLastCalledWith(expect.objectContaining({ title: '你已举报过这张壁纸，我们会在 24 小时内处理' }))
  })

  test('a refused report says why in Chinese', async () => {
    server.route('POST', '/api/v1/wallpapers/{id}/reports', () => error(400, 'invalid_request', 'you cannot report your own wallpaper'))
    const page = await openDetail()
    page.onOpenReport()
    page.onReportReason(tap({ reason: 'other' }))

    await page.onSubmitReport()

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '请求有误，请检查输入' }))
    expect(page.data.report).toMatchObject({ open: true, sending: false })
  })
})
