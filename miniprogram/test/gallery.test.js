const { createServer, error, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')
const { loadPage, tap } = require('./helpers/page')

let server
let feed

// The feed the fake server pages through: 45 wallpapers, newest first, with
// the cursor being the index of the next item (opaque to the client).
function serveFeed() {
  feed = Array.from({ length: 45 }, (_, i) => wallpaper(45 - i))
  server.route(
    'GET',
    '/api/v1/wallpapers',
    (req) => {
      const limit = Number(req.query.limit || 20)
      const start = req.query.cursor ? Number(req.query.cursor) : 0
      const items = feed.slice(start, start + limit)
      const next = start + limit < feed.length ? String(start + limit) : null
      return json({ items, next_cursor: next })
    },
    { auth: false },
  )
}

beforeEach(() => {
  server = createServer()
  global.wx = createWx(server)
  serveFeed()
})

afterEach(() => {
  delete global.wx
  delete global.Page
})

async function openGallery() {
  const page = loadPage('pages/gallery/gallery')
  page.onLoad({})
  await flush()
  return page
}

test('the first page fills the grid without logging in', async () => {
  const page = await openGallery()

  expect(page.data.items.map((w) => w.id).slice(0, 3)).toEqual(['w-45', 'w-44', 'w-43'])
  expect(page.data.items).toHaveLength(20)
  expect(page.data).toMatchObject({ cursor: '20', hasMore: true, loading: false, error: '' })
  expect(wx.login).not.toHaveBeenCalled()
})

test('reaching the bottom pages by cursor until next_cursor ends', async () => {
  const page = await openGallery()

  page.onReachBottom()
  await flush()
  expect(page.data.items).toHaveLength(40)
  expect(server.calls[1].query).toEqual({ cursor: '20', limit: '20' })

  page.onReachBottom()
  await flush()
  expect(page.data.items).toHaveLength(45)
  expect(page.data.hasMore).toBe(false)

  page.onReachBottom()
  await flush()
  expect(server.callsTo('GET', '/api/v1/wallpapers')).toHaveLength(3)
  expect(new Set(page.data.items.map((w) => w.id)).size).toBe(45)
})

test('a second onReachBottom while a page is loading does not load it twice', async () => {
  const page = await openGallery()

  page.onReachBottom()
  page.onReachBottom()
  await flush()

  expect(server.callsTo('GET', '/api/v1/wallpapers')).toHaveLength(2)
  expect(page.data.items).toHaveLength(40)
})

test('pull to refresh starts from the top and stops the spinner', async () => {
  const page = await openGallery()
  page.onReachBottom()
  await flush()
  feed.unshift(wallpaper(46))

  await page.onPullDownRefresh()

  expect(page.data.items).toHaveLength(20)
  expect(page.data.items[0].id).toBe('w-46')
  expect(page.data.cursor).toBe('20')
  expect(wx.stopPullDownRefresh).toHaveBeenCalledTimes(1)
})

test('a refresh during a next-page load drops the stale page', async () => {
  const page = await openGallery()

  page.onReachBottom()
  const refreshed = page.onPullDownRefresh()
  await refreshed
  await flush()

  expect(page.data.items).toHaveLength(20)
  expect(page.data.items[0].id).toBe('w-45')
})

test('an empty feed shows the empty state', async () => {
  server.route('GET', '/api/v1/wallpapers', () => json({ items: [], next_cursor: null }), { auth: false })

  const page = await openGallery()

  expect(page.data).toMatchObject({ items: [], hasMore: false, loading: false, error: '' })
})

test('a failed first page shows the error state and retry recovers', async () => {
  server.route('GET', '/api/v1/wallpapers', () => error(503, 'unavailable', 'database unavailable'), { auth: false })
  const page = await openGallery()
  expect(page.data.error).toBe('服务暂时不可用，请稍后再试')
  expect(page.data.items).toHaveLength(0)

  serveFeed()
  page.onRetry()
  await flush()

  expect(page.data.error).toBe('')
  expect(page.data.items).toHaveLength(20)
})

test('a failed next page keeps the grid and shows retry in the footer', async () => {
  const page = await openGallery()
  server.route('GET', '/api/v1/wallpapers', () => ({ fail: 'request:fail timeout' }), { auth: false })

  page.onReachBottom()
  await flush()
  expect(page.data.items).toHaveLength(20)
  expect(page.data.moreError).toBe('网络超时，请重试')

  serveFeed()
  page.onRetry()
  await flush()
  expect(page.data.items).toHaveLength(40)
  expect(page.data.moreError).toBe('')
})

test('a failed refresh keeps what is shown and says so in a toast', async () => {
  const page = await openGallery()
  server.route('GET', '/api/v1/wallpapers', () => ({ fail: 'request:fail timeout' }), { auth: false })

  await page.onPullDownRefresh()

  expect(page.data.items).toHaveLength(20)
  expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '网络超时，请重试' }))
  expect(wx.stopPullDownRefresh).toHaveBeenCalled()
})

