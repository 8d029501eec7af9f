// The poster's layout as the list of canvas calls it makes (the simulator
// cannot draw): what is drawn, where, in which order, and how large the
// visible "AI生成" label is.
const { createContext } = require('./helpers/canvas')
const { LABEL, cover, drawPoster } = require('../utils/poster')

function draw(size, prompt = '霓虹雨夜里的一只猫') {
  const ctx = createContext()
  const wallpaper = { src: 'wallpaper', width: 1024, height: 1792 }
  const code = { src: 'code', width: 430, height: 430 }
  drawPoster(ctx, Object.assign({ wallpaper, code, prompt }, size))
  return ctx.calls
}

const fontPx = (call) => Number(/(\d+)px/.exec(call.state.font)[1])

describe.each([
  { name: 'portrait 1080×1920', width: 1080, height: 1920 },
  { name: 'small 540×960', width: 540, height: 960 },
  { name: 'square 1000×1000', width: 1000, height: 1000 },
])('a $name poster', (size) => {
  const calls = draw(size)
  const label = calls.find((c) => c.op === 'fillText' && c.args[0] === LABEL)
  const images = calls.filter((c) => c.op === 'drawImage')

  test('draws the wallpaper first, then the code', () => {
    expect(images.map((c) => c.args[0].src)).toEqual(['wallpaper', 'code'])
  })

  test('labels itself AI生成, at least 5 % of the short side, over the wallpaper, outlined', () => {
    expect(label).toBeDefined()
    expect(fontPx(label)).toBeGreaterThanOrEqual(0.05 * Math.min(size.width, size.height))
    expect(calls.indexOf(label)).toBeGreaterThan(calls.indexOf(images[0]))
    expect(calls.some((c) => c.op === 'strokeText' && c.args[0] === LABEL)).toBe(true)
    const [, x, y] = label.args
    expect(x).toBeLessThan(size.width * 0.15)
    expect(y).toBeLessThan(size.height * 0.15)
  })

  test('keeps the wallpaper in proportion (cropped, not stretched)', () => {
    const [, , , sw, sh, , , dw, dh] = images[0].args
    expect(sw / sh).toBeCloseTo(dw / dh, 5)
  })

  test('puts the code whole inside the poster', () => {
    const [, x, y, w, h] = images[1].args
    expect(x).toBeGreaterThanOrEqual(0)
    expect(y).toBeGreaterThanOrEqual(0)
    expect(x + w).toBeLessThanOrEqual(size.width)
    expect(y + h).toBeLessThanOrEqual(size.height)
    expect(w).toBe(h)
  })
})

test('a long prompt is cut to three lines ending in an ellipsis', () => {
  const calls = draw({ width: 1080, height: 1920 }, '山'.repeat(300))
  const lines = calls.filter((c) => c.op === 'fillText' && /^山/.test(c.args[0]))

  expect(lines).toHaveLength(3)
  expect(lines[2].args[0].endsWith('…')).toBe(true)
})

test('cover crops the middle of a picture to fill a frame', () => {
  expect(cover(1024, 1792, 1080, 1440)).toEqual({ x: 0, y: expect.any(Number), w: 1024, h: expect.any(Number) })
  const crop = cover(1024, 1792, 1080, 1440)
  expect(crop.y * 2 + crop.h).toBeCloseTo(1792, 5)
})
