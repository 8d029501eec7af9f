// Share cards: what a share to a friend (5:4) or to Moments (1:1) shows.
// WeChat crops a shared image to those shapes from the middle, which would
// cut off the label burnt into the wallpaper's corner; so the mini-program
// draws each card itself, the wallpaper cropped to the card's shape and a
// visible "AI生成" of the card's own, at least 5 % of its short side, as
// the poster does. drawShareCard only issues canvas 2D calls (testable as
// the list of calls); makeShareCards is the WeChat glue around it.
const { download } = require('./album')
const { canvasNode, exportJPEG, loadImage } = require('./canvas')
const { LABEL, LABEL_RATIO, cover } = require('./poster')

const FONT = '"PingFang SC", "Noto Sans CJK SC", sans-serif'

// CARDS are the two shapes WeChat shows: a friend's chat (5:4) and
// Moments (1:1).
const CARDS = {
  friend: { width: 500, height: 400 },
  moments: { width: 500, height: 500 },
}

// drawShareCard fills a width × height card with the wallpaper (a canvas
// image with width and height), cropped, never stretched, and labels it
// in the bottom-right corner, white in a dark outline.
function drawShareCard(ctx, { width, height, wallpaper }) {
  const short = Math.min(width, height)
  const margin = Math.round(short * 0.05)

  ctx.fillStyle = '#111111'
  ctx.fillRect(0, 0, width, height)
  const src = cover(wallpaper.width, wallpaper.height, width, height)
  ctx.drawImage(wallpaper, src.x, src.y, src.w, src.h, 0, 0, width, height)

  const labelSize = Math.ceil(short * LABEL_RATIO)
  ctx.font = `bold ${labelSize}px ${FONT}`
  ctx.textBaseline = 'bottom'
  ctx.textAlign = 'right'
  ctx.lineJoin = 'round'
  ctx.lineWidth = Math.max(2, Math.round(labelSize / 8))
  ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)'
  ctx.strokeText(LABEL, width - margin, height - margin)
  ctx.fillStyle = '#ffffff'
  ctx.fillText(LABEL, width - margin, height - margin)
  return { labelSize, x: width - margin, y: height - margin }
}

// makeShareCards downloads the picture once, draws each card in turn on
// the canvas matching selector and answers their exported files:
// {friend, moments}.
async function makeShareCards(selector, { imageURL }) {
  const path = await download(imageURL)
  const canvas = await canvasNode(selector)
  const wallpaper = await loadImage(canvas, path)
  const ctx = canvas.getContext('2d')
  const paths = {}
  for (const name of Object.keys(CARDS)) {
    const { width, height } = CARDS[name]
    canvas.width = width
    canvas.height = height
    drawShareCard(ctx, { width, height, wallpaper })
    paths[name] = await exportJPEG(canvas, 0.9)
  }
  return paths
}

module.exports = { CARDS, drawShareCard, makeShareCards }
