// mergeHead puts a freshly loaded first page in front of the items already
// shown: new items appear at the top, known ones are updated in place, and
// the deeper pages the user scrolled to stay (so does the cursor).
function mergeHead(shown, fresh) {
  const ids = new Set(fresh.map((item) => item.id))
  return fresh.concat(shown.filter((item) => !ids.has(item.id)))
}

// sameIds is true when two lists show the same items in the same order.
function sameHead(shown, fresh) {
  return fresh.every((item, i) => shown[i] && shown[i].id === item.id)
}

module.exports = { mergeHead, sameHead }
