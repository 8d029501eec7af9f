// Create: describe a wallpaper, pick size and style, submit, then poll the
// generation until it succeeds or fails. Image models take 10–60 s, so the
// page polls with back-off and stops polling while it is not on screen.
const api = require('../../utils/api')
const { MESSAGES, showError } = require('../../utils/request')

const MAX_PROMPT_RUNES = 1000
const POLL_FIRST_MS = 1000
const POLL_MAX_MS = 5000

const SIZES = [
  { value: '1024x1792', label: '竖屏 9:16（手机壁纸）' },
  { value: '1792x1024', label: '横屏 16:9' },
  { value: '1024x1024', label: '方形 1:1' },
]
const STYLES = [
  { value: 'vivid', label: '鲜艳' },
  { value: 'natural', label: '自然' },
]

// runeCount counts characters the way the server does (code points), so an
// emoji is one, not two.
function runeCount(text) {
  return Array.from(text || '').length
}

// newIdempotencyKey makes a v4-shaped UUID. Math.random is enough: the key
// only has to be unique among one user's submissions within 24 h.
function newIdempotencyKey() {
  const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('')
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(Math.random() * 4)]}${hex(3)}-${hex(12)}`
}

function failureMessage(generation) {
  const error = generation && generation.error
  if (!error) return '生成失败，请重试'
  return MESSAGES[error.code] || error.message || '生成失败，请重试'
}

Page({
  data: {
    prompt: '',
    promptLength: 0,
    maxLength: MAX_PROMPT_RUNES,
    sizes: SIZES,
    sizeIndex: 0,
    styles: STYLES,
    styleIndex: 0,
    quota: null,
    // phase: form → polling → succeeded | failed.
    phase: 'form',
    submitting: false,
    formError: '',
    // retryable: the last submit failed on the network, so the button
    // resends the same submission (same Idempotency-Key).
    retryable: false,
    generation: null,
    failure: '',
  },

  onShow() {
    this.loadQuota()
    this.resumePolling()
  },

  onHide() {
    this.pausePolling()
  },

  onUnload() {
    this.stopPolling()
  },

  loadQuota() {
    return api.getMe().then(
      (me) => this.setData({ quota: me.quota }),
      () => {
        // The quota is a hint; the server enforces it on submit anyway.
      },
    )
  },

  onPromptInput(e) {
    const prompt = e.detail.value
    this.setData({ prompt, promptLength: runeCount(prompt), formError: '' })
  },

  onSizeChange(e) {
    this.setData({ sizeIndex: Number(e.detail.value) })
  },

  onStyleChange(e) {
    this.setData({ styleIndex: Number(e.detail.value) })
  },

  // validate answers the message to show, or '' when the form can be sent.
  validate() {
    const prompt = this.data.prompt.trim()
    if (!prompt) return '先描述一下你想要的壁纸'
    if (runeCount(prompt) > MAX_PROMPT_RUNES) return `描述最多 ${MAX_PROMPT_RUNES} 字`
    if (this.data.quota && this.data.quota.remaining <= 0) return MESSAGES.quota_exceeded
    return ''
  },

  // onSubmit sends the form. One submission keeps one Idempotency-Key until
  // the server has answered it, so resending after a timeout cannot spend a
  // second unit of quota; a changed form is a new submission.
  onSubmit() {
    if (this.data.submitting || this.data.phase !== 'form') return Promise.resolve()
    const problem = this.validate()
    if (problem) {
      this.setData({ formError: problem })
      wx.showToast({ title: problem, icon: 'none' })
      return Promise.resolve()
    }
    const body = {
      prompt: this.data.prompt.trim(),
      size: SIZES[this.data.sizeIndex].value,
      style: STYLES[this.data.styleIndex].value,
    }
    const fingerprint = JSON.stringify(body)
    if (!this.submission || this.submission.fingerprint !== fingerprint) {
      this.submission = { fingerprint, key: newIdempotencyKey() }
    }
    this.setData({ submitting: true, formError: '' })
    return api.createGeneration(body, this.submission.key).then(
      (generation) => {
        this.submission = null
        this.setData({ submitting: false, retryable: false, phase: 'polling', generation, failure: '' })
        this.loadQuota()
        this.startPolling(generation.id)
      },
      (err) => {
        // Only a request that may not have arrived (or that the server could
        // not finish) is worth resending under the same key.
        const retryable = err.isNetwork || err.statusCode >= 500
        if (!retryable) this.submission = null
        this.setData({ submitting: false, retryable, formError: err.message })
        if (err.code === 'quota_exceeded') this.loadQuota()
        showError(err)
      },
    )
  },

  startPolling(id) {
    this.stopPolling()
    this.poll = { id, delay: POLL_FIRST_MS, timer: null, paused: false, inflight: false }
    this.schedulePoll()
  },

  schedulePoll() {
    const poll = this.poll
    if (!poll || poll.paused || poll.timer) return
    poll.timer = setTimeout(() => {
      poll.timer = null
      this.pollOnce(poll)
    }, poll.delay)
  },

  pollOnce(poll) {
    if (this.poll !== poll || poll.paused || poll.inflight) return Promise.resolve()
    poll.inflight = true
    return api.getGeneration(poll.id).then(
      (generation) => {
        poll.inflight = false
        if (this.poll !== poll) return
        if (generation.status === 'succeeded' || generation.status === 'failed') {
          this.finish(generation)
          return
        }
        this.setData({ generation })
        poll.delay = Math.min(poll.delay * 2, POLL_MAX_MS)
        this.schedulePoll()
      },
      (err) => {
        poll.inflight = false
        if (this.poll !== poll) return
        if (err.statusCode === 403 || err.statusCode === 404) {
          this.stopPolling()
          this.setData({ phase: 'failed', failure: err.message })
          return
        }
        // A failed poll says nothing about the generation: keep asking, at
        // the slowest pace.
        poll.delay = POLL_MAX_MS
        this.schedulePoll()
      },
    )
  },

  pausePolling() {
    const poll = this.poll
    if (!poll) return
    poll.paused = true
    if (poll.timer) clearTimeout(poll.timer)
    poll.timer = null
  },

  // resumePolling asks at once: the generation may have finished while the
  // page was hidden.
  resumePolling() {
    const poll = this.poll
    if (!poll || !poll.paused) return
    poll.paused = false
    if (!poll.inflight) this.pollOnce(poll)
  },

  stopPolling() {
    if (this.poll && this.poll.timer) clearTimeout(this.poll.timer)
    this.poll = null
  },

  finish(generation) {
    this.stopPolling()
    if (generation.status === 'succeeded') {
      this.setData({ phase: 'succeeded', generation })
      return
    }
    // A failed generation gives its quota unit back.
    this.setData({ phase: 'failed', generation, failure: failureMessage(generation) })
    this.loadQuota()
  },

  onOpenResult() {
    const wallpaper = this.data.generation && this.data.generation.wallpaper
    if (wallpaper) wx.navigateTo({ url: `/pages/detail/detail?id=${encodeURIComponent(wallpaper.id)}` })
  },

  // onCreateAgain goes back to the form with the last prompt kept, to tweak.
  onCreateAgain() {
    this.stopPolling()
    this.setData({ phase: 'form', generation: null, failure: '', formError: '', retryable: false })
  },
})
