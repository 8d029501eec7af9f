const { createServer, error, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')
const { FAILURES } = require('../utils/request')
const { loadPage, tap } = require('./helpers/page')

let server
let quota
let generation
let polls
let config

const PRESETS = [
  { id: 'guofeng', name: '国风', description: '水墨与工笔', cover_url: 'https://img.test/p/guofeng.jpg' },
  { id: 'pixel', name: '像素', description: '8 位像素风', cover_url: 'https://img.test/p/pixel.jpg' },
]

const GEN_PATH = '/api/v1/generations'

beforeEach(() => {
  server = createServer()
  global.wx = createWx(server)
  quota = { daily_limit: 10, used_today: 2, remaining: 8, resets_at: '2026-11-24T00:00:00+08:00' }
  generation = null
  polls = []
  server.route('GET', '/api/v1/me', () => json(Object.assign({}, server.user, { quota })))
  server.route('POST', GEN_PATH, (req) => {
    generation = { id: 'g-1', status: 'queued', prompt: req.body.prompt, size: req.body.size, style: req.body.style, quality: 'standard', attempts: 0, created_at: '2026-11-23T05:00:00Z' }
    quota = Object.assign({}, quota, { used_today: quota.used_today + 1, remaining: quota.remaining - 1 })
    return json(generation, 202)
  })
  config = { subscribe_template_id: 'tmpl-ready', sizes: ['1024x1792', '1792x1024', '1024x1024'], presets_version: 'v1', daily_limit: 10, reports_enabled: false, report_response_hours: 0 }
  server.route('GET', '/api/v1/client-config', () => json(config), { auth: false })
  server.route('GET', '/api/v1/presets', () => json(PRESETS), { auth: false })
  server.route('GET', `${GEN_PATH}/{id}`, (req) => {
    polls.push(Date.now())
    if (!generation || req.params.id !== generation.id) return error(404, 'not_found', 'generation not found')
    return json(generation)
  })
})

// Every page opened is unloaded after its test, as leaving it would, so no
// poll timer outlives the test.
let opened = []

afterEach(() => {
  opened.forEach((page) => page.onUnload())
  opened = []
  jest.useRealTimers()
  delete global.wx
  delete global.Page
})

async function openCreate() {
  const page = loadPage('pages/create/create')
  opened.push(page)
  page.onLoad({})
  page.onShow()
  await flush()
  return page
}

function typePrompt(page, text) {
  page.onPromptInput({ detail: { value: text } })
}

async function submitted(page, text = '雨后的霓虹街道') {
  typePrompt(page, text)
  await page.onSubmit()
  await flush()
}

describe('form', () => {
  test('shows the quota from GET /me', async () => {
    const page = await openCreate()

    expect(page.data.quota).toEqual(quota)
  })

  test('the counter counts characters, an emoji as one', async () => {
    const page = await openCreate()

    typePrompt(page, '猫🐱ab')

    expect(page.data.promptLength).toBe(4)
  })

  const invalid = [
    { name: 'empty prompt', prompt: '', want: '先描述一下你想要的壁纸' },
    { name: 'blank prompt', prompt: ' \n\t ', want: '先描述一下你想要的壁纸' },
    { name: 'prompt over 1000 characters', prompt: '字'.repeat(1001), want: '描述最多 1000 字' },
    { name: 'no quota left', prompt: 'a cat', quotaLeft: 0, want: '今日生成次数已用完，明天再来吧' },
  ]
  invalid.forEach((tc) => {
    test(`refuses to submit: ${tc.name}`, async () => {
      if (tc.quotaLeft !== undefined) quota.remaining = tc.quotaLeft
      const page = await openCreate()
      typePrompt(page, tc.prompt)

      await page.onSubmit()
      await flush()

      expect(page.data.formError).toBe(tc.want)
      expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: tc.want }))
      expect(server.callsTo('POST', GEN_PATH)).toHaveLength(0)
    })
  })

  test('shows the quota with the time it resets, in Beijing time', async () => {
    const page = await openCreate()

    expect(page.data.resetsAt).toBe('11月24日 00:00 重置')
  })

  test('shows the presets from GET /presets as chips; a tap picks one, a second tap drops it', async () => {
    const page = await openCreate()

    expect(page.data.presets.map((p) => p.name)).toEqual(['国风', '像素'])
    page.onPresetTap(tap({ id: 'pixel' }))
    expect(page.data.preset).toBe('pixel')
    page.onPresetTap(tap({ id: 'pixel' }))
    expect(page.data.preset).toBe('')
  })

  test('says the result goes to the public gallery under the nickname', async () => {
    server.user.nickname = '阿青'
    const page = await openCreate()

    expect(page.data).toMatchObject({ keepPrivate: false, nickname: '阿青' })
  })

  test('a user without a nickname ("" from the server) has none on the page: the gallery shows 匿名', async () => {
    const page = await openCreate()

    expect(page.data).toMatchObject({ keepPrivate: false, nickname: '' })
  })

  test('sends the trimmed prompt with the picked preset, size, style, quality, visibility and an Idempotency-Key', async () => {
    const page = await openCreate()
    page.onSizeChange({ detail: { value: '1' } })
    page.onStyleChange({ detail: { value: '1' } })
    page.onQualityChange({ detail: { value: '1' } })
    page.onPresetTap(tap({ id: 'guofeng' }))
    page.onPrivateChange({ detail: { value: true } })

    await submitted(page, '  一只猫  ')

    const call = server.callsTo('POST', GEN_PATH)[0]
    expect(call.body).toEqual({ prompt: '一只猫', size: '1792x1024', style: 'natural', quality: 'hd', preset: 'guofeng', public: false, notify: true })
    expect(call.header['Idempotency-Key']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(page.data.phase).toBe('polling')
    expect(page.data.generation.id).toBe('g-1')
    expect(page.data.quota.remaining).toBe(7)
  })

  test('leaves out the options that are the API defaults (public, no preset, no message)', async () => {
    wx.subscribeAnswer = 'reject'
    const page = await openCreate()

    await submitted(page, '一只猫')

    expect(server.callsTo('POST', GEN_PATH)[0].body).toEqual({ prompt: '一只猫', size: '1024x1792', style: 'vivid', quality: 'standard' })
  })
})

