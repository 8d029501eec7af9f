// Canvas glue shared by the poster and the share cards: find a 2D canvas
// node on the page, load an image into it, export it as a JPEG file.
function canvasNode(selector) {
  return new Promise((resolve, reject) => {
    wx.createSelectorQuery()
      .select(selector)
      .fields({ node: true, size: true })
      .exec((res) => (res && res[0] && res[0].node ? resolve(res[0].node) : reject(new Error(`no canvas ${selector}`))))
  })
}

function loadImage(canvas, src) {
  return new Promise((resolve, reject) => {
    const image = canvas.createImage()
    image.onload = () => resolve(image)
    image.onerror = reject
    image.src = src
  })
}

// exportJPEG answers the temporary file of the canvas as a JPEG.
function exportJPEG(canvas, quality) {
  return new Promise((resolve, reject) => {
    wx.canvasToTempFilePath({
      canvas,
      fileType: 'jpg',
      quality,
      success: (res) => resolve(res.tempFilePath),
      fail: reject,
    })
  })
}

module.exports = { canvasNode, exportJPEG, loadImage }
