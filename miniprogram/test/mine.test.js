const { createServer, error, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')
const { loadPage, tap } = require('./helpers/page')
const { STORAGE_KEYS } = require('../utils/request')

let server
let mine

beforeEach(() => {
  server = createServer()
  global.wx = createWx(server)
  mine = [wallpaper(3, { public: false }), wallpaper(2), wallpaper(1)]
  const quota = { daily_limit: 10, used_today: 3, remaining: 7, resets_at: '2026-11-24T00:00:00+08:00' }
  server.route('GET', '/api/v1/me', () => json(Object.assign({}, server.user, { quota })))
  server.route('PATCH', '/api/v1/me', (req) => {
    server.user.nickname = req.body.nickname
    return json(server.user)
  })
  server.route('POST', '/api/v1/me/avatar', (req) => {
    server.user.avatar_url = `https://img.test/avatars/${req.file.name}.png`
    return json(server.user)
  })
  server.route('GET', '/api/v1/me/wallpapers', (req) => {
    const start = req.query.cursor ? Number(req.query.cursor) : 0
    const limit = Number(req.query.limit)
    const next = start + limit < mine.length ? String(start + limit) : null
    return json({ items: mine.slice(start, start + limit), next_cursor: next })
  })
  server.route('PATCH', '/api/v1/wallpapers/{id}', (req) => {
    const w = mine.find((item) => item.id === req.params.id)
    w.public = req.body.public
    return json(w)
  })
  server.route('DELETE', '/api/v1/wallpapers/{id}', (req) => {
    mine = mine.filter((item) => item.id !== req.params.id)
    return { status: 204 }
  })
})

afterEach(() => {
  delete global.wx
  delete global.Page
})

async function openMine() {
  const page = loadPage('pages/mine/mine')
  page.onLoad({})
  await page.onShow()
  await flush()
  return page
}

test('shows the profile, the quota and my wallpapers, private ones too', async () => {
  const page = await openMine()

  expect(page.data.user).toEqual({ id: 'u-1', nickname: '', avatar_url: '' })
  expect(page.data.quota).toMatchObject({ remaining: 7, daily_limit: 10 })
  expect(page.data.items.map((w) => [w.id, w.public])).toEqual([
    ['w-3', false],
    ['w-2', true],
    ['w-1', true],
  ])
  expect(wx.login).toHaveBeenCalledTimes(1)
})

describe('avatar', () => {
  test('uploads the chosen avatar as multipart field "file" through the POST alias', async () => {
    const page = await openMine()

    await page.onChooseAvatar({ detail: { avatarUrl: 'wxfile://tmp/avatar.jpg' } })

    const call = server.callsTo('POST', '/api/v1/me/avatar')[0]
    expect(call.wireMethod).toBe('POST')
    expect(call.file).toEqual({ filePath: 'wxfile://tmp/avatar.jpg', name: 'file' })
    expect(call.header.Authorization).toMatch(/^Bearer at-/)
    expect(page.data.user.avatar_url).toBe('https://img.test/avatars/file.png')
    expect(page.data.uploading).toBe(false)
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '头像已更新' }))
  })

  test('shows the picked image while uploading and puts the old one back on failure', async () => {
    const page = await openMine()
    server.route('POST', '/api/v1/me/avatar', () => error(413, 'payload_too_large', 'avatar over 2 MiB'))

    const upload = page.onChooseAvatar({ detail: { avatarUrl: 'wxfile://tmp/huge.png' } })
    expect(page.data.user.avatar_url).toBe('wxfile://tmp/huge.png')
    await upload

    expect(page.data.user.avatar_url).toBe('')
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '文件太大，请选择 2 MB 以内的图片' }))
  })
})

