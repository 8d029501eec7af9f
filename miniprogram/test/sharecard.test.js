// The share cards as the list of canvas calls they make (the simulator
// cannot draw): the wallpaper cropped to the card's shape, never
// stretched, and the card's own visible "AI生成" label, at least 5 % of
// its short side, whole inside the card.
const { createContext } = require('./helpers/canvas')
const { LABEL } = require('../utils/poster')
const { CARDS, drawShareCard } = require('../utils/sharecard')

const fontPx = (call) => Number(/(\d+)px/.exec(call.state.font)[1])

test('the cards are 5:4 for a friend and 1:1 for Moments', () => {
  expect(CARDS.friend.width / CARDS.friend.height).toBeCloseTo(5 / 4, 5)
  expect(CARDS.moments.width / CARDS.moments.height).toBe(1)
})

describe.each([
  { card: 'friend 500×400', width: 500, height: 400 },
  { card: 'Moments 500×500', width: 500, height: 500 },
  { card: 'small friend 250×200', width: 250, height: 200 },
])('a $card card', (size) => {
  describe.each([
    { source: 'portrait 9:16', wallpaper: { src: 'w', width: 1024, height: 1792 } },
    { source: 'landscape 16:9', wallpaper: { src: 'w', width: 1792, height: 1024 } },
  ])('of a $source wallpaper', ({ wallpaper }) => {
    const ctx = createContext()
    drawShareCard(ctx, { width: size.width, height: size.height, wallpaper })
    const calls = ctx.calls
    const image = calls.find((c) => c.op === 'drawImage')
    const label = calls.find((c) => c.op === 'fillText' && c.args[0] === LABEL)
    const outline = calls.find((c) => c.op === 'strokeText' && c.args[0] === LABEL)

    test('fills the card with the wallpaper, cropped from the middle, not stretched', () => {
      const [img, sx, sy, sw, sh, dx, dy, dw, dh] = image.args
      expect(img).toBe(wallpaper)
      expect([dx, dy, dw, dh]).toEqual([0, 0, size.width, size.height])
      expect(sw / sh).toBeCloseTo(dw / dh, 5)
      expect(sx).toBeGreaterThanOrEqual(0)
      expect(sy).toBeGreaterThanOrEqual(0)
      expect(sx * 2 + sw).toBeCloseTo(wallpaper.width, 5)
      expect(sy * 2 + sh).toBeCloseTo(wallpaper.height, 5)
      expect(sw === wallpaper.width || sh === wallpaper.height).toBe(true)
    })

    test('labels itself AI生成, at least 5 % of the short side, outlined, over the wallpaper, whole inside the card', () => {
      expect(label).toBeDefined()
      expect(outline).toBeDefined()
      const px = fontPx(label)
      expect(px).toBeGreaterThanOrEqual(0.05 * Math.min(size.width, size.height))
      expect(calls.indexOf(label)).toBeGreaterThan(calls.indexOf(image))
      expect(calls.indexOf(outline)).toBeLessThan(calls.indexOf(label))
      // Anchored at its bottom-right corner (textAlign right, baseline bottom).
      expect(label.state).toMatchObject({ textAlign: 'right', textBaseline: 'bottom' })
      const [, x, y] = label.args
      const textWidth = ctx.measureText(LABEL).width
      expect(x).toBeLessThanOrEqual(size.width)
      expect(y).toBeLessThanOrEqual(size.height)
      expect(x - textWidth).toBeGreaterThanOrEqual(0)
      expect(y - px).toBeGreaterThanOrEqual(0)
    })
  })
})
