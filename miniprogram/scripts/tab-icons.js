// Draws the tab bar icons (images/tab-*.png): 81×81 PNGs, as WeChat
// recommends (at most 40 KB each), grey and white. Shapes are defined as
// "inside" tests and rendered with 4×4 supersampling, so the edges are
// smooth without any image library. Run: node scripts/tab-icons.js
const fs = require('fs')
const path = require('path')
const zlib = require('zlib')

const SIZE = 81
const SAMPLES = 4

function crcTable() {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
}
const CRC = crcTable()

function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

function png(rgba) {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(SIZE, 0)
  header.writeUInt32BE(SIZE, 4)
  header[8] = 8 // bit depth
  header[9] = 6 // RGBA
  const raw = Buffer.alloc((SIZE * 4 + 1) * SIZE)
  for (let y = 0; y < SIZE; y++) {
    raw[y * (SIZE * 4 + 1)] = 0
    rgba.copy(raw, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

function roundRect(x0, y0, x1, y1, r) {
  return (x, y) => {
    if (x < x0 || x > x1 || y < y0 || y > y1) return false
    const cx = Math.min(Math.max(x, x0 + r), x1 - r)
    const cy = Math.min(Math.max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
  }
}

function ring(cx, cy, outer, inner) {
  return (x, y) => {
    const d = (x - cx) ** 2 + (y - cy) ** 2
    return d <= outer * outer && d >= inner * inner
  }
}

const union = (...shapes) => (x, y) => shapes.some((s) => s(x, y))
const minus = (a, b) => (x, y) => a(x, y) && !b(x, y)

// The three icons: a grid of pictures (画廊), a brush stroke with a
// sparkle (创作), a person (我的).
const ICONS = {
  gallery: union(roundRect(14, 14, 38, 38, 5), roundRect(43, 14, 67, 38, 5), roundRect(14, 43, 38, 67, 5), roundRect(43, 43, 67, 67, 5)),
  create: union(
    minus(roundRect(12, 12, 69, 69, 12), roundRect(18, 18, 63, 63, 7)),
    roundRect(37, 25, 44, 56, 3),
    roundRect(25, 37, 56, 44, 3),
  ),
  mine: union(ring(40.5, 28, 13, 0), (x, y) => y >= 47 && y <= 68 && ((x - 40.5) / 24) ** 2 + ((y - 68) / 21) ** 2 <= 1),
}

const COLORS = { normal: [0x8a, 0x8a, 0x8a], active: [0xff, 0xff, 0xff] }

function render(shape, [r, g, b]) {
  const rgba = Buffer.alloc(SIZE * SIZE * 4)
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let hits = 0
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          if (shape(x + (sx + 0.5) / SAMPLES, y + (sy + 0.5) / SAMPLES)) hits += 1
        }
      }
      const i = (y * SIZE + x) * 4
      rgba[i] = r
      rgba[i + 1] = g
      rgba[i + 2] = b
      rgba[i + 3] = Math.round((255 * hits) / (SAMPLES * SAMPLES))
    }
  }
  return png(rgba)
}

const out = path.join(__dirname, '..', 'images')
fs.mkdirSync(out, { recursive: true })
Object.entries(ICONS).forEach(([name, shape]) => {
  Object.entries(COLORS).forEach(([state, color]) => {
    const file = path.join(out, `tab-${name}${state === 'active' ? '-active' : ''}.png`)
    fs.writeFileSync(file, render(shape, color))
  })
})
