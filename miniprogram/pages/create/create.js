// Create: describe a wallpaper, pick a preset, size, style and quality,
// choose whether it goes to the public gallery, submit, then follow the
// generation until it is settled. Image models take 10–60 s: the user may
// leave it painting (the history page shows its progress, and a subscribe
// message tells them when it is ready if they accepted one), and polling
// stops while this page is not on screen and after a cap.
const api = require('../../utils/api')
const { MESSAGES, showError } = require('../../utils/request')
const { clientConfig } = require('../../utils/clientConfig')
const { askToNotify } = require('../../utils/subscribe')
const { createPoller, newIdempotencyKey, reasonOf } = require('../../utils/generations')
const { resetText, runeCount } = require('../../utils/format')

const MAX_PROMPT_RUNES = 1000
// DRAFT_KEY is what 做同款 on a detail page leaves for this tab.
const DRAFT_KEY = 'wallpaperd.draft'
// CURRENT_KEY remembers the generation this page follows, so a restart
// picks it up again.
const CURRENT_KEY = 'wallpaperd.current_generation'

const SIZES = [
  { value: '1024x1792', label: '竖屏 9:16（手机壁纸）' },
  { value: '1792x1024', label: '横屏 16:9' },
  { value: '1024x1024', label: '方形 1:1' },
]
const STYLES = [
  { value: 'vivid', label: '鲜艳' },
  { value: 'natural', label: '自然' },
]
const QUALITIES = [
  { value: 'standard', label: '标准' },
  { value: 'hd', label: '高清（更细腻，稍慢）' },
]

