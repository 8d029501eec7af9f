// Detail: one wallpaper. The thumbnail shows at once and the original
// replaces it when loaded; the prompt can be copied, the wallpaper liked,
// saved to the album (with the way back when album access was denied) and
// shared as a link to this page.
const api = require('../../utils/api')
const { showError } = require('../../utils/request')

const ALBUM_SCOPE = 'scope.writePhotosAlbum'

// albumDenied recognises the ways WeChat reports a refused album permission
// ("auth deny", "auth denied", "authorize no response"), as opposed to the
// user cancelling or the privacy agreement being declined.
function albumDenied(errMsg) {
  return /auth den|authorize no response/i.test(errMsg || '')
}

function userCancelled(errMsg) {
  return /fail cancel/i.test(errMsg || '')
}

function download(url) {
  return new Promise((resolve, reject) => {
    wx.downloadFile({
      url,
      success: (res) => (res.statusCode === 200 ? resolve(res.tempFilePath) : reject({ errMsg: `downloadFile:fail status ${res.statusCode}` })),
      fail: reject,
    })
  })
}

function saveToAlbum(filePath) {
  return new Promise((resolve, reject) => {
    wx.saveImageToPhotosAlbum({ filePath, success: resolve, fail: reject })
  })
}

Page({
  data: {
    id: '',
    wallpaper: null,
    loading: true,
    error: '',
    // showOriginal flips once the full-size image has loaded in the
    // background; until then the (cached) thumbnail is shown.
    showOriginal: false,
    liking: false,
    saving: false,
  },

  onLoad(query) {
    const id = query && query.id ? decodeURIComponent(query.id) : ''
    this.setData({ id })
    return this.load()
  },

  load() {
    if (!this.data.id) {
      this.setData({ loading: false, error: '缺少壁纸编号' })
      return Promise.resolve()
    }
    this.setData({ loading: true, error: '' })
    return api.getWallpaper(this.data.id).then(
      (wallpaper) => this.setData({ wallpaper, loading: false }),
      (err) => this.setData({ loading: false, error: err.message }),
    )
  },

  onRetry() {
    return this.load()
  },

  onOriginalLoad() {
    this.setData({ showOriginal: true })
  },

  onPreview() {
    const wallpaper = this.data.wallpaper
    if (wallpaper) wx.previewImage({ urls: [wallpaper.image_url], current: wallpaper.image_url })
  },

  onCopyPrompt() {
    const wallpaper = this.data.wallpaper
    if (wallpaper) wx.setClipboardData({ data: wallpaper.prompt })
  },

  // onToggleLike shows the new state at once and settles on what the server
  // answers; on failure it puts the old state back.
  onToggleLike() {
    const wallpaper = this.data.wallpaper
    if (!wallpaper || this.data.liking) return Promise.resolve()
    const before = { liked: Boolean(wallpaper.liked), count: wallpaper.like_count }
    this.setData({
      liking: true,
      'wallpaper.liked': !before.liked,
      'wallpaper.like_count': Math.max(0, before.count + (before.liked ? -1 : 1)),
    })
    const call = before.liked ? api.unlikeWallpaper(wallpaper.id) : api.likeWallpaper(wallpaper.id)
    return call.then(
      (res) => this.setData({ liking: false, 'wallpaper.liked': res.liked, 'wallpaper.like_count': res.like_count }),
      (err) => {
        this.setData({ liking: false, 'wallpaper.liked': before.liked, 'wallpaper.like_count': before.count })
        showError(err)
      },
    )
  },

  // onSave downloads the original (its host must be on the downloadFile
  // allow-list) and writes it to the album.
  onSave() {
    const wallpaper = this.data.wallpaper
    if (!wallpaper || this.data.saving) return Promise.resolve()
    this.setData({ saving: true })
    wx.showLoading({ title: '保存中', mask: true })
    let filePath = ''
    return download(wallpaper.image_url)
      .then((path) => {
        filePath = path
        return saveToAlbum(path)
      })
      .then(
        () => {
          wx.hideLoading()
          wx.showToast({ title: '已保存到相册', icon: 'success' })
        },
        (err) => {
          wx.hideLoading()
          const errMsg = (err && err.errMsg) || ''
          if (userCancelled(errMsg)) return undefined
          if (filePath && albumDenied(errMsg)) return this.askForAlbum(filePath)
          wx.showToast({ title: filePath ? '保存失败，请重试' : '图片下载失败，请重试', icon: 'none' })
          return undefined
        },
      )
      .then(() => this.setData({ saving: false }))
  },

  // askForAlbum is the denied path: once refused, WeChat will not ask
  // again, so the user is sent to the settings page and the save retried if
  // they switched album access on there.
  askForAlbum(filePath) {
    return new Promise((resolve) => {
      wx.showModal({
        title: '需要相册权限',
        content: '保存壁纸需要“添加到相册”权限，请在设置中打开',
        confirmText: '去设置',
        success: (res) => {
          if (!res.confirm) return resolve()
          wx.openSetting({
            success: (setting) => {
              if (!setting.authSetting || !setting.authSetting[ALBUM_SCOPE]) return resolve()
              saveToAlbum(filePath).then(
                () => {
                  wx.showToast({ title: '已保存到相册', icon: 'success' })
                  resolve()
                },
                () => {
                  wx.showToast({ title: '保存失败，请重试', icon: 'none' })
                  resolve()
                },
              )
            },
            fail: () => resolve(),
          })
        },
        fail: () => resolve(),
      })
    })
  },

  onShareAppMessage() {
    const wallpaper = this.data.wallpaper
    const prompt = wallpaper ? Array.from(wallpaper.prompt).slice(0, 30).join('') : ''
    return {
      title: prompt || 'AI 壁纸',
      path: `/pages/detail/detail?id=${encodeURIComponent(this.data.id)}`,
      imageUrl: wallpaper ? wallpaper.thumbnail_url : undefined,
    }
  },
})
