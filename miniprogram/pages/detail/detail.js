// Detail: one wallpaper. The thumbnail shows at once and the labelled
// image replaces it when loaded. Anyone may open a visible wallpaper, even
// without logging in (Moments' single-page mode cannot log in): the token
// goes along only when there is one. From here: like, copy the prompt,
// 做同款 (make one like it), save the labelled image to the album, make a
// poster with the mini-program code, share to a friend or to Moments, and
// report it when the server takes reports. A share shows a card drawn
// here with its own "AI生成" label (utils/sharecard.js): WeChat's crop of
// the thumbnail would cut off the label in its corner.
const api = require('../../utils/api')
const { STORAGE_KEYS, showError } = require('../../utils/request')
const { saveImage } = require('../../utils/album')
const { makePoster } = require('../../utils/poster')
const { makeShareCards } = require('../../utils/sharecard')
const { clientConfig } = require('../../utils/clientConfig')
const { isSinglePage } = require('../../utils/runtime')
const { clip, runeCount } = require('../../utils/format')

// DRAFT_KEY is where 做同款 leaves the prompt and preset for the create tab
// (switchTab cannot carry a query).
const DRAFT_KEY = 'wallpaperd.draft'
const MAX_DETAIL_RUNES = 200

// REASONS are the report reasons the API takes, in the words users see.
const REASONS = [
  { value: 'porn', label: '色情低俗' },
  { value: 'politics', label: '政治敏感' },
  { value: 'violence', label: '暴力血腥' },
  { value: 'abuse', label: '辱骂攻击' },
  { value: 'copyright', label: '侵犯版权' },
  { value: 'other', label: '其他问题' },
]

// idFrom reads the wallpaper id from a share link (?id=) or from the
// mini-program code's scene: the server fits the id into WeChat's 32
// characters as the UUID without its dashes.
function idFrom(query) {
  if (!query) return ''
  if (query.id) return decodeURIComponent(query.id)
  const scene = query.scene ? decodeURIComponent(query.scene) : ''
  const hex = /^[0-9a-f]{32}$/i.test(scene) ? scene : ''
  if (hex) return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  const pair = /(?:^|&)id=([^&]+)/.exec(scene)
  return pair ? decodeURIComponent(pair[1]) : scene
}

// shareable is true when others can open the wallpaper: public and, when
// the caller owns it (only the owner is told review), let through by
// moderation. Others are only ever shown wallpapers they may see.
function shareable(wallpaper) {
  return Boolean(wallpaper) && wallpaper.public === true && (!wallpaper.review || wallpaper.review === 'approved')
}

const SHARE_MENUS = ['shareAppMessage', 'shareTimeline']

