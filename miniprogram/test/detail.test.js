const { createServer, error, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')
const { loadPage } = require('./helpers/page')

let server
let likes

beforeEach(() => {
  server = createServer()
  global.wx = createWx(server)
  likes = { liked: false, like_count: 4 }
  server.route('GET', '/api/v1/wallpapers/{id}', (req) => {
    if (req.params.id !== 'w-4') return error(404, 'not_found', 'wallpaper not found')
    return json(wallpaper(4, { prompt: '霓虹雨夜里的一只猫', liked: likes.liked, like_count: likes.like_count }))
  })
  server.route('PUT', '/api/v1/wallpapers/{id}/like', () => {
    if (!likes.liked) likes = { liked: true, like_count: likes.like_count + 1 }
    return json(likes)
  })
  server.route('DELETE', '/api/v1/wallpapers/{id}/like', () => {
    if (likes.liked) likes = { liked: false, like_count: likes.like_count - 1 }
    return json(likes)
  })
})

afterEach(() => {
  delete global.wx
  delete global.Page
})

async function openDetail(id = 'w-4') {
  const page = loadPage('pages/detail/detail')
  page.onLoad({ id })
  await flush()
  return page
}

// albumRefusal makes the next saveImageToPhotosAlbum fail as WeChat does
// when album access was denied.
function albumRefusal(errMsg = 'saveImageToPhotosAlbum:fail auth deny') {
  wx.saveImageToPhotosAlbum.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.fail({ errMsg })))
}

describe('loading', () => {
  test('logs in and shows the wallpaper, thumbnail first', async () => {
    const page = await openDetail()

    expect(wx.login).toHaveBeenCalledTimes(1)
    expect(page.data).toMatchObject({ loading: false, error: '', showOriginal: false })
    expect(page.data.wallpaper.id).toBe('w-4')

    page.onOriginalLoad()
    expect(page.data.showOriginal).toBe(true)
  })

  test('a missing wallpaper shows the error state', async () => {
    const page = await openDetail('w-404')

    expect(page.data).toMatchObject({ loading: false, wallpaper: null, error: '内容不存在或已被删除' })
  })

  test('copies the prompt', async () => {
    const page = await openDetail()

    page.onCopyPrompt()

    expect(wx.setClipboardData).toHaveBeenCalledWith(expect.objectContaining({ data: '霓虹雨夜里的一只猫' }))
  })

  test('shares a link to this detail page', async () => {
    const page = await openDetail()

    const share = page.onShareAppMessage({ from: 'button' })

    expect(share).toEqual({ title: '霓虹雨夜里的一只猫', path: '/pages/detail/detail?id=w-4', imageUrl: 'https://img.test/w-4.thumb.jpg' })
  })
})

describe('like', () => {
  test('like then unlike follow the server', async () => {
    const page = await openDetail()

    await page.onToggleLike()
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

describe('save to album', () => {
  test('downloads the original and saves it', async () => {
    const page = await openDetail()

    await page.onSave()

    expect(wx.downloadFile).toHaveBeenCalledWith(expect.objectContaining({ url: 'https://img.test/w-4.png' }))
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledWith(expect.objectContaining({ filePath: 'wxfile://tmp/https%3A%2F%2Fimg.test%2Fw-4.png' }))
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已保存到相册' }))
    expect(wx.openSetting).not.toHaveBeenCalled()
    expect(page.data.saving).toBe(false)
  })

  test('denied: explains, opens the settings, and saves once access is granted there', async () => {
    const page = await openDetail()
    albumRefusal()
    wx.openSetting.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ authSetting: { 'scope.writePhotosAlbum': true } })))

    await page.onSave()

    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '需要相册权限', confirmText: '去设置' }))
    expect(wx.openSetting).toHaveBeenCalledTimes(1)
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledTimes(2)
    expect(wx.showToast).toHaveBeenLastCalledWith(expect.objectContaining({ title: '已保存到相册' }))
    expect(page.data.saving).toBe(false)
  })

  const refusals = [
    { name: 'the user keeps access off in the settings', confirm: true, granted: false, wantOpenSetting: 1 },
    { name: 'the user declines to go to the settings', confirm: false, granted: false, wantOpenSetting: 0 },
  ]
  refusals.forEach((tc) => {
    test(`denied: nothing is saved when ${tc.name}`, async () => {
      const page = await openDetail()
      albumRefusal('saveImageToPhotosAlbum:fail:auth denied')
      wx.showModal.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ confirm: tc.confirm, cancel: !tc.confirm })))
      wx.openSetting.mockImplementationOnce((opts) => Promise.resolve().then(() => opts.success({ authSetting: { 'scope.writePhotosAlbum': tc.granted } })))

      await page.onSave()

      expect(wx.openSetting).toHaveBeenCalledTimes(tc.wantOpenSetting)
      expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledTimes(1)
      expect(page.data.saving).toBe(false)
    })
  })

  test('a cancelled save is quiet', async () => {
    const page = await openDetail()
    albumRefusal('saveImageToPhotosAlbum:fail cancel')

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
