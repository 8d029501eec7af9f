// askToNotify asks the user, with WeChat's own dialog, whether the server
// may send one message when a wallpaper is ready. WeChat shows the dialog
// only when called from a tap, so call it first thing in the tap handler,
// before any await. Resolves true only when the template was accepted.
function askToNotify(templateId) {
  if (!templateId || typeof wx.requestSubscribeMessage !== 'function') return Promise.resolve(false)
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds: [templateId],
      // The answer per template: accept, reject, ban or filter.
      success: (res) => resolve(Boolean(res) && res[templateId] === 'accept'),
      fail: () => resolve(false),
    })
  })
}

module.exports = { askToNotify }
