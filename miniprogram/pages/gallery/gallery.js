// Gallery: the public feed, newest first, in a two-column grid. Pages come
// by cursor as the user scrolls; pulling down starts again from the top.
// Coming back to the tab (or tapping it) refreshes the head of the feed
// without throwing away the pages below, so the scroll position holds
// unless there is something new to see. The token goes along when there is
// one, so the hearts show what the user liked.
const api = require('../../utils/api')
const { showError } = require('../../utils/request')
const { mergeHead, sameHead } = require('../../utils/list')

const PAGE_SIZE = 20

Page({
  data: {
    items: [],
    cursor: '',
    hasMore: true,
    loading: false,
    // error is the first page's failure (shown instead of the grid);
    // moreError a next page's failure (shown in the footer).
    error: '',
    moreError: '',
  },

  onLoad() {
    this.reload()
  },

  // onShow after the first one refreshes the head: a like given on a
  // detail page, or a new wallpaper, shows up here.
  onShow() {
    if (this.shown) return this.refreshHead()
    this.shown = true
    return Promise.resolve()
  },

  // onTabItemTap refreshes too, and scrolls to the top only when new
  // wallpapers arrived there.
  onTabItemTap() {
    return this.refreshHead().then((added) => {
      if (added) wx.pageScrollTo({ scrollTop: 0, duration: 300 })
    })
  },

  onPullDownRefresh() {
    return this.reload().then(() => wx.stopPullDownRefresh())
  },

  onReachBottom() {
    return this.loadMore()
  },

  // reload fetches the first page and replaces the grid. Answers to older
  // loads that arrive later are dropped (seq), so a refresh during a
  // next-page load cannot append stale items.
  reload() {
    const seq = this.nextSeq()
    this.setData({ loading: true, error: '', moreError: '' })
    return api.listWallpapers({ limit: PAGE_SIZE }).then(
      (page) => {
        if (seq !== this.seq) return
        const items = (page && page.items) || []
        const cursor = (page && page.next_cursor) || ''
        this.setData({ items, cursor, hasMore: Boolean(cursor), loading: false })
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

  // refreshHead loads the first page again and merges it in front of the
  // grid, keeping deeper pages and the cursor; resolves true when new
  // wallpapers came in at the top. A refresh already running is enough.
  refreshHead() {
    if (this.data.loading || this.refreshing) return Promise.resolve(false)
    if (!this.data.items.length) return this.reload().then(() => false)
    const seq = this.seq
    this.refreshing = true
    return api.listWallpapers({ limit: PAGE_SIZE }).then(
      (page) => {
        this.refreshing = false
        if (seq !== this.seq) return false
        const fresh = (page && page.items) || []
        const added = !sameHead(this.data.items, fresh)
        this.setData({ items: mergeHead(this.data.items, fresh) })
        return added
      },
      () => {
        // What is shown stays; pulling down refreshes it all.
        this.refreshing = false
        return false
      },
    )
  },

  // loadMore appends the next page, once at a time, until next_cursor ends.
  loadMore() {
    if (this.data.loading || !this.data.hasMore || this.data.error || !this.data.cursor) {
      return Promise.resolve()
    }
    const seq = this.seq
    this.setData({ loading: true, moreError: '' })
    return api.listWallpapers({ cursor: this.data.cursor, limit: PAGE_SIZE }).then(
      (page) => {
        if (seq !== this.seq) return
        const seen = new Set(this.data.items.map((item) => item.id))
        const fresh = ((page && page.items) || []).filter((item) => !seen.has(item.id))
        const cursor = (page && page.next_cursor) || ''
        this.setData({ items: this.data.items.concat(fresh), cursor, hasMore: Boolean(cursor), loading: false })
      },
      (err) => {
        if (seq !== this.seq) return
        this.setData({ loading: false, moreError: err.message })
      },
    )
  },

  nextSeq() {
    this.seq = (this.seq || 0) + 1
    return this.seq
  },

  onRetry() {
    return this.data.items.length ? this.loadMore() : this.reload()
  },

  onOpen(e) {
    const { id } = e.currentTarget.dataset
    if (id) wx.navigateTo({ url: `/pages/detail/detail?id=${encodeURIComponent(id)}` })
  },

  onCreate() {
    wx.switchTab({ url: '/pages/create/create' })
  },

  onShareAppMessage() {
    return { title: 'AI 壁纸画廊', path: '/pages/gallery/gallery' }
  },
})
