// What the pages share about generations: the status words, the failure
// reason, a fresh Idempotency-Key, and the poller that follows one
// generation until it is settled (with back-off, a cap, and a pause while
// its page is hidden).
const api = require('./api')
const { failureMessage } = require('./request')

// STATUS is the badge each status shows.
const STATUS = {
  queued: { label: '排队中', tone: 'waiting' },
  running: { label: '绘制中', tone: 'waiting' },
  succeeded: { label: '已完成', tone: 'done' },
  failed: { label: '失败', tone: 'failed' },
}

// REVIEW is what a finished public wallpaper shows while moderation has
// not let it into the gallery.
const REVIEW = {
  pending: '审核中，通过后展示在画廊',
  held: '暂未公开展示',
}

function isSettled(generation) {
  return Boolean(generation) && (generation.status === 'succeeded' || generation.status === 'failed')
}

// badgeOf answers {label, tone} for a generation, its review included.
function badgeOf(generation) {
  const badge = STATUS[generation && generation.status] || STATUS.queued
  return { label: badge.label, tone: badge.tone }
}

// reasonOf answers the Chinese reason of a failed generation, '' otherwise.
function reasonOf(generation) {
  return generation && generation.status === 'failed' ? failureMessage(generation.error) : ''
}

// newIdempotencyKey makes a v4-shaped UUID. Math.random is enough: the key
// only has to be unique among one user's submissions within 24 h.
function newIdempotencyKey() {
  const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('')
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(Math.random() * 4)]}${hex(3)}-${hex(12)}`
}

const POLL_FIRST_MS = 1000
const POLL_MAX_MS = 5000
// MAX_POLLS caps one poller (about five minutes at the slowest pace): a
// generation still unsettled by then is left to the history page.
const MAX_POLLS = 60

// createPoller follows generation `id`. Callbacks: onUpdate(generation)
// while it runs, onSettled(generation) once, onGone(err) on a 403/404 (it
// is not the caller's or no longer exists), onGiveUp() when the cap is
// reached. pause() stops the clock (onHide); resume() asks at once.
function createPoller(id, callbacks, options = {}) {
  const first = options.firstDelay || POLL_FIRST_MS
  const max = options.maxDelay || POLL_MAX_MS
  const cap = options.maxPolls || MAX_POLLS
  const state = { delay: first, timer: null, paused: false, inflight: false, stopped: false, polls: 0 }

  function schedule(delay) {
    if (state.stopped || state.paused || state.timer) return
    state.timer = setTimeout(() => {
      state.timer = null
      pollOnce()
    }, delay === undefined ? state.delay : delay)
  }

  function stop() {
    state.stopped = true
    if (state.timer) clearTimeout(state.timer)
    state.timer = null
  }

  function pollOnce() {
    if (state.stopped || state.paused || state.inflight) return Promise.resolve()
    if (state.polls >= cap) {
      stop()
      if (callbacks.onGiveUp) callbacks.onGiveUp()
      return Promise.resolve()
    }
    state.inflight = true
    state.polls += 1
    return api.getGeneration(id).then(
      (generation) => {
        state.inflight = false
        if (state.stopped) return
        if (isSettled(generation)) {
          stop()
          callbacks.onSettled(generation)
          return
        }
        if (callbacks.onUpdate) callbacks.onUpdate(generation)
        state.delay = Math.min(state.delay * 2, max)
        schedule()
      },
      (err) => {
        state.inflight = false
        if (state.stopped) return
        if (err.statusCode === 403 || err.statusCode === 404) {
          stop()
          if (callbacks.onGone) callbacks.onGone(err)
          return
        }
        // A failed poll says nothing about the generation: keep asking at
        // the slowest pace, or when the server said to (Retry-After).
        state.delay = max
        const wait = Number(err.retryAfter) * 1000
        schedule(Number.isFinite(wait) && wait > max ? wait : max)
      },
    )
  }

  return {
    id,
    start() {
      schedule()
    },
    pause() {
      state.paused = true
      if (state.timer) clearTimeout(state.timer)
      state.timer = null
    },
    // resume asks at once: the generation may have finished meanwhile.
    resume() {
      if (state.stopped || !state.paused) return
      state.paused = false
      if (!state.inflight) pollOnce()
    },
    stop,
    get stopped() {
      return state.stopped
    },
  }
}

module.exports = { MAX_POLLS, REVIEW, STATUS, badgeOf, createPoller, isSettled, newIdempotencyKey, reasonOf }
