// Mine: the profile (avatar, nickname), today's quota, the user's own
// wallpapers (private ones included, each with a public/private switch and
// a delete that asks first), and the account: 生成记录, the privacy policy,
// logout and account deletion (注销). A banned user sees the ban and may
// still delete the account, with a fresh wx.login code (a ban leaves no
// session).
const api = require('../../utils/api')
const { showError } = require('../../utils/request')
const { mergeHead } = require('../../utils/list')
const { resetText, runeCount } = require('../../utils/format')

const PAGE_SIZE = 20
const MAX_NICKNAME_RUNES = 32

Page({
  data: {
    signedOut: false,
    // banned: the API answered 403 banned; the page shows the ban and the
    // one thing left to do, 注销账号.
    banned: false,
    user: null,
    quota: null,
    resetsAt: '',
    uploading: false,
    savingNickname: false,
    items: [],
    cursor: '',
    hasMore: true,
    loading: false,
    error: '',
  },

  // onShow refreshes the profile and the head of the list: a wallpaper
  // made on the create tab appears at the top, while the pages the user
  // scrolled through (and the avatar being uploaded) stay as they are.
  onShow() {
    if (api.isSignedOut()) {
      this.setData({ signedOut: true, user: null, quota: null, items: [], cursor: '', hasMore: true, error: '' })
      this.loaded = false
      return Promise.resolve()
    }
    this.setData({ signedOut: false })
    const list = this.loaded ? this.refreshHead() : this.reload()
    this.loaded = true
    return Promise.all([this.loadMe(), list])
  },

  onPullDownRefresh() {
    if (this.data.signedOut) {
      wx.stopPullDownRefresh()
      return Promise.resolve()
    }
    return Promise.all([this.loadMe(), this.reload()]).then(() => wx.stopPullDownRefresh())
  },

  onReachBottom() {
    return this.loadMore()
  },

  // loadMe shows the profile; a field the user is changing right now (the
  // avatar while it uploads, the nickname while it is checked and saved)
  // keeps what the user sees.
  loadMe() {
    return api.getMe().then(
      (me) => {
        const patch = { banned: false, quota: me.quota, resetsAt: resetText(me.quota && me.quota.resets_at) }
        if (!this.data.user) {
          patch.user = { id: me.id, nickname: me.nickname, avatar_url: me.avatar_url }
        } else {
          patch['user.id'] = me.id
          if (!this.data.uploading) patch['user.avatar_url'] = me.avatar_url
          if (!this.data.savingNickname && !this.nicknameDraft) patch['user.nickname'] = me.nickname
        }
        this.setData(patch)
      },
      (err) => {
        if (err && err.code === 'banned') {
          this.bannedState()
          return
        }
        showError(err)
      },
    )
  },

  // bannedState replaces the profile and the list with the ban; the next
  // onShow asks again (a ban can be lifted).
  bannedState() {
    this.loaded = false
    this.seq = (this.seq || 0) + 1
    this.setData({ banned: true, user: null, quota: null, resetsAt: '', items: [], cursor: '', hasMore: true, loading: false, error: '' })
  },

  // onSignIn logs in again after a logout; a banned user gets the ban
  // (and 注销账号) instead.
  onSignIn() {
    return api.signIn().then(
      () => this.onShow(),
      (err) => {
        if (err && err.code === 'banned') {
          this.setData({ signedOut: false })
          this.bannedState()
          return
        }
        showError(err)
      },
    )
  },

  // onChooseAvatar receives the temp file WeChat made from the user's pick
  // (WeChat has already checked it) and uploads it; the picked image shows
  // while it uploads.
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

  // The nickname is saved only after WeChat's own check of it has passed:
  // blur keeps what was typed, and WeChat then reports its verdict with
  // the nicknamereview event (it clears a refused name itself).
  onNicknameInput(e) {
    this.nicknameDraft = (e.detail && e.detail.value) || ''
  },

  onNicknameBlur(e) {
    this.nicknameDraft = (e.detail && e.detail.value) || ''
  },

  onNicknameReview(e) {
    const verdict = e.detail || {}
    const nickname = (this.nicknameDraft || '').trim()
    this.nicknameDraft = ''
    const current = this.data.user ? this.data.user.nickname : ''
    if (!verdict.pass) {
      this.setData({ 'user.nickname': current })
      wx.showToast({ title: verdict.timeout ? '昵称检查超时，请重试' : '这个昵称不能使用，请换一个', icon: 'none' })
      return Promise.resolve()
    }
    return this.saveNickname(nickname)
  },

  // saveNickname sends a checked nickname; an unchanged name or one
  // already being saved is not sent again.
  saveNickname(nickname) {
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
        if (this.data.items.length) {
          // Keep what the user already sees; a toast says the refresh failed.
          this.setData({ loading: false })
          showError(err)
          return
        }
        this.setData({ loading: false, error: err.message })
      },
    )
  },

  // refreshHead loads the first page again and merges it in front of what
  // is shown, keeping the deeper pages and the cursor.
  refreshHead() {
    if (this.data.loading) return Promise.resolve()
    const seq = this.seq
    return api.listMyWallpapers({ limit: PAGE_SIZE }).then(
      (page) => {
        if (seq !== this.seq) return
        const fresh = (page && page.items) || []
        if (!this.data.items.length) {
          const cursor = (page && page.next_cursor) || ''
          this.setData({ items: fresh, cursor, hasMore: Boolean(cursor), error: '' })
          return
        }
        this.setData({ items: mergeHead(this.data.items, fresh), error: '' })
      },
      () => {
        // What is shown stays; pulling down refreshes it all.
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

  confirm(options) {
    return new Promise((resolve) => {
      wx.showModal(Object.assign({}, options, { success: (res) => resolve(Boolean(res.confirm)), fail: () => resolve(false) }))
    })
  },

  onDelete(e) {
    const { id } = e.currentTarget.dataset
    return this.confirm({ title: '删除这张壁纸？', content: '删除后无法恢复', confirmText: '删除', confirmColor: '#e64340' }).then((confirmed) => {
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

  onOpenHistory() {
    wx.navigateTo({ url: '/pages/history/history' })
  },

  // onPrivacy opens the privacy policy the mini-program declared to WeChat.
  onPrivacy() {
    if (typeof wx.openPrivacyContract !== 'function') {
      wx.showToast({ title: '请升级微信后查看隐私政策', icon: 'none' })
      return
    }
    wx.openPrivacyContract({
      fail: () => wx.showToast({ title: '隐私政策打开失败，请重试', icon: 'none' }),
    })
  },

  // signedOutState is what the page shows once the session is gone.
  signedOutState() {
    this.loaded = false
    this.seq = (this.seq || 0) + 1
    this.setData({ signedOut: true, banned: false, user: null, quota: null, resetsAt: '', items: [], cursor: '', hasMore: true, error: '' })
  },

  onLogout() {
    return this.confirm({ title: '退出登录？', content: '退出后需要重新登录才能创作和点赞', confirmText: '退出' }).then((confirmed) => {
      if (!confirmed) return undefined
      return api.logout().then(() => {
        this.signedOutState()
        wx.showToast({ title: '已退出登录', icon: 'success' })
      })
    })
  },

  // onDeleteAccount (注销账号) deletes the account after a confirmation that
  // says what goes and what is kept.
  onDeleteAccount() {
    return this.deleteAccount(
      '注销后，你的头像、昵称、壁纸和点赞将被删除，且无法恢复。生成记录仅按法规要求匿名保留一段时间。',
      () => api.deleteMe(),
      (err) => showError(err),
    )
  },

  // onDeleteBannedAccount (注销账号 for a banned user) confirms, then
  // deletes the account with a fresh wx.login code. An account already
  // gone (a retry whose answer was lost) is deleted all the same; a ban
  // lifted meanwhile sends the user back to the normal page, where 注销账号
  // works with the session.
  onDeleteBannedAccount() {
    return this.deleteAccount(
      '注销后，你的头像、昵称、壁纸和点赞将被删除，且无法恢复。封禁在注销后依然有效；生成记录仅按法规要求匿名保留一段时间。',
      () => api.deleteBannedAccount(),
      (err) => {
        if (err && err.code === 'not_found') return this.deleted()
        showError(err)
        if (err && err.code === 'not_banned') {
          this.setData({ banned: false })
          return this.onShow()
        }
        return undefined
      },
    )
  },

  // deleteAccount asks to confirm (content: what goes and what is kept),
  // then runs call; failed handles its error.
  deleteAccount(content, call, failed) {
    return this.confirm({ title: '注销账号？', content, confirmText: '注销', confirmColor: '#e64340' }).then((confirmed) => {
      if (!confirmed) return undefined
      wx.showLoading({ title: '注销中', mask: true })
      return call().then(
        () => {
          wx.hideLoading()
          this.deleted()
        },
        (err) => {
          wx.hideLoading()
          return failed(err)
        },
      )
    })
  },

  // deleted shows the device signed out after the account is gone.
  deleted() {
    this.signedOutState()
    wx.showToast({ title: '账号已注销', icon: 'success' })
    return undefined
  },

  onCreate() {
    wx.switchTab({ url: '/pages/create/create' })
  },
})