describe('nickname', () => {
  // A user who set a nickname before (a new one has "").
  beforeEach(() => {
    server.user.nickname = '阿青'
  })

  // typed simulates the nickname input: what was typed, the blur, then
  // WeChat's verdict on it.
  function typed(page, value, verdict = { pass: true, timeout: false }) {
    page.onNicknameInput({ detail: { value } })
    page.onNicknameBlur({ detail: { value } })
    return page.onNicknameReview({ detail: verdict })
  }

  test('is saved as PATCH (POST + override) only once the review by WeChat passed', async () => {
    const page = await openMine()

    page.onNicknameInput({ detail: { value: '  小明  ' } })
    page.onNicknameBlur({ detail: { value: '  小明  ' } })
    await flush()
    expect(server.callsTo('PATCH', '/api/v1/me')).toHaveLength(0)

    await page.onNicknameReview({ detail: { pass: true, timeout: false } })

    const calls = server.callsTo('PATCH', '/api/v1/me')
    expect(calls).toHaveLength(1)
    expect(calls[0].wireMethod).toBe('POST')
    expect(calls[0].header['X-HTTP-Method-Override']).toBe('PATCH')
    expect(calls[0].body).toEqual({ nickname: '小明' })
    expect(page.data.user.nickname).toBe('小明')
  })

  const refused = [
    { name: 'WeChat refused it', verdict: { pass: false, timeout: false }, toast: '这个昵称不能使用，请换一个' },
    { name: 'the review by WeChat timed out', verdict: { pass: false, timeout: true }, toast: '昵称检查超时，请重试' },
  ]
  refused.forEach((tc) => {
    test(`is not saved when ${tc.name}`, async () => {
      const page = await openMine()

      await typed(page, '坏名字', tc.verdict)

      expect(server.callsTo('PATCH', '/api/v1/me')).toHaveLength(0)
      expect(page.data.user.nickname).toBe('阿青')
      expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: tc.toast }))
    })
  })

  const ignored = [
    { name: 'empty', value: '   ' },
    { name: 'unchanged', value: '阿青' },
    { name: 'longer than 32 characters', value: '名'.repeat(33), toast: '昵称最多 32 个字' },
  ]
  ignored.forEach((tc) => {
    test(`is not sent when ${tc.name}`, async () => {
      const page = await openMine()

      await typed(page, tc.value)

      expect(server.callsTo('PATCH', '/api/v1/me')).toHaveLength(0)
      expect(page.data.user.nickname).toBe('阿青')
      if (tc.toast) expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: tc.toast }))
    })
  })

  test('a nickname the server rejects is reverted with the reason', async () => {
    const page = await openMine()
    server.route('PATCH', '/api/v1/me', () => error(422, 'content_rejected', 'nickname rejected by moderation'))

    await typed(page, '坏名字')

    expect(page.data.user.nickname).toBe('阿青')
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '内容未通过审核，请修改后重试' }))
  })
})

describe('returning to the page', () => {
  test('keeps the pages already loaded and puts a new wallpaper on top', async () => {
    mine = Array.from({ length: 45 }, (_, i) => wallpaper(45 - i))
    const page = await openMine()
    await page.onReachBottom()
    expect(page.data.items).toHaveLength(40)

    mine.unshift(wallpaper(46))
    page.onHide()
    await page.onShow()

    expect(page.data.items).toHaveLength(41)
    expect(page.data.items[0].id).toBe('w-46')
    expect(page.data.items[40].id).toBe('w-6')
    expect(page.data.cursor).toBe('40')
  })

  test('does not overwrite the avatar preview while it uploads', async () => {
    const page = await openMine()
    let release
    server.route('POST', '/api/v1/me/avatar', () => new Promise((resolve) => {
      release = () => resolve(json(Object.assign({}, server.user, { avatar_url: 'https://img.test/avatars/new.png' })))
    }))

    const upload = page.onChooseAvatar({ detail: { avatarUrl: 'wxfile://tmp/pick.jpg' } })
    await flush()
    await page.onShow()
    await flush()
    expect(page.data.user.avatar_url).toBe('wxfile://tmp/pick.jpg')

    release()
    await upload
    expect(page.data.user.avatar_url).toBe('https://img.test/avatars/new.png')
  })
})