describe('subscribe message', () => {
  test('is asked for from the tap itself, before anything is awaited', async () => {
    const page = await openCreate()
    typePrompt(page, '一只猫')

    const submitting = page.onSubmit()

    expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1)
    expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(['tmpl-ready'])
    await submitting
  })

  const answers = [
    { name: 'accepted: notify is sent as true and the page says a message will come', answer: 'accept', notify: true },
    { name: 'refused: notify is left out (false)', answer: 'reject', notify: undefined },
    { name: 'banned by WeChat: notify is left out (false)', answer: 'ban', notify: undefined },
  ]
  answers.forEach((tc) => {
    test(tc.name, async () => {
      wx.subscribeAnswer = tc.answer
      const page = await openCreate()

      await submitted(page)

      expect(server.callsTo('POST', GEN_PATH)[0].body.notify).toBe(tc.notify)
      expect(page.data).toMatchObject({ phase: 'polling', notify: Boolean(tc.notify) })
    })
  })

  test('a dialog that fails (switched off in settings) submits without notify', async () => {
    wx.requestSubscribeMessage.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.fail({ errMsg: 'requestSubscribeMessage:fail', errCode: 20004 })))
    const page = await openCreate()

    await submitted(page)

    expect(server.callsTo('POST', GEN_PATH)[0].body).not.toHaveProperty('notify')
  })

  test('is not asked for when the server has no template (dev)', async () => {
    config.subscribe_template_id = ''
    const page = await openCreate()

    await submitted(page)

    expect(wx.requestSubscribeMessage).not.toHaveBeenCalled()
    expect(server.callsTo('POST', GEN_PATH)[0].body).not.toHaveProperty('notify')
  })

  test('is asked once per submission: a resend after a network error keeps the answer', async () => {
    let left = 1
    server.route('POST', GEN_PATH, (req) => {
      if (left-- > 0) return { fail: 'request:fail timeout' }
      generation = { id: 'g-1', status: 'queued', prompt: req.body.prompt, created_at: '2026-11-23T05:00:00Z' }
      return json(generation, 202)
    })
    const page = await openCreate()

    await submitted(page)
    await page.onSubmit()
    await flush()

    expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1)
    expect(server.callsTo('POST', GEN_PATH).map((c) => c.body.notify)).toEqual([true, true])
  })
})

describe('leaving it painting', () => {
  test('the gallery opens and the generation is remembered for a restart', async () => {
    const page = await openCreate()
    await submitted(page)

    page.onLeave()

    expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/gallery/gallery' })
    expect(wx.getStorageSync('wallpaperd.current_generation')).toBe('g-1')
  })

  test('after a restart the page follows the remembered generation again', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] })
    generation = { id: 'g-1', status: 'running', prompt: '雨夜', created_at: '2026-11-23T05:00:00Z' }
    wx.setStorageSync('wallpaperd.current_generation', 'g-1')

    const page = await openCreate()
    expect(page.data.phase).toBe('polling')
    generation = Object.assign({}, generation, { status: 'succeeded', wallpaper: wallpaper(5) })
    jest.advanceTimersByTime(1000)
    await flush()

    expect(page.data.phase).toBe('succeeded')
    expect(page.data.generation.wallpaper.id).toBe('w-5')
    expect(wx.getStorageSync('wallpaperd.current_generation')).toBe('')
  })
})

