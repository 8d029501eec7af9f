const { createServer, error, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')
const { loadPage, tap } = require('./helpers/page')
const { MAX_POLLS } = require('../utils/generations')

let server
let generations
let polls

function gen(id, fields) {
  return Object.assign({ id, prompt: `prompt ${id}`, size: '1024x1792', style: 'vivid', quality: 'standard', public: true, preset: null, attempts: 0, created_at: '2026-11-23T05:00:00Z' }, fields)
}

beforeEach(() => {
  server = createServer()
  global.wx = createWx(server)
  polls = []
  generations = [
    gen('g-4', { status: 'running', prompt: '雪山日出' }),
    gen('g-3', { status: 'failed', prompt: '雨夜霓虹', preset: 'pixel', quality: 'hd', public: false, error: { code: 'upstream_timeout', message: 'the generation took too long; your quota unit is returned' } }),
    gen('g-2', { status: 'succeeded', wallpaper: wallpaper(2, { review: 'pending' }) }),
    gen('g-1', { status: 'queued' }),
  ]
  server.route('GET', '/api/v1/client-config', () => json({ subscribe_template_id: 'tmpl-ready', reports_enabled: false }), { auth: false })
  server.route('GET', '/api/v1/me/generations', (req) => {
    const start = req.query.cursor ? Number(req.query.cursor) : 0
    const limit = Number(req.query.limit)
    const next = start + limit < generations.length ? String(start + limit) : null
    return json({ items: generations.slice(start, start + limit), next_cursor: next })
  })
  server.route('GET', '/api/v1/generations/{id}', (req) => {
    polls.push(req.params.id)
    const found = generations.find((g) => g.id === req.params.id)
    return found ? json(found) : error(404, 'not_found', 'generation not found')
  })
  server.route('POST', '/api/v1/generations', (req) => {
    const created = gen('g-5', Object.assign({ status: 'queued' }, req.body))
    delete created.notify
    generations.unshift(created)
    return json(created, 202)
  })
})

let opened = []

afterEach(() => {
  opened.forEach((page) => page.onUnload())
  opened = []
  jest.useRealTimers()
  delete global.wx
  delete global.Page
})

async function openHistory(query = {}) {
  const page = loadPage('pages/history/history')
  opened.push(page)
  page.onLoad(query)
  page.onShow()
  await flush()
  return page
}

async function advance(ms) {
  jest.advanceTimersByTime(ms)
  await flush()
}

function set(id, fields) {
  const at = generations.findIndex((g) => g.id === id)
  generations[at] = Object.assign({}, generations[at], fields)
}

test('lists every generation with its badge, the failure reason in Chinese and the review state', async () => {
  const page = await openHistory()

  expect(page.data.items.map((i) => [i.id, i.badge, i.tone])).toEqual([
    ['g-4', '绘制中', 'waiting'],
    ['g-3', '失败', 'failed'],
    ['g-2', '已完成', 'done'],
    ['g-1', '排队中', 'waiting'],
  ])
  expect(page.data.items[1].reason).toBe('绘图超时了，请稍后再试')
  expect(page.data.items[2].review).toBe('审核中，通过后展示在画廊')
  expect(page.data.items[0].when).toBe('11月23日 13:00')
})

test('a finished one opens its wallpaper; an unfinished one opens nothing', async () => {
  const page = await openHistory()

  page.onOpen(tap({ id: 'g-4' }))
  page.onOpen(tap({ id: 'g-2' }))

  expect(wx.navigateTo).toHaveBeenCalledTimes(1)
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/detail/detail?id=w-2' })
})

describe('polling', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] })
  })

  test('resumes for the unfinished ones whenever the page opens (as after a restart), and stops when they settle', async () => {
    const page = await openHistory()
    expect(polls).toEqual([])

    set('g-4', { status: 'succeeded', wallpaper: wallpaper(4) })
    set('g-1', { status: 'failed', error: { code: 'content_rejected', message: 'rejected' } })
    await advance(1000)

    expect(polls.sort()).toEqual(['g-1', 'g-4'])
    expect(page.data.items[0]).toMatchObject({ id: 'g-4', badge: '已完成' })
    expect(page.data.items[3]).toMatchObject({ id: 'g-1', badge: '失败', reason: '生成的图片未通过内容审核，请修改描述后再试' })

    await advance(60000)
    expect(polls).toHaveLength(2)
  })

  test('a page opened anew after a restart picks the same generation up again', async () => {
    const first = await openHistory()
    await advance(1000)
    first.onUnload()
    const before = polls.length

    const second = await openHistory()
    set('g-4', { status: 'succeeded', wallpaper: wallpaper(4) })
    await advance(1000)

    expect(polls.length).toBeGreaterThan(before)
    expect(second.data.items[0].badge).toBe('已完成')
  })

  test('pauses while hidden and asks at once when shown again', async () => {
    const page = await openHistory()
    await advance(1000)
    const before = polls.length

    page.onHide()
    await advance(120000)
    expect(polls).toHaveLength(before)

    page.onShow()
    await flush()
    expect(polls.length).toBe(before + 2)
  })

  test('is capped', async () => {
    await openHistory()

    for (let i = 0; i < MAX_POLLS + 5; i++) await advance(5000)

    expect(polls.filter((id) => id === 'g-4')).toHaveLength(MAX_POLLS)
  })

  test('a generation that is gone is dropped from the list', async () => {
    const page = await openHistory()
    generations = generations.filter((g) => g.id !== 'g-1')

    await advance(1000)

    expect(page.data.items.map((i) => i.id)).toEqual(['g-4', 'g-3', 'g-2'])
  })
})