Page({
  data: {
    prompt: '',
    promptLength: 0,
    maxLength: MAX_PROMPT_RUNES,
    presets: [],
    preset: '',
    sizes: SIZES,
    sizeIndex: 0,
    styles: STYLES,
    styleIndex: 0,
    qualities: QUALITIES,
    qualityIndex: 0,
    // keepPrivate: the result stays out of the public gallery.
    keepPrivate: false,
    nickname: '',
    quota: null,
    resetsAt: '',
    // phase: form → polling → succeeded | failed | waiting (the cap was
    // reached: the generation goes on, the history page follows it).
    phase: 'form',
    submitting: false,
    formError: '',
    // retryable: the last submit failed on the network, so the button
    // resends the same submission (same Idempotency-Key).
    retryable: false,
    generation: null,
    failure: '',
    // refunded: the generation failed, so its quota unit came back (not
    // known when the generation could not be read at all).
    refunded: false,
    notify: false,
  },

  onLoad() {
    this.loadPresets()
    clientConfig().then((config) => {
      this.config = config
      this.applySizes(config.sizes)
    })
    const current = wx.getStorageSync(CURRENT_KEY)
    if (current) {
      this.setData({ phase: 'polling', generation: { id: current, status: 'queued', prompt: '' } })
      this.follow(current)
    }
  },

  onShow() {
    this.takeDraft()
    this.loadQuota()
    if (this.poller) this.poller.resume()
  },

  onHide() {
    if (this.poller) this.poller.pause()
  },

  onUnload() {
    this.stopFollowing()
  },

  // applySizes keeps the sizes the server offers, when it says.
  applySizes(offered) {
    const values = (offered || []).map((size) => (typeof size === 'string' ? size : size && size.value)).filter(Boolean)
    if (!values.length) return
    const sizes = SIZES.filter((size) => values.includes(size.value))
    if (sizes.length) this.setData({ sizes, sizeIndex: 0 })
  },

  loadPresets() {
    return api.listPresets().then(
      (presets) => this.setData({ presets: presets || [] }),
      () => {
        // Presets are optional: the form works without them.
      },
    )
  },

  loadQuota() {
    if (api.isSignedOut()) return Promise.resolve()
    return api.getMe().then(
      (me) => this.setData({ quota: me.quota, resetsAt: resetText(me.quota && me.quota.resets_at), nickname: me.nickname || '' }),
      () => {
        // The quota is a hint; the server enforces it on submit anyway.
      },
    )
  },

  // takeDraft fills the form from 做同款 on a detail page.
  takeDraft() {
    const draft = wx.getStorageSync(DRAFT_KEY)
    if (!draft) return
    wx.removeStorageSync(DRAFT_KEY)
    if (this.data.phase === 'polling') {
      wx.showToast({ title: '当前壁纸还在生成，完成后再做同款', icon: 'none' })
      return
    }
    this.setData({
      phase: 'form',
      prompt: draft.prompt || '',
      promptLength: runeCount(draft.prompt),
      preset: draft.preset || '',
      formError: '',
      retryable: false,
    })
  },

  onPromptInput(e) {
    const prompt = e.detail.value
    this.setData({ prompt, promptLength: runeCount(prompt), formError: '' })
  },

  onPresetTap(e) {
    const { id } = e.currentTarget.dataset
    this.setData({ preset: this.data.preset === id ? '' : id })
  },

  onSizeChange(e) {
    this.setData({ sizeIndex: Number(e.detail.value) })
  },

  onStyleChange(e) {
    this.setData({ styleIndex: Number(e.detail.value) })
  },

  onQualityChange(e) {
    this.setData({ qualityIndex: Number(e.detail.value) })
  },

  onPrivateChange(e) {
    this.setData({ keepPrivate: Boolean(e.detail.value) })
  },

  // validate answers the message to show, or '' when the form can be sent.
  validate() {
    const prompt = this.data.prompt.trim()
    if (!prompt) return '先描述一下你想要的壁纸'
    if (runeCount(prompt) > MAX_PROMPT_RUNES) return `描述最多 ${MAX_PROMPT_RUNES} 字`
    if (this.data.quota && this.data.quota.remaining <= 0) return MESSAGES.quota_exceeded
    return ''
  },

  // onSubmit sends the form. It first asks (from the tap, as WeChat
  // requires) whether to send a message when the wallpaper is ready, then
  // submits with notify accordingly. One submission keeps one
  // Idempotency-Key (and its answer to the question) until the server has
  // answered it, so resending after a timeout cannot spend a second unit
  // of quota; a changed form is a new submission.
  onSubmit() {
    if (this.data.submitting || this.data.phase !== 'form') return Promise.resolve()
    const problem = this.validate()
    if (problem) {
      this.setData({ formError: problem })
      wx.showToast({ title: problem, icon: 'none' })
      return Promise.resolve()
    }
    // The launch options go only when they differ from the API's defaults
    // (public, no preset, no message), like the Idempotency-Key's hash.
    const body = {
      prompt: this.data.prompt.trim(),
      size: this.data.sizes[this.data.sizeIndex].value,
      style: STYLES[this.data.styleIndex].value,
      quality: QUALITIES[this.data.qualityIndex].value,
    }
    if (this.data.preset) body.preset = this.data.preset
    if (this.data.keepPrivate) body.public = false
    const fingerprint = JSON.stringify(body)
    const again = this.submission && this.submission.fingerprint === fingerprint
    if (!again) this.submission = { fingerprint, key: newIdempotencyKey(), notify: null }
    const submission = this.submission
    this.setData({ submitting: true, formError: '' })
    const templateId = this.config ? this.config.subscribe_template_id : ''
    const asked = submission.notify === null ? askToNotify(templateId) : Promise.resolve(submission.notify)
    return asked
      .then((notify) => {
        submission.notify = notify
        return api.createGeneration(notify ? Object.assign({}, body, { notify: true }) : body, submission.key)
      })
      .then(
        (generation) => {
          this.submission = null
          wx.setStorageSync(CURRENT_KEY, generation.id)
          this.setData({ submitting: false, retryable: false, phase: 'polling', generation, failure: '', refunded: false, notify: submission.notify })
          this.loadQuota()
          this.follow(generation.id)
        },
        (err) => {
          // Only a request that may not have arrived (or that the server
          // could not finish) is worth resending under the same key.
          const retryable = err.isNetwork || err.statusCode >= 500
          if (!retryable) this.submission = null
          this.setData({ submitting: false, retryable, formError: err.message })
          if (err.code === 'quota_exceeded') this.loadQuota()
          showError(err)
        },
      )
  },

  // follow polls generation id until it is settled.
  follow(id) {
    this.stopFollowing()
    this.poller = createPoller(id, {
      onUpdate: (generation) => this.setData({ generation }),
      onSettled: (generation) => this.finish(generation),
      onGone: (err) => {
        wx.removeStorageSync(CURRENT_KEY)
        this.poller = null
        this.setData({ phase: 'failed', failure: err.message, refunded: false })
      },
      onGiveUp: () => {
        this.poller = null
        wx.removeStorageSync(CURRENT_KEY)
        this.setData({ phase: 'waiting' })
      },
    })
    this.poller.start()
  },

  stopFollowing() {
    if (this.poller) this.poller.stop()
    this.poller = null
  },

  finish(generation) {
    this.poller = null
    wx.removeStorageSync(CURRENT_KEY)
    if (generation.status === 'succeeded') {
      this.setData({ phase: 'succeeded', generation })
      return
    }
    // A failed generation gives its quota unit back.
    this.setData({ phase: 'failed', generation, failure: reasonOf(generation), refunded: true })
    this.loadQuota()
  },

  onOpenResult() {
    const wallpaper = this.data.generation && this.data.generation.wallpaper
    if (wallpaper) wx.navigateTo({ url: `/pages/detail/detail?id=${encodeURIComponent(wallpaper.id)}` })
  },

  // onLeave ("先去逛逛") leaves it painting: the gallery opens, the
  // generation goes on and the history page shows it.
  onLeave() {
    wx.switchTab({ url: '/pages/gallery/gallery' })
  },

  onOpenHistory() {
    wx.navigateTo({ url: '/pages/history/history' })
  },

  // onCreateAgain goes back to the form with the last prompt kept, to tweak.
  onCreateAgain() {
    this.stopFollowing()
    wx.removeStorageSync(CURRENT_KEY)
    this.setData({ phase: 'form', generation: null, failure: '', formError: '', retryable: false, refunded: false })
  },
})