describe('做同款', () => {
  test('a draft left by a detail page fills the form', async () => {
    wx.setStorageSync('wallpaperd.draft', { prompt: '霓虹雨夜里的一只猫', preset: 'pixel' })

    const page = await openCreate()

    expect(page.data).toMatchObject({ phase: 'form', prompt: '霓虹雨夜里的一只猫', promptLength: 9, preset: 'pixel' })
    expect(wx.getStorageSync('wallpaperd.draft')).toBe('')
  })
})

describe('idempotency key', () => {
  function failFirstPosts(n, failure) {
    let left = n
    server.route('POST', GEN_PATH, (req) => {
      if (left > 0) {
        left -= 1
        return failure
      }
      generation = { id: 'g-1', status: 'queued', prompt: req.body.prompt, created_at: '2026-11-23T05:00:00Z' }
      return json(generation, 202)
    })
  }

  function keys() {
    return server.callsTo('POST', GEN_PATH).map((c) => c.header['Idempotency-Key'])
  }

  test('is reused when the same submission is retried after a network error', async () => {
    failFirstPosts(2, { fail: 'request:fail timeout' })
    const page = await openCreate()

    await submitted(page)
    expect(page.data).toMatchObject({ phase: 'form', retryable: true, formError: '网络超时，请重试' })
    await page.onSubmit()
    await flush()
    await page.onSubmit()
    await flush()

    const sent = keys()
    expect(sent).toHaveLength(3)
    expect(new Set(sent).size).toBe(1)
    expect(page.data.phase).toBe('polling')
  })

  test('is reused after a 5xx, which may have been accepted', async () => {
    failFirstPosts(1, error(503, 'unavailable', 'try again'))
    const page = await openCreate()

    await submitted(page)
    await page.onSubmit()
    await flush()

    const sent = keys()
    expect(sent).toHaveLength(2)
    expect(sent[0]).toBe(sent[1])
  })

  test('is new when the prompt changed before the retry', async () => {
    failFirstPosts(1, { fail: 'request:fail timeout' })
    const page = await openCreate()

    await submitted(page, 'a cat')
    await submitted(page, 'a dog')

    const sent = keys()
    expect(sent).toHaveLength(2)
    expect(sent[0]).not.toBe(sent[1])
  })

  test('is new after the server refused the submission', async () => {
    failFirstPosts(1, error(422, 'prompt_rejected', 'prompt rejected by moderation'))
    const page = await openCreate()

    await submitted(page, 'a cat')
    expect(page.data).toMatchObject({ retryable: false, formError: '描述未通过内容审核，请修改后重试' })
    await page.onSubmit()
    await flush()

    const sent = keys()
    expect(sent).toHaveLength(2)
    expect(sent[0]).not.toBe(sent[1])
  })

  test('is new for the next submission after a success', async () => {
    const page = await openCreate()
    await submitted(page, 'a cat')
    page.onCreateAgain()

    await submitted(page, 'a cat')

    const sent = keys()
    expect(sent).toHaveLength(2)
    expect(sent[0]).not.toBe(sent[1])
  })
})

