// The mini-program's API layer against a real, running wallpaperd in dev
// mode (dev login codes, the offline image generator):
//
//   WALLPAPERD_URL=http://127.0.0.1:8080 npm run test:live
//
// jest.config.js leaves this file out unless WALLPAPERD_URL is set, because
// it needs that server; the fake server of the other tests follows the same
// rules, and this run is how those rules are checked against the real one.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { createLiveWx } = require('./helpers/livewx')

const BASE_URL = process.env.WALLPAPERD_URL
// A 1×1 PNG: the avatar endpoint sniffs the type from the bytes.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64')

let api
let request
const run = { user: `live${Date.now().toString(36)}` }

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

test('logs in with the dev code on the first call and reads the profile with its quota', async () => {
  const me = await api.getMe()

  expect(me.id).toEqual(expect.any(String))
  expect(me.quota).toEqual(expect.objectContaining({ daily_limit: expect.any(Number), remaining: expect.any(Number) }))
  expect(wx.getStorageSync(request.STORAGE_KEYS.refresh)).not.toBe('')
  run.quota = me.quota
})

test('PATCH /me goes through as POST with X-HTTP-Method-Override', async () => {
  const user = await api.updateMe({ nickname: '小程序测试' })

  expect(user.nickname).toBe('小程序测试')
})

test('the avatar uploads as multipart "file" through POST /me/avatar', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mp-live-')), 'avatar.png')
  fs.writeFileSync(file, PNG)

  const user = await api.uploadAvatar(file)

  expect(user.avatar_url).toMatch(/^https?:\/\//)
})

test('an expired access token is renewed with the refresh token and the call retried', async () => {
  wx.setStorageSync(request.STORAGE_KEYS.access, 'not-a-token')
  const refreshBefore = wx.getStorageSync(request.STORAGE_KEYS.refresh)

  const me = await api.getMe()

  expect(me.nickname).toBe('小程序测试')
  expect(wx.getStorageSync(request.STORAGE_KEYS.refresh)).not.toBe(refreshBefore)
})

test('a generation is accepted once per Idempotency-Key and polled to success', async () => {
  const body = { prompt: '霓虹雨夜里的一只猫', size: '1024x1792', style: 'vivid' }
  const key = `mp-live-${run.user}`
  const first = await api.createGeneration(body, key)
  const again = await api.createGeneration(body, key)
  expect(again.id).toBe(first.id)

  let generation = first
  for (let i = 0; i < 120 && !['succeeded', 'failed'].includes(generation.status); i++) {
    await sleep(500)
    generation = await api.getGeneration(first.id)
  }
  expect(generation.status).toBe('succeeded')
  expect(generation.wallpaper.thumbnail_url).toMatch(/^https?:\/\//)
  run.wallpaper = generation.wallpaper

  const me = await api.getMe()
  expect(me.quota.used_today).toBe(run.quota.used_today + 1)
})

test('detail, like and unlike, visibility, and the two lists', async () => {
  const id = run.wallpaper.id
  const detail = await api.getWallpaper(id)
  expect(detail).toMatchObject({ id, prompt: '霓虹雨夜里的一只猫' })

  expect(await api.likeWallpaper(id)).toEqual({ liked: true, like_count: 1 })
  expect(await api.unlikeWallpaper(id)).toEqual({ liked: false, like_count: 0 })

  const shown = await api.updateWallpaper(id, { public: true })
  expect(shown.public).toBe(true)
  const feed = await api.listWallpapers({ limit: 50 })
  expect(feed.items.map((w) => w.id)).toContain(id)
  expect(feed).toHaveProperty('next_cursor')

  const hidden = await api.updateWallpaper(id, { public: false })
  expect(hidden.public).toBe(false)
  const mine = await api.listMyWallpapers({ limit: 50 })
  expect(mine.items.map((w) => w.id)).toContain(id)
})

test('delete answers 204 and the wallpaper is gone', async () => {
  await expect(api.deleteWallpaper(run.wallpaper.id)).resolves.toBeNull()

  const err = await api.getWallpaper(run.wallpaper.id).catch((e) => e)
  expect(err).toMatchObject({ statusCode: 404, code: 'not_found', message: '内容不存在或已被删除' })
  expect(err.requestId).not.toBe('')
})

test('a refused prompt comes back as a readable error', async () => {
  const err = await api.createGeneration({ prompt: '   ' }, `mp-live-empty-${run.user}`).catch((e) => e)

  expect(err.statusCode).toBeGreaterThanOrEqual(400)
  expect(err.statusCode).toBeLessThan(500)
  expect(err.message).not.toBe('')
  expect(err.requestId).not.toBe('')
})
