// Mine: the profile (avatar, nickname), today's quota, and the user's own
// wallpapers, private ones included, each with a public/private switch and
// a delete that asks first.
const api = require('../../utils/api')
const { showError } = require('../../utils/request')

const PAGE_SIZE = 20
const MAX_NICKNAME_RUNES = 32

function runeCount(text) {
  return Array.from(text || '').length
}

Page({
  data: {
    user: null,
    quota: null,
    uploading: false,
    savingNickname: false,
    items: [],
    cursor: '',
    hasMore: true,
    loading: false,
    error: '',
  },

  // onShow reloads everything: a wallpaper made on the create tab should be
  // here when the user comes back.
  onShow() {
    return Promise.all([this.loadMe(), this.reload()])
  },

  onPullDownRefresh() {
    return this.onShow().then(() => wx.stopPullDownRefresh())
  },

  onReachBottom() {
    return this.loadMore()
  },

  loadMe() {
    return api.getMe().then(
      (me) => this.setData({ user: { id: me.id, nickname: me.nickname, avatar_url: me.avatar_url }, quota: me.quota }),
      (err) => showError(err),
    )
  },

  // onChooseAvatar receives the temp file WeChat made from the user's pick
  // and uploads it; the picked image shows while it uploads.
  onChooseAvatar(e) {
    const filePath = e.detail && e.detail.avatarUrl
    if (!filePath || this.data.uploading) return Promise.resolve()
    const previous = this.data.user ? this.data.user.avatar_url : ''
    this.setData({ uploading: true, 'user.avatar_url': filePath })
    return api.uploadAvatar(filePath).then(
      (user) => {
        this.setData({ uploading: false, 'user.avatar_url': user.avatar_url })
        wx.showToast({ title: '头像已更新', icon: 'success' })
      },
      (err) => {
        this.setData({ uploading: false, 'user.avatar_url': previous })
        showError(err)
      },
    )
  },

  // onNicknameSave runs on blur and on confirm (both fire for one edit);
  // an unchanged name or one already being saved is not sent again.
  onNicknameSave(e) {
    const nickname = ((e.detail && e.detail.value) || '').trim()
    const current = this.data.user ? this.data.user.nickname : ''
    if (!nickname || nickname === current || this.data.savingNickname) return Promise.resolve()
    if (runeCount(nickname) > MAX_NICKNAME_RUNES) {
      wx.showToast({ title: `昵称最多 ${MAX_NICKNAME_RUNES} 个字`, icon: 'none' })
      this.setData({ 'user.nickname': current })
      return Promise.resolve()
    }
    this.setData({ savingNickname: true, 'user.nickname': nickname })
    return api.updateMe({ nickname }).then(
      (user) => {
        this.setData({ savingNickname: false, 'user.nickname': user.nickname })
        wx.showToast({ title: '昵称已更新', icon: 'success' })
      },
      (err) => {
        this.setData({ savingNickname: false, 'user.nickname': current })
        showError(err)
      },
    )
  },

  reload() {
    this.seq = (this.seq || 0) + 1
    const seq = this.seq
    this.setData({ loading: true, error: '' })
    return api.listMyWallpapers({ limit: PAGE_SIZE }).then(
      (page) => {
        if (seq !== this.seq) return
        const cursor = (page && page.next_cursor) || ''
        this.setData({ items: (page && page.items) || [], cursor, hasMore: Boolean(cursor), loading: false })
      },
      (err) => {
        if (seq !== this.seq) return
        this.setData({ loading: false, error: err.message })
      },
    )
  },

  loadMore() {
    if (this.data.loading || !this.data.hasMore || !this.data.cursor) return Promise.resolve()
    const seq = this.seq
    this.setData({ loading: true })
    return api.listMyWallpapers({ cursor: this.data.cursor, limit: PAGE_SIZE }).then(
      (page) => {
        if (seq !== this.seq) return
        const seen = new Set(this.data.items.map((item) => item.id))
        const fresh = ((page && page.items) || []).filter((item) => !seen.has(item.id))
        const cursor = (page && page.next_cursor) || ''
        this.setData({ items: this.data.items.concat(fresh), cursor, hasMore: Boolean(cursor), loading: false })
      },
      (err) => {
        if (seq !== this.seq) return
        this.setData({ loading: false })
        showError(err)
      },
    )
  },

  indexOf(id) {
    return this.data.items.findIndex((item) => item.id === id)
  },

  onOpen(e) {
    const { id } = e.currentTarget.dataset
    if (id) wx.navigateTo({ url: `/pages/detail/detail?id=${encodeURIComponent(id)}` })
  },

  // onTogglePublic flips the switch at once and settles on the server's
  // answer; on failure the switch goes back.
  onTogglePublic(e) {
    const { id } = e.currentTarget.dataset
    const wanted = Boolean(e.detail.value)
    const index = this.indexOf(id)
    if (index < 0) return Promise.resolve()
    this.setData({ [`items[${index}].public`]: wanted })
    return api.updateWallpaper(id, { public: wanted }).then(
      (wallpaper) => {
        const at = this.indexOf(id)
        if (at >= 0) this.setData({ [`items[${at}]`]: wallpaper })
      },
      (err) => {
        const at = this.indexOf(id)
        if (at >= 0) this.setData({ [`items[${at}].public`]: !wanted })
        showError(err)
      },
    )
  },

  onDelete(e) {
    const { id } = e.currentTarget.dataset
    return new Promise((resolve) => {
      wx.showModal({
        title: '删除这张壁纸？',
        content: '删除后无法恢复',
        confirmText: '删除',
        confirmColor: '#e64340',
        success: (res) => resolve(Boolean(res.confirm)),
        fail: () => resolve(false),
      })
    }).then((confirmed) => {
      if (!confirmed) return undefined
      return api.deleteWallpaper(id).then(
        () => {
          this.setData({ items: this.data.items.filter((item) => item.id !== id) })
          wx.showToast({ title: '已删除', icon: 'success' })
        },
        (err) => showError(err),
      )
    })
  },

  onCreate() {
    wx.switchTab({ url: '/pages/create/create' })
  },
})