describe('polling', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] })
  })

  // advance moves the fake clock and lets the answers it triggers arrive.
  async function advance(ms) {
    jest.advanceTimersByTime(ms)
    await flush()
  }

  test('backs off from 1 s to 5 s while the generation runs', async () => {
    const page = await openCreate()
    await submitted(page)
    generation.status = 'running'
    const start = Date.now()

    const gaps = [1000, 2000, 4000, 5000, 5000]
    for (const gap of gaps) {
      const before = polls.length
      await advance(gap - 1)
      expect(polls).toHaveLength(before)
      await advance(1)
      expect(polls).toHaveLength(before + 1)
    }

    expect(polls.map((t) => t - start)).toEqual([1000, 3000, 7000, 12000, 17000])
    expect(page.data.phase).toBe('polling')
    expect(page.data.generation.status).toBe('running')
  })

  test('stops on success and shows the result with its actions', async () => {
    const page = await openCreate()
    await submitted(page)
    await advance(1000)
    generation = Object.assign({}, generation, { status: 'succeeded', wallpaper: wallpaper(7), finished_at: '2026-11-23T05:00:30Z' })

    await advance(2000)
    const count = polls.length
    await advance(60000)

    expect(polls).toHaveLength(count)
    expect(page.data.phase).toBe('succeeded')
    expect(page.data.generation.wallpaper.id).toBe('w-7')

    page.onOpenResult(tap())
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/detail/detail?id=w-7' })

    page.onCreateAgain(tap())
    expect(page.data).toMatchObject({ phase: 'form', generation: null, prompt: '雨后的霓虹街道' })
  })

  test('stops on failure, says why and reloads the refunded quota', async () => {
    const page = await openCreate()
    await submitted(page)
    const mesCalls = server.callsTo('GET', '/api/v1/me').length
    generation = Object.assign({}, generation, { status: 'failed', error: { code: 'upstream_error', message: 'image model unavailable' } })
    quota = Object.assign({}, quota, { remaining: 8 })

    await advance(1000)
    const count = polls.length
    await advance(60000)

    expect(polls).toHaveLength(count)
    expect(page.data.phase).toBe('failed')
    expect(page.data.failure).toBe('服务繁忙，请稍后再试')
    expect(server.callsTo('GET', '/api/v1/me').length).toBe(mesCalls + 1)
    expect(page.data.quota.remaining).toBe(8)
  })

  test.each(Object.keys(FAILURES))('a generation failed with %s says why in Chinese and that the unit is back', async (code) => {
    const page = await openCreate()
    await submitted(page)
    generation = Object.assign({}, generation, { status: 'failed', error: { code, message: 'the generation took too long; your quota unit is returned' } })

    await advance(1000)

    expect(page.data).toMatchObject({ phase: 'failed', failure: FAILURES[code], refunded: true })
    expect(page.data.failure).not.toMatch(/[A-Za-z]{3,}/)
  })

  test('a generation that cannot be read any more (404) says so, without claiming a refund', async () => {
    const page = await openCreate()
    await submitted(page)
    generation = null

    await advance(1000)

    expect(page.data).toMatchObject({ phase: 'failed', failure: '内容不存在或已被删除', refunded: false })
  })

  test('stops at its cap and points to the history', async () => {
    const { MAX_POLLS } = require('../utils/generations')
    const page = await openCreate()
    await submitted(page)
    generation.status = 'running'

    for (let i = 0; i < MAX_POLLS + 5; i++) await advance(5000)

    expect(polls).toHaveLength(MAX_POLLS)
    expect(page.data.phase).toBe('waiting')
    page.onOpenHistory()
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/history/history' })
  })

  test('waits as long as Retry-After says when polling is rate limited', async () => {
    const page = await openCreate()
    await submitted(page)
    server.route('GET', `${GEN_PATH}/{id}`, () => {
      polls.push(Date.now())
      return error(429, 'rate_limited', 'slow down', { 'Retry-After': '20' })
    })

    await advance(1000)
    expect(polls).toHaveLength(1)
    await advance(19999)
    expect(polls).toHaveLength(1)
    await advance(1)
    expect(polls).toHaveLength(2)
  })

  test('pauses while hidden and asks at once when shown again', async () => {
    const page = await openCreate()
    await submitted(page)
    generation.status = 'running'
    await advance(1000)
    expect(polls).toHaveLength(1)

    page.onHide()
    await advance(120000)
    expect(polls).toHaveLength(1)

    generation.status = 'succeeded'
    generation.wallpaper = wallpaper(3)
    page.onShow()
    await flush()
    expect(polls).toHaveLength(2)
    expect(page.data.phase).toBe('succeeded')
  })

  test('a hide while a poll is in flight does not schedule the next one', async () => {
    const page = await openCreate()
    await submitted(page)
    generation.status = 'running'
    jest.advanceTimersByTime(1000) // the poll is sent, its answer not yet in
    page.onHide()
    await flush()
    await advance(60000)
    expect(polls).toHaveLength(1)

    page.onShow()
    await flush()
    expect(polls).toHaveLength(2)
    await advance(4000) // the back-off went on: 1 s, 2 s, then 4 s
    expect(polls).toHaveLength(3)
  })

  test('stops on unload', async () => {
    const page = await openCreate()
    await submitted(page)

    page.onUnload()
    await advance(60000)

    expect(polls).toHaveLength(0)
  })

  test('keeps polling at the slowest pace through a network error', async () => {
    const page = await openCreate()
    await submitted(page)
    generation.status = 'running'
    server.route('GET', `${GEN_PATH}/{id}`, () => {
      polls.push(Date.now())
      return { fail: 'request:fail timeout' }
    })

    await advance(1000)
    expect(polls).toHaveLength(1)
    await advance(4999)
    expect(polls).toHaveLength(1)
    await advance(1)
    expect(polls).toHaveLength(2)
    expect(page.data.phase).toBe('polling')
  })
})