// GALLERY_SHARE is what a wallpaper others cannot open shares instead:
// the gallery, the app's home (a friend would get a 404 otherwise).
const GALLERY_SHARE = { title: 'AI 壁纸画廊', path: '/pages/gallery/gallery' }

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
    singlePage: false,
    canShare: false,
    // home: opened by a share of the gallery from Moments (?home=1).
    home: false,
    mine: false,
    reports: { enabled: false, hours: 0 },
    reasons: REASONS,
    report: { open: false, reason: '', detail: '', detailLength: 0, sending: false },
    maxDetail: MAX_DETAIL_RUNES,
    poster: { busy: false, path: '' },
  },

  onLoad(query) {
    const singlePage = isSinglePage()
    // Moments' share of a wallpaper that could not be shared opens this
    // page with ?home=1: the gallery instead.
    if (query && query.home && !idFrom(query)) {
      this.setData({ loading: false, singlePage, home: true })
      if (!singlePage) wx.switchTab({ url: '/pages/gallery/gallery' })
      return Promise.resolve()
    }
    this.setData({ id: idFrom(query), singlePage })
    // No share menu until the wallpaper is known to be one others can open.
    this.offerShare(false)
    const loaded = this.load()
    if (!singlePage) {
      clientConfig().then((config) =>
        this.setData({ reports: { enabled: config.reports_enabled, hours: config.report_response_hours } }),
      )
    }
    return loaded
  },

  load() {
    if (!this.data.id) {
      this.setData({ loading: false, error: '缺少壁纸编号' })
      return Promise.resolve()
    }
    this.setData({ loading: true, error: '' })
    return api.getWallpaper(this.data.id).then(
      (wallpaper) => {
        const me = wx.getStorageSync(STORAGE_KEYS.user)
        const mine = Boolean(me && wallpaper.author && me.id === wallpaper.author.id)
        const canShare = shareable(wallpaper)
        this.setData({ wallpaper, loading: false, canShare, mine })
        this.offerShare(canShare)
        if (canShare) this.prepareShareCards(wallpaper)
      },
      (err) => {
        this.setData({ loading: false, error: err.message, canShare: false })
        this.offerShare(false)
      },
    )
  },

  // offerShare shows the "…" menu's share entries (a friend, Moments) or
  // hides them. Single-page mode (opened from Moments) shares nothing.
  offerShare(on) {
    if (on && !this.data.singlePage) {
      if (wx.showShareMenu) wx.showShareMenu({ menus: SHARE_MENUS })
    } else if (wx.hideShareMenu) {
      wx.hideShareMenu({ menus: SHARE_MENUS })
    }
  },

  // prepareShareCards draws the two share cards in the background, once
  // per wallpaper, and keeps their files (this.shareCards: {friend,
  // moments}). A failure leaves the thumbnail as what shares show.
  prepareShareCards(wallpaper) {
    if (this.data.singlePage) return Promise.resolve({})
    if (this.shareCardsFor === wallpaper.id && this.shareCardsReady) return this.shareCardsReady
    this.shareCardsFor = wallpaper.id
    this.shareCards = {}
    this.shareCardsReady = makeShareCards('#sharecard', { imageURL: wallpaper.thumbnail_url || wallpaper.image_url }).then(
      (paths) => {
        if (this.shareCardsFor === wallpaper.id) this.shareCards = paths
        return paths
      },
      (err) => {
        if (err && err.errMsg) console.warn(err.errMsg)
        return {}
      },
    )
    return this.shareCardsReady
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
    if (!wallpaper || this.data.liking || this.data.singlePage) return Promise.resolve()
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

  // onMakeSame (做同款) opens the create tab with this prompt and preset.
  onMakeSame() {
    const wallpaper = this.data.wallpaper
    if (!wallpaper || this.data.singlePage) return
    wx.setStorageSync(DRAFT_KEY, { prompt: wallpaper.prompt, preset: wallpaper.preset || '' })
    wx.switchTab({ url: '/pages/create/create' })
  },

  // onSave writes the labelled image (image_url, never the master) to the
  // album, asking for album access before downloading anything.
  onSave() {
    const wallpaper = this.data.wallpaper
    if (!wallpaper || this.data.saving || this.data.singlePage) return Promise.resolve()
    this.setData({ saving: true })
    return saveImage({ url: wallpaper.image_url }).then(() => this.setData({ saving: false }))
  },

  // onPoster draws the share poster and shows it with a save button.
  onPoster() {
    const wallpaper = this.data.wallpaper
    if (!wallpaper || this.data.poster.busy || !this.data.canShare) return Promise.resolve()
    this.setData({ 'poster.busy': true })
    wx.showLoading({ title: '海报生成中', mask: true })
    return makePoster('#poster', { imageURL: wallpaper.image_url, codeURL: api.wallpaperCodeURL(wallpaper.id), prompt: wallpaper.prompt }).then(
      (path) => {
        wx.hideLoading()
        this.setData({ poster: { busy: false, path } })
      },
      (err) => {
        wx.hideLoading()
        if (err && err.errMsg) console.warn(err.errMsg)
        this.setData({ 'poster.busy': false })
        wx.showToast({ title: '海报生成失败，请重试', icon: 'none' })
      },
    )
  },

  onSavePoster() {
    const path = this.data.poster.path
    if (!path || this.data.saving) return Promise.resolve()
    this.setData({ saving: true })
    return saveImage({ filePath: path }).then((result) => {
      this.setData({ saving: false })
      if (result === 'saved') this.setData({ 'poster.path': '' })
    })
  },

  // noop swallows taps inside a sheet so they do not close it.
  noop() {},

  onClosePoster() {
    this.setData({ 'poster.path': '' })
  },

  onOpenReport() {
    if (!this.data.reports.enabled || this.data.mine || this.data.singlePage) return
    this.setData({ report: { open: true, reason: '', detail: '', detailLength: 0, sending: false } })
  },

  onCloseReport() {
    this.setData({ 'report.open': false })
  },

  onReportReason(e) {
    this.setData({ 'report.reason': e.currentTarget.dataset.reason })
  },

  onReportDetail(e) {
    const detail = e.detail.value || ''
    this.setData({ 'report.detail': detail, 'report.detailLength': runeCount(detail) })
  },

  // onSubmitReport files the report; a second report of the same wallpaper
  // is answered with the first (200), which says so.
  onSubmitReport() {
    const report = this.data.report
    if (report.sending) return Promise.resolve()
    if (!report.reason) {
      wx.showToast({ title: '请选择举报原因', icon: 'none' })
      return Promise.resolve()
    }
    const detail = report.detail.trim()
    if (runeCount(detail) > MAX_DETAIL_RUNES) {
      wx.showToast({ title: `补充说明最多 ${MAX_DETAIL_RUNES} 字`, icon: 'none' })
      return Promise.resolve()
    }
    const body = detail ? { reason: report.reason, detail } : { reason: report.reason }
    this.setData({ 'report.sending': true })
    return api.reportWallpaper(this.data.id, body).then(
      (filed) => {
        const hours = this.data.reports.hours
        const when = hours ? `，我们会在 ${hours} 小时内处理` : ''
        this.setData({ report: { open: false, reason: '', detail: '', detailLength: 0, sending: false } })
        wx.showToast({ title: filed.repeated ? `你已举报过这张壁纸${when}` : `举报已提交${when}`, icon: 'none', duration: 3000 })
      },
      (err) => {
        this.setData({ 'report.sending': false })
        showError(err)
      },
    )
  },

  // onShareAppMessage shares this wallpaper, or the gallery when others
  // could not open it (the menu is hidden then, but a share can still be
  // asked for before the answer came or through a stale button).
  // Its picture is the 5:4 card once drawn; while it is being drawn the
  // answer also carries WeChat's `promise`, which the share waits for (up
  // to 3 s, then the thumbnail is used).
  onShareAppMessage() {
    const wallpaper = this.data.wallpaper
    if (!this.data.canShare) return Object.assign({}, GALLERY_SHARE)
    const share = {
      title: wallpaper ? clip(wallpaper.prompt, 30) : 'AI 壁纸',
      path: `/pages/detail/detail?id=${encodeURIComponent(this.data.id)}`,
      imageUrl: wallpaper ? wallpaper.thumbnail_url : undefined,
    }
    const card = this.shareCard('friend')
    if (card) return Object.assign(share, { imageUrl: card })
    if (wallpaper && this.shareCardsReady && this.shareCardsFor === wallpaper.id) {
      const base = Object.assign({}, share)
      share.promise = this.shareCardsReady.then((paths) => Object.assign({}, base, paths.friend ? { imageUrl: paths.friend } : {}))
    }
    return share
  },

  // shareCard answers the drawn card of this wallpaper, or '' until then.
  shareCard(name) {
    const wallpaper = this.data.wallpaper
    if (!wallpaper || this.shareCardsFor !== wallpaper.id || !this.shareCards) return ''
    return this.shareCards[name] || ''
  },

  // onShareTimeline shares to Moments, which opens this page in
  // single-page mode with the query below and no login. Its picture is
  // the 1:1 card once drawn, the thumbnail until then.
  // A wallpaper others could not open shares ?home=1, which opens the
  // gallery (Moments can only share this page).
  onShareTimeline() {
    const wallpaper = this.data.wallpaper
    if (!this.data.canShare) return { title: GALLERY_SHARE.title, query: 'home=1' }
    return {
      title: wallpaper ? clip(wallpaper.prompt, 30) : 'AI 壁纸',
      query: `id=${encodeURIComponent(this.data.id)}`,
      imageUrl: this.shareCard('moments') || (wallpaper ? wallpaper.thumbnail_url : undefined),
    }
  },
})
