// The launch surface of the API (issues 16 and 17) through the
// mini-program's API layer, against a running dev-mode wallpaperd that has
// it:
//
//   WALLPAPERD_URL=http://127.0.0.1:8080 npm run test:live
//
// Like live.test.js it runs only when asked (jest.config.js).
const { createLiveWx } = require('./helpers/livewx')

const BASE_URL = process.env.WALLPAPERD_URL
const run = { user: `launch${Date.now().toString(36)}` }

let api
let request

beforeAll(() => {
  global.wx = createLiveWx()
  jest.isolateModules(() => {
    jest.doMock('../config', () => Object.assign({}, jest.requireActual('../config'), { baseURL: BASE_URL, devLoginCode: `dev-${run.user}` }))
    api = require('../utils/api')
    request = require('../utils/request')
  })
})

afterAll(() => {
  delete global.wx
})

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

test('client-config and presets answer without a login', async () => {
  const config = await api.getClientConfig()
  expect(config).toEqual(expect.objectContaining({ reports_enabled: expect.any(Boolean), daily_limit: expect.any(Number) }))

  const presets = await api.listPresets()
  expect(presets.length).toBeGreaterThan(0)
  presets.forEach((p) => expect(p.name).toMatch(/[\u4e00-\u9fff]/))
  run.preset = presets[0].id
  expect(wx.getStorageSync(request.STORAGE_KEYS.access)).toBe('')
})

test('a private generation with a preset and notify is accepted, recorded and listed in the history', async () => {
  const created = await api.createGeneration({ prompt: '雪山日出', size: '1024x1792', style: 'vivid', quality: 'standard', preset: run.preset, public: false, notify: false }, `mp-launch-${run.user}`)
  expect(created).toMatchObject({ status: 'queued', preset: run.preset, public: false })

  let generation = created
  for (let i = 0; i < 120 && !['succeeded', 'failed'].includes(generation.status); i++) {
    await sleep(500)
    generation = await api.getGeneration(created.id)
  }
  expect(generation.status).toBe('succeeded')
  expect(generation.wallpaper).toMatchObject({ ai_generated: true, preset: run.preset, public: false })

  const history = await api.listMyGenerations({ limit: 20 })
  expect(history.items.map((g) => g.id)).toContain(created.id)
  run.private = generation.wallpaper.id
})

test('a private wallpaper is 404 to an anonymous caller', async () => {
  const anonymous = createLiveWx()
  const own = global.wx
  global.wx = anonymous
  try {
    const err = await api.getWallpaper(run.private).catch((e) => e)
    expect(err).toMatchObject({ statusCode: 404, code: 'not_found' })
  } finally {
    global.wx = own
  }
})

test('logout revokes the session; signing in again works', async () => {
  await api.logout()
  expect(wx.getStorageSync(request.STORAGE_KEYS.access)).toBe('')
  await expect(api.getMe()).rejects.toMatchObject({ code: 'signed_out' })

  await api.signIn()
  await expect(api.getMe()).resolves.toEqual(expect.objectContaining({ id: expect.any(String) }))
})

test('注销: after DELETE /me the same WeChat user starts a new, empty account', async () => {
  const before = await api.getMe()

  await api.deleteMe()
  await api.signIn()
  const after = await api.getMe()

  expect(after.id).not.toBe(before.id)
  const mine = await api.listMyWallpapers({ limit: 50 })
  expect(mine.items).toEqual([])
})
