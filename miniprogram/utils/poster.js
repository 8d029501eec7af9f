// The share poster: the wallpaper, its prompt, the mini-program code that
// opens it, and a visible "AI生成" of its own (an exported image must carry
// the label; its text is at least 5 % of the poster's short side, as the
// labelling standard asks). drawPoster only issues canvas 2D calls, so the
// layout is testable as the list of calls it makes; makePoster is the
// WeChat glue around it.
const { download } = require('./album')
const { canvasNode, exportJPEG, loadImage } = require('./canvas')

const WIDTH = 1080
const HEIGHT = 1920
const LABEL = 'AI生成'
// The label's text height as a share of the short side: 6 %, above the
// 5 % minimum.
const LABEL_RATIO = 0.06
const FONT = '"PingFang SC", "Noto Sans CJK SC", sans-serif'

// cover answers the source rectangle that fills a frame without stretching.
function cover(sw, sh, fw, fh) {
  if (!sw || !sh) return { x: 0, y: 0, w: sw, h: sh }
  const scale = Math.max(fw / sw, fh / sh)
  const w = fw / scale
  const h = fh / scale
  return { x: (sw - w) / 2, y: (sh - h) / 2, w, h }
}

// wrap breaks text into at most maxLines lines of maxWidth, the last one
// ending in an ellipsis when the text is longer.
function wrap(ctx, text, maxWidth, maxLines) {
  const lines = []
  let line = ''
  const chars = Array.from(String(text || '').replace(/\s+/g, ' '))
  for (let i = 0; i < chars.length; i++) {
    const next = line + chars[i]
    if (ctx.measureText(next).width > maxWidth && line) {
      lines.push(line)
      line = chars[i]
      if (lines.length === maxLines) {
        const last = Array.from(lines[maxLines - 1])
        lines[maxLines - 1] = `${last.slice(0, Math.max(0, last.length - 1)).join('')}…`
        return lines
      }
    } else {
      line = next
    }
  }
  if (line) lines.push(line)
  return lines
}

// drawPoster draws on a 2D context of width × height. images are canvas
// images with width and height: {wallpaper, code}.
function drawPoster(ctx, { width = WIDTH, height = HEIGHT, wallpaper, code, prompt }) {
  const short = Math.min(width, height)
  const margin = Math.round(width * 0.06)

  ctx.fillStyle = '#111111'
  ctx.fillRect(0, 0, width, height)

  // The wallpaper fills the top three quarters, cropped, never stretched.
  const frame = { x: 0, y: 0, w: width, h: Math.round(height * 0.75) }
  const src = cover(wallpaper.width, wallpaper.height, frame.w, frame.h)
  ctx.drawImage(wallpaper, src.x, src.y, src.w, src.h, frame.x, frame.y, frame.w, frame.h)

  // The poster's own visible label, in the top-left corner, white in a
  // dark outline so it reads on any picture.
  const labelSize = Math.ceil(short * LABEL_RATIO)
  ctx.font = `bold ${labelSize}px ${FONT}`
  ctx.textBaseline = 'top'
  ctx.textAlign = 'left'
  ctx.lineJoin = 'round'
  ctx.lineWidth = Math.max(2, Math.round(labelSize / 8))
  ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)'
  ctx.strokeText(LABEL, margin, margin)
  ctx.fillStyle = '#ffffff'
  ctx.fillText(LABEL, margin, margin)

  // The mini-program code, bottom right, on white as WeChat needs to read it.
  // It fits the band below the wallpaper, whatever the poster's shape.
  const codeSize = Math.round(Math.min(width * 0.26, (height - frame.h) * 0.8))
  const codeX = width - margin - codeSize
  const codeY = frame.h + Math.round((height - frame.h - codeSize) / 2)
  ctx.fillStyle = '#ffffff'
  ctx.fillRect(codeX - 12, codeY - 12, codeSize + 24, codeSize + 24)
  ctx.drawImage(code, codeX, codeY, codeSize, codeSize)

  // The prompt, left of the code, then the call to scan.
  const textSize = Math.round(width * 0.04)
  const textWidth = codeX - margin * 2
  ctx.font = `${textSize}px ${FONT}`
  ctx.fillStyle = '#f2f2f2'
  const lines = wrap(ctx, prompt, textWidth, 3)
  lines.forEach((text, i) => ctx.fillText(text, margin, codeY + i * Math.round(textSize * 1.4)))
  ctx.font = `${Math.round(textSize * 0.75)}px ${FONT}`
  ctx.fillStyle = '#9a9a9a'
  ctx.fillText('长按识别小程序码，做一张同款', margin, codeY + codeSize - Math.round(textSize * 0.75))
  return { labelSize, lines }
}

// makePoster downloads the labelled wallpaper and the code, draws the
// poster on the canvas matching selector and answers the exported file.
async function makePoster(selector, { imageURL, codeURL, prompt }) {
  const [imagePath, codePath] = await Promise.all([download(imageURL), download(codeURL)])
  const canvas = await canvasNode(selector)
  canvas.width = WIDTH
  canvas.height = HEIGHT
  const ctx = canvas.getContext('2d')
  const [wallpaper, code] = await Promise.all([loadImage(canvas, imagePath), loadImage(canvas, codePath)])
  drawPoster(ctx, { width: WIDTH, height: HEIGHT, wallpaper, code, prompt })
  return exportJPEG(canvas, 0.92)
}

module.exports = { HEIGHT, LABEL, LABEL_RATIO, WIDTH, cover, drawPoster, makePoster, wrap }
