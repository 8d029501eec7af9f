// The app itself holds no state: the session lives in storage through
// utils/request.js, and each page loads what it shows.
App({
  onLaunch() {
    // Say so when the network drops, rather than letting the next request
    // time out in silence.
    wx.onNetworkStatusChange((res) => {
      if (!res.isConnected) wx.showToast({ title: '网络已断开', icon: 'none' })
    })
    // A new version published while the app was cached: offer to restart.
    if (!wx.getUpdateManager) return
    const updater = wx.getUpdateManager()
    updater.onUpdateReady(() => {
      wx.showModal({
        title: '发现新版本',
        content: '新版本已准备好，是否重启应用？',
        success: (res) => {
          if (res.confirm) updater.applyUpdate()
        },
      })
    })
  },
})