describe('account', () => {
  test('生成记录 opens the history', async () => {
    const page = await openMine()

    page.onOpenHistory()

    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/history/history' })
  })

  test('隐私政策 opens the privacy contract', async () => {
    const page = await openMine()

    page.onPrivacy()

    expect(wx.openPrivacyContract).toHaveBeenCalledTimes(1)
  })

  test('logout revokes on the server, clears the tokens and does not log in again by itself', async () => {
    server.route('POST', '/api/v1/auth/logout', () => ({ status: 204 }))
    const page = await openMine()
    const token = wx.getStorageSync(STORAGE_KEYS.access)

    await page.onLogout()

    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '退出登录？' }))
    const call = server.callsTo('POST', '/api/v1/auth/logout')
    expect(call).toHaveLength(1)
    expect(call[0].header.Authorization).toBe(`Bearer ${token}`)
    expect(wx.getStorageSync(STORAGE_KEYS.access)).toBe('')
    expect(wx.getStorageSync(STORAGE_KEYS.refresh)).toBe('')
    expect(page.data).toMatchObject({ signedOut: true, user: null, items: [] })

    await page.onShow()
    expect(wx.login).toHaveBeenCalledTimes(1)
    expect(page.data.signedOut).toBe(true)

    await page.onSignIn()
    await flush()
    expect(wx.login).toHaveBeenCalledTimes(2)
    expect(page.data.signedOut).toBe(false)
    expect(page.data.items).toHaveLength(3)
  })

  test('logout still clears the device when the server cannot be reached', async () => {
    server.route('POST', '/api/v1/auth/logout', () => ({ fail: 'request:fail timeout' }))
    const page = await openMine()

    await page.onLogout()

    expect(wx.getStorageSync(STORAGE_KEYS.access)).toBe('')
    expect(page.data.signedOut).toBe(true)
  })

  test('注销账号 asks first, then DELETE /me and the session is gone', async () => {
    server.route('DELETE', '/api/v1/me', () => ({ status: 204 }))
    const page = await openMine()

    await page.onDeleteAccount()

    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '注销账号？', confirmText: '注销' }))
    expect(server.callsTo('DELETE', '/api/v1/me')).toHaveLength(1)
    expect(wx.getStorageSync(STORAGE_KEYS.access)).toBe('')
    expect(page.data.signedOut).toBe(true)
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '账号已注销' }))
  })

  test('注销账号 does nothing when not confirmed', async () => {
    server.route('DELETE', '/api/v1/me', () => ({ status: 204 }))
    const page = await openMine()
    wx.showModal.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ confirm: false, cancel: true })))

    await page.onDeleteAccount()

    expect(server.callsTo('DELETE', '/api/v1/me')).toHaveLength(0)
    expect(page.data.signedOut).toBe(false)
  })

  test('a failed 注销 says why and keeps the account', async () => {
    server.route('DELETE', '/api/v1/me', () => error(503, 'unavailable', 'database unavailable'))
    const page = await openMine()

    await page.onDeleteAccount()

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '服务暂时不可用，请稍后再试' }))
    expect(wx.getStorageSync(STORAGE_KEYS.access)).not.toBe('')
    expect(page.data.signedOut).toBe(false)
  })
})

describe('my wallpapers', () => {
  test('the public switch sends PATCH {public} and keeps the answer', async () => {
    const page = await openMine()

    await page.onTogglePublic(tap({ id: 'w-3' }, { value: true }))

    const call = server.callsTo('PATCH', '/api/v1/wallpapers/w-3')[0]
    expect(call.body).toEqual({ public: true })
    expect(call.header['X-HTTP-Method-Override']).toBe('PATCH')
    expect(page.data.items[0].public).toBe(true)
  })

  test('a failed switch goes back', async () => {
    const page = await openMine()
    server.route('PATCH', '/api/v1/wallpapers/{id}', () => error(403, 'forbidden', 'not the owner'))

    await page.onTogglePublic(tap({ id: 'w-2' }, { value: false }))

    expect(page.data.items[1].public).toBe(true)
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '没有权限执行此操作' }))
  })

  test('delete asks first and removes the wallpaper once confirmed', async () => {
    const page = await openMine()

    await page.onDelete(tap({ id: 'w-2' }))

    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '删除这张壁纸？' }))
    expect(server.callsTo('DELETE', '/api/v1/wallpapers/w-2')).toHaveLength(1)
    expect(page.data.items.map((w) => w.id)).toEqual(['w-3', 'w-1'])
  })

  test('delete does nothing when not confirmed', async () => {
    const page = await openMine()
    wx.showModal.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ confirm: false, cancel: true })))

    await page.onDelete(tap({ id: 'w-2' }))

    expect(server.callsTo('DELETE', '/api/v1/wallpapers/w-2')).toHaveLength(0)
    expect(page.data.items).toHaveLength(3)
  })

  test('pages by cursor at the bottom', async () => {
    mine = Array.from({ length: 25 }, (_, i) => wallpaper(25 - i))
    const page = await openMine()
    expect(page.data.items).toHaveLength(20)

    await page.onReachBottom()

    expect(page.data.items).toHaveLength(25)
    expect(page.data.hasMore).toBe(false)
  })
})