describe('retry', () => {
  test('makes a new generation with the same prompt and options, asks to notify, and follows it', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] })
    const page = await openHistory()

    await page.onRetry(tap({ id: 'g-3' }))

    const call = server.callsTo('POST', '/api/v1/generations')[0]
    expect(call.body).toEqual({ prompt: '雨夜霓虹', size: '1024x1792', style: 'vivid', quality: 'hd', preset: 'pixel', public: false, notify: true })
    expect(call.header['Idempotency-Key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1)
    expect(page.data.items[0]).toMatchObject({ id: 'g-5', badge: '排队中' })

    set('g-5', { status: 'succeeded', wallpaper: wallpaper(5) })
    await advance(1000)
    expect(page.data.items[0].badge).toBe('已完成')
  })

  test('a refused retry says why in Chinese', async () => {
    server.route('POST', '/api/v1/generations', () => error(429, 'quota_exceeded', 'daily quota exceeded'))
    const page = await openHistory()

    await page.onRetry(tap({ id: 'g-3' }))

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '今日生成次数已用完，明天再来吧' }))
    expect(page.data.items).toHaveLength(4)
    expect(page.data.retrying).toBe('')
  })
})

test('pages by cursor at the bottom', async () => {
  generations = Array.from({ length: 25 }, (_, i) => gen(`g-${25 - i}`, { status: 'succeeded', wallpaper: wallpaper(25 - i) }))
  const page = await openHistory()
  expect(page.data.items).toHaveLength(20)

  await page.onReachBottom()

  expect(page.data.items).toHaveLength(25)
  expect(page.data.hasMore).toBe(false)
})

test('an empty history and a failed one show their states', async () => {
  generations = []
  const empty = await openHistory()
  expect(empty.data).toMatchObject({ items: [], loading: false, error: '' })

  server.route('GET', '/api/v1/me/generations', () => error(503, 'unavailable', 'down'))
  const failed = await openHistory()
  expect(failed.data.error).toBe('服务暂时不可用，请稍后再试')
})

// The subscribe message of a failed generation opens the history with its
// id: the page highlights that generation and scrolls to it.
describe('opened for one generation (?id=)', () => {
  test('highlights and scrolls to a generation on the first page, once', async () => {
    const page = await openHistory({ id: 'g-3' })

    expect(page.data.focus).toBe('g-3')
    expect(wx.pageScrollTo).toHaveBeenCalledTimes(1)
    expect(wx.pageScrollTo).toHaveBeenCalledWith(expect.objectContaining({ selector: '#g-g-3' }))
    expect(server.callsTo('GET', '/api/v1/generations/g-3')).toHaveLength(0)

    await page.onPullDownRefresh()
    expect(wx.pageScrollTo).toHaveBeenCalledTimes(1)
    expect(page.data.focus).toBe('g-3')
  })

  test('fetches an older generation, shows it on top and never twice', async () => {
    generations = Array.from({ length: 25 }, (_, i) => gen(`g-${25 - i}`, { status: 'failed', error: { code: 'upstream_timeout', message: 'timeout' } }))
    const page = await openHistory({ id: 'g-2' })

    expect(server.callsTo('GET', '/api/v1/generations/g-2')).toHaveLength(1)
    expect(page.data.items[0]).toMatchObject({ id: 'g-2', badge: '失败' })
    expect(page.data.focus).toBe('g-2')
    expect(wx.pageScrollTo).toHaveBeenCalledWith(expect.objectContaining({ selector: '#g-g-2' }))

    await page.onReachBottom()
    expect(page.data.items.filter((item) => item.id === 'g-2')).toHaveLength(1)
    expect(page.data.items).toHaveLength(25)
  })

  test('a generation that is gone says so and leaves the list alone', async () => {
    const page = await openHistory({ id: 'g-missing' })

    expect(page.data.focus).toBe('')
    expect(page.data.items.map((item) => item.id)).toEqual(['g-4', 'g-3', 'g-2', 'g-1'])
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '这条生成记录已不存在' }))
    expect(wx.pageScrollTo).not.toHaveBeenCalled()
  })

  test('without an id nothing is highlighted and nothing scrolls', async () => {
    const page = await openHistory()

    expect(page.data.focus).toBe('')
    expect(wx.pageScrollTo).not.toHaveBeenCalled()
  })
})
