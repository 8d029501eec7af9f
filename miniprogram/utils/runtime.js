// What the page is running in. Opened from Moments, a page runs in
// "single-page mode" (scene 1154): no login, no navigation, no album, no
// open-type buttons; it can only show content.
const SINGLE_PAGE_SCENE = 1154

function isSinglePage() {
  try {
    if (typeof wx.login !== 'function') return true
    const launch = wx.getLaunchOptionsSync ? wx.getLaunchOptionsSync() : null
    return Boolean(launch && launch.scene === SINGLE_PAGE_SCENE)
  } catch (err) {
    return false
  }
}

module.exports = { SINGLE_PAGE_SCENE, isSinglePage }
