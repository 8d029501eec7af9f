// History (我的 → 生成记录): every generation of the user, newest first,
// with its status, the reason of a failure in Chinese and a retry (a new
// generation with the same prompt and options). Unfinished generations are
// polled, each with the shared poller: polling starts again whenever the
// page opens (so it resumes after a restart), pauses while the page is
// hidden and stops at its cap. Opened with ?id= (the subscribe message of
// a failed generation), it highlights that generation and scrolls to it,
// fetching it on its own when it is not on the first page.
const api = require('../../utils/api')
const { showError } = require('../../utils/request')
const { clientConfig } = require('../../utils/clientConfig')
const { askToNotify } = require('../../utils/subscribe')
const { REVIEW, badgeOf, createPoller, isSettled, newIdempotencyKey, reasonOf } = require('../../utils/generations')
const { timeText } = require('../../utils/format')

const PAGE_SIZE = 20

// row is what one list entry shows: the generation as the API gave it and
// the words derived from it.
function row(generation) {
  const badge = badgeOf(generation)
  const wallpaper = generation.status === 'succeeded' ? generation.wallpaper : null
  return {
    id: generation.id,
    generation,
    badge: badge.label,
    tone: badge.tone,
    reason: reasonOf(generation),
    review: wallpaper && wallpaper.review ? REVIEW[wallpaper.review] || '' : '',
    when: timeText(generation.created_at),
  }
}

Page({
  data: {
    items: [],
    cursor: '',
    hasMore: true,
    loading: false,
    error: '',
    retrying: '',
    // focus is the generation the page was opened for (?id=), highlighted.
    focus: '',
  },

  onLoad(query) {
    this.pollers = {}
    const focus = query && query.id ? decodeURIComponent(query.id) : ''
    this.setData({ focus })
    clientConfig().then((config) => {
      this.config = config
    })
    return this.reload()
  },

  onShow() {
    Object.keys(this.pollers || {}).forEach((id) => this.pollers[id].resume())
  },

  onHide() {
    Object.keys(this.pollers || {}).forEach((id) => this.pollers[id].pause())
  },

  onUnload() {
    Object.keys(this.pollers || {}).forEach((id) => this.pollers[id].stop())
    this.pollers = {}
  },

  onPullDownRefresh() {
    return this.reload().then(() => wx.stopPullDownRefresh())
  },

  onReachBottom() {
    return this.loadMore()
  },

  reload() {
    this.seq = (this.seq || 0) + 1
    const seq = this.seq
    this.setData({ loading: true, error: '' })
    return api.listMyGenerations({ limit: PAGE_SIZE }).then(
      (page) => {
        if (seq !== this.seq) return
        const cursor = (page && page.next_cursor) || ''
        this.setData({ items: ((page && page.items) || []).map(row), cursor, hasMore: Boolean(cursor), loading: false })
        this.followUnsettled()
        return this.showFocus(seq)
      },
      (err) => {
        if (seq !== this.seq) return
        if (this.data.items.length) {
          this.setData({ loading: false })
          showError(err)
          return
        }
        this.setData({ loading: false, error: err.message })
      },
    )
  },

  loadMore() {
    if (this.data.loading || !this.data.hasMore || !this.data.cursor) return Promise.resolve()
    const seq = this.seq
    this.setData({ loading: true })
    return api.listMyGenerations({ cursor: this.data.cursor, limit: PAGE_SIZE }).then(
      (page) => {
        if (seq !== this.seq) return
        const seen = new Set(this.data.items.map((item) => item.id))
        const fresh = ((page && page.items) || []).filter((g) => !seen.has(g.id)).map(row)
        const cursor = (page && page.next_cursor) || ''
        this.setData({ items: this.data.items.concat(fresh), cursor, hasMore: Boolean(cursor), loading: false })
        this.followUnsettled()
      },
      (err) => {
        if (seq !== this.seq) return
        this.setData({ loading: false })
        showError(err)
      },
    )
  },

  // showFocus scrolls, once, to the generation the page was opened for;
  // one not on the first page is fetched and shown on top (loadMore skips
  // it later). One that is gone leaves the list as it is, with a word.
  showFocus(seq) {
    const focus = this.data.focus
    if (!focus || this.focusShown) return Promise.resolve()
    // After the render, so that the row is there to scroll to.
    const scroll = () => {
      this.focusShown = true
      this.setData({ focus }, () => wx.pageScrollTo({ selector: `#g-${focus}`, duration: 200 }))
    }
    if (this.data.items.some((item) => item.id === focus)) {
      scroll()
      return Promise.resolve()
    }
    return api.getGeneration(focus).then(
      (generation) => {
        if (seq !== this.seq) return
        if (!this.data.items.some((item) => item.id === focus)) {
          this.setData({ items: [row(generation)].concat(this.data.items) })
          this.followUnsettled()
        }
        scroll()
      },
      (err) => {
        if (seq !== this.seq) return
        if (err.statusCode !== 404) {
          showError(err)
          return
        }
        this.focusShown = true
        this.setData({ focus: '' })
        wx.showToast({ title: '这条生成记录已不存在', icon: 'none' })
      },
    )
  },

  // followUnsettled starts a poller for every queued or running
  // generation on screen that has none.
  followUnsettled() {
    this.data.items.forEach((item) => {
      if (!isSettled(item.generation) && !this.pollers[item.id]) this.follow(item.id)
    })
  },

  follow(id) {
    const poller = createPoller(id, {
      onUpdate: (generation) => this.replace(generation),
      onSettled: (generation) => {
        delete this.pollers[id]
        this.replace(generation)
      },
      onGone: () => {
        delete this.pollers[id]
        this.setData({ items: this.data.items.filter((item) => item.id !== id) })
      },
      onGiveUp: () => {
        delete this.pollers[id]
      },
    })
    this.pollers[id] = poller
    poller.start()
  },

  replace(generation) {
    const at = this.data.items.findIndex((item) => item.id === generation.id)
    if (at >= 0) this.setData({ [`items[${at}]`]: row(generation) })
  },

  onOpen(e) {
    const { id } = e.currentTarget.dataset
    const item = this.data.items.find((it) => it.id === id)
    const wallpaper = item && item.generation.wallpaper
    if (item && item.generation.status === 'succeeded' && wallpaper) {
      wx.navigateTo({ url: `/pages/detail/detail?id=${encodeURIComponent(wallpaper.id)}` })
    }
  },

  // onRetry makes a new generation with the failed one's prompt and
  // options (asking first, from the tap, whether to send a message when it
  // is ready).
  onRetry(e) {
    const { id } = e.currentTarget.dataset
    const item = this.data.items.find((it) => it.id === id)
    if (!item || this.data.retrying) return Promise.resolve()
    const g = item.generation
    const body = { prompt: g.prompt }
    if (g.size) body.size = g.size
    if (g.style) body.style = g.style
    if (g.quality) body.quality = g.quality
    if (g.preset) body.preset = g.preset
    if (g.public === false) body.public = false
    this.setData({ retrying: id })
    const templateId = this.config ? this.config.subscribe_template_id : ''
    return askToNotify(templateId)
      .then((notify) => api.createGeneration(notify ? Object.assign(body, { notify: true }) : body, newIdempotencyKey()))
      .then(
        (generation) => {
          this.setData({ retrying: '', items: [row(generation)].concat(this.data.items) })
          wx.pageScrollTo({ scrollTop: 0, duration: 200 })
          this.follow(generation.id)
        },
        (err) => {
          this.setData({ retrying: '' })
          showError(err)
        },
      )
  },

  onCreate() {
    wx.switchTab({ url: '/pages/create/create' })
  },
})