describe('banned', () => {
  // banAccount makes the server treat the user as banned: the session's
  // calls answer 403 banned, and so does a new login (the ban revoked the
  // refresh tokens: the mini-program cannot get a token any more).
  // With { login: false } only the session's calls are refused: the
  // access token still lives.
  function banAccount({ login = true } = {}) {
    const banned = () => error(403, 'banned', 'this account is banned')
    server.route('GET', '/api/v1/me', banned)
    server.route('GET', '/api/v1/me/wallpapers', banned)
    if (login) server.route('POST', '/api/v1/auth/login', banned, { auth: false })
  }

  function deleteAnswers(answer) {
    server.route('POST', '/api/v1/auth/delete-account', answer, { auth: false })
  }

  test('shows the ban in Chinese with 注销账号 instead of the profile and the list', async () => {
    banAccount()
    const page = await openMine()

    expect(page.data.banned).toBe(true)
    expect(page.data.user).toBeNull()
    expect(page.data.items).toEqual([])
    expect(page.data.error).toBe('')
    expect(server.callsTo('POST', '/api/v1/auth/login').length).toBeGreaterThan(0)
  })

  test('注销账号 asks first, then sends a fresh wx.login code (no token) and the device stays signed out', async () => {
    banAccount()
    deleteAnswers(() => ({ status: 204 }))
    const page = await openMine()
    const codes = wx.login.mock.calls.length

    await page.onDeleteBannedAccount()

    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '注销账号？', confirmText: '注销' }))
    expect(wx.showModal.mock.calls[0][0].content).toContain('封禁在注销后依然有效')
    expect(wx.login).toHaveBeenCalledTimes(codes + 1)
    const calls = server.callsTo('POST', '/api/v1/auth/delete-account')
    expect(calls).toHaveLength(1)
    expect(calls[0].body).toEqual({ code: expect.stringMatching(/^code-\d+$/) })
    expect(calls[0].header.Authorization).toBeUndefined()
    expect(page.data.banned).toBe(false)
    expect(page.data.signedOut).toBe(true)
    expect(wx.getStorageSync(STORAGE_KEYS.signedOut)).toBe(true)
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '账号已注销' }))
  })

  test('注销账号 does nothing when not confirmed', async () => {
    banAccount()
    deleteAnswers(() => ({ status: 204 }))
    const page = await openMine()
    wx.showModal.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ confirm: false, cancel: true })))

    await page.onDeleteBannedAccount()

    expect(server.callsTo('POST', '/api/v1/auth/delete-account')).toHaveLength(0)
    expect(page.data.banned).toBe(true)
  })

  test('an account already gone (a retry whose answer was lost) counts as deleted', async () => {
    banAccount()
    deleteAnswers(() => error(404, 'not_found', 'this WeChat user has no account'))
    const page = await openMine()

    await page.onDeleteBannedAccount()

    expect(page.data.signedOut).toBe(true)
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '账号已注销' }))
  })

  test('a ban lifted meanwhile (not_banned) says so and shows the account again', async () => {
    banAccount({ login: false })
    const page = await openMine()
    expect(page.data.banned).toBe(true)
    deleteAnswers(() => {
      // The admin unbanned the user: the session works again.
      const quota = { daily_limit: 10, used_today: 0, remaining: 10, resets_at: '2026-11-24T00:00:00+08:00' }
      server.route('GET', '/api/v1/me', () => json(Object.assign({}, server.user, { quota })))
      server.route('GET', '/api/v1/me/wallpapers', () => json({ items: mine, next_cursor: null }))
      return error(403, 'not_banned', 'this account is not banned')
    })

    await page.onDeleteBannedAccount()
    await flush()

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '账号未被封禁，请在「我的」页面注销账号' }))
    expect(page.data.banned).toBe(false)
    expect(page.data.signedOut).toBe(false)
    expect(page.data.user).toMatchObject({ id: 'u-1' })
    expect(page.data.items.map((w) => w.id)).toEqual(['w-3', 'w-2', 'w-1'])
  })

  test('a failed 注销 says why and keeps the ban shown', async () => {
    banAccount()
    deleteAnswers(() => error(429, 'rate_limited', 'too many login attempts', { 'Retry-After': '30' }))
    const page = await openMine()

    await page.onDeleteBannedAccount()

    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '操作太频繁，请 30 秒后再试' }))
    expect(page.data.banned).toBe(true)
    expect(page.data.signedOut).toBe(false)
  })
})