test('tapping a thumbnail opens its detail page', async () => {
  const page = await openGallery()

  page.onOpen(tap({ id: 'w-45' }))

  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/detail/detail?id=w-45' })
})

describe('coming back', () => {
  async function openAndScroll() {
    const page = await openGallery()
    page.onShow()
    page.onReachBottom()
    await flush()
    expect(page.data.items).toHaveLength(40)
    return page
  }

  test('a return refreshes the head and keeps the pages below and the cursor', async () => {
    const page = await openAndScroll()
    feed.unshift(wallpaper(46))
    feed[1] = Object.assign({}, feed[1], { like_count: 99 })

    page.onHide()
    await page.onShow()

    expect(page.data.items).toHaveLength(41)
    expect(page.data.items[0].id).toBe('w-46')
    expect(page.data.items[1]).toMatchObject({ id: 'w-45', like_count: 99 })
    expect(page.data.items[40].id).toBe('w-6')
    expect(page.data.cursor).toBe('40')
    expect(wx.pageScrollTo).not.toHaveBeenCalled()
  })

  test('a tab tap with nothing new keeps the scroll position', async () => {
    const page = await openAndScroll()

    await page.onTabItemTap({ index: 0, pagePath: 'pages/gallery/gallery', text: '画廊' })

    expect(server.callsTo('GET', '/api/v1/wallpapers')).toHaveLength(3)
    expect(page.data.items).toHaveLength(40)
    expect(wx.pageScrollTo).not.toHaveBeenCalled()
  })

  test('a tab tap that brings new wallpapers scrolls up to them', async () => {
    const page = await openAndScroll()
    feed.unshift(wallpaper(46))

    await page.onTabItemTap({ index: 0, pagePath: 'pages/gallery/gallery', text: '画廊' })

    expect(page.data.items[0].id).toBe('w-46')
    expect(wx.pageScrollTo).toHaveBeenCalledWith(expect.objectContaining({ scrollTop: 0 }))
  })

  test('a refresh that fails keeps what is shown', async () => {
    const page = await openAndScroll()
    server.route('GET', '/api/v1/wallpapers', () => ({ fail: 'request:fail timeout' }), { auth: false })

    await page.onShow()

    expect(page.data.items).toHaveLength(40)
    expect(page.data.error).toBe('')
  })
})

describe('likes in the grid', () => {
  test('the token goes along when logged in, so liked shows; never a login for it', async () => {
    const res = await server.handle({ wireMethod: 'POST', path: '/api/v1/auth/login', header: {}, body: { code: 'dev-me' } })
    wx.setStorageSync('wallpaperd.access_token', res.body.access_token)
    server.route('GET', '/api/v1/wallpapers', (req) => json({ items: [wallpaper(1, { liked: Boolean(req.token) })], next_cursor: null }), { auth: 'optional' })

    const page = await openGallery()

    expect(server.callsTo('GET', '/api/v1/wallpapers')[0].header.Authorization).toBe(`Bearer ${res.body.access_token}`)
    expect(page.data.items[0].liked).toBe(true)
    expect(wx.login).not.toHaveBeenCalled()
  })

  test('without a session the feed is anonymous', async () => {
    const page = await openGallery()

    expect(server.callsTo('GET', '/api/v1/wallpapers')[0].header.Authorization).toBeUndefined()
    expect(page.data.items[0].liked).toBe(false)
  })
})
