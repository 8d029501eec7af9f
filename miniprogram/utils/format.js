// Small formatting rules the pages share: characters counted as the server
// counts them, and times in Beijing time (the service's day starts and
// ends there, whatever the phone's zone).
const BEIJING_OFFSET_MS = 8 * 3600 * 1000

// runeCount counts code points, so an emoji is one, as on the server.
function runeCount(text) {
  return Array.from(text || '').length
}

function pad(n) {
  return String(n).padStart(2, '0')
}

// beijing answers the parts of an ISO time in UTC+8, or null.
function beijing(iso) {
  const t = Date.parse(iso || '')
  if (!Number.isFinite(t)) return null
  const d = new Date(t + BEIJING_OFFSET_MS)
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(), hh: pad(d.getUTCHours()), mm: pad(d.getUTCMinutes()) }
}

// resetText says when the daily quota resets, e.g. "11月24日 00:00 重置".
function resetText(iso) {
  const p = beijing(iso)
  return p ? `${p.m}月${p.d}日 ${p.hh}:${p.mm} 重置` : ''
}

// timeText is a short timestamp for lists, e.g. "11月23日 13:05".
function timeText(iso) {
  const p = beijing(iso)
  return p ? `${p.m}月${p.d}日 ${p.hh}:${p.mm}` : ''
}

// clip keeps the first n characters, with an ellipsis when cut.
function clip(text, n) {
  const chars = Array.from(text || '')
  return chars.length > n ? `${chars.slice(0, n).join('')}…` : chars.join('')
}

module.exports = { clip, resetText, runeCount, timeText }
