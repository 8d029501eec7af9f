// Saving an image to the phone's album, permission first: nothing is
// downloaded before album access is known to be granted. A refusal leads to
// the settings page (once refused, WeChat does not ask again), and the save
// goes on if access was switched on there.
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

function wxCall(name, options) {
  return new Promise((resolve, reject) => {
    wx[name](Object.assign({}, options, { success: resolve, fail: reject }))
  })
}

// download fetches a file (its host must be on the downloadFile allow-list)
// and answers its temporary path; a non-200 answer is a failure.
function download(url) {
  return wxCall('downloadFile', { url }).then((res) =>
    res.statusCode === 200 ? res.tempFilePath : Promise.reject({ errMsg: `downloadFile:fail status ${res.statusCode}`, statusCode: res.statusCode }),
  )
}

// openSettings explains why access is needed and sends the user to the
// settings page; resolves true when album access is on when they return.
function openSettings() {
  return new Promise((resolve) => {
    wx.showModal({
      title: '需要相册权限',
      content: '保存图片需要“添加到相册”权限，请在设置中打开',
      confirmText: '去设置',
      success: (res) => {
        if (!res.confirm) return resolve(false)
        wx.openSetting({
          success: (setting) => resolve(Boolean(setting.authSetting && setting.authSetting[ALBUM_SCOPE])),
          fail: () => resolve(false),
        })
      },
      fail: () => resolve(false),
    })
  })
}

// albumAccess resolves true once album access is granted: at once when it
// already is, through WeChat's prompt when it was never asked, through the
// settings page when it was refused.
function albumAccess() {
  return wxCall('getSetting', {})
    .then((res) => (res && res.authSetting ? res.authSetting[ALBUM_SCOPE] : undefined), () => undefined)
    .then((granted) => {
      if (granted === true) return true
      if (granted === false) return openSettings()
      return wxCall('authorize', { scope: ALBUM_SCOPE }).then(
        () => true,
        (err) => (userCancelled(err && err.errMsg) ? false : openSettings()),
      )
    })
}

// saveImage saves {url} (downloaded once access is granted) or {filePath}
// to the album and tells the user how it went. Resolves 'saved',
// 'denied', 'cancelled' or 'failed'.
function saveImage(source) {
  return albumAccess().then((granted) => {
    if (!granted) return 'denied'
    wx.showLoading({ title: '保存中', mask: true })
    const file = source.filePath ? Promise.resolve(source.filePath) : download(source.url)
    let path = ''
    return file
      .then((p) => {
        path = p
        return wxCall('saveImageToPhotosAlbum', { filePath: p })
      })
      .then(
        () => {
          wx.hideLoading()
          wx.showToast({ title: '已保存到相册', icon: 'success' })
          return 'saved'
        },
        (err) => {
          wx.hideLoading()
          const errMsg = (err && err.errMsg) || ''
          if (userCancelled(errMsg)) return 'cancelled'
          // Access switched off between the check and the save.
          if (path && albumDenied(errMsg)) {
            return openSettings().then((again) => {
              if (!again) return 'denied'
              return wxCall('saveImageToPhotosAlbum', { filePath: path }).then(
                () => {
                  wx.showToast({ title: '已保存到相册', icon: 'success' })
                  return 'saved'
                },
                () => {
                  wx.showToast({ title: '保存失败，请重试', icon: 'none' })
                  return 'failed'
                },
              )
            })
          }
          wx.showToast({ title: path ? '保存失败，请重试' : '图片下载失败，请重试', icon: 'none' })
          return 'failed'
        },
      )
  })
}

module.exports = { ALBUM_SCOPE, albumAccess, download, saveImage }
