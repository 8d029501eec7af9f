// A Page shim for logic tests: miniprogram-simulate has no Page, so this
// captures the definition a page file registers and builds an instance with
// `data` and a `setData` that, like the real one, copies what it is given
// and understands key paths such as "items[2].liked" or "user.nickname".
const path = require('path')

const ROOT = path.resolve(__dirname, '../..')

function copy(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value))
}

function setPath(target, keyPath, value) {
  const keys = keyPath.replace(/\[(\d+)\]/g, '.$1').split('.')
  let node = target
  for (let i = 0; i < keys.length - 1; i++) {
    if (node[keys[i]] === undefined || node[keys[i]] === null) node[keys[i]] = /^\d+$/.test(keys[i + 1]) ? [] : {}
    node = node[keys[i]]
  }
  node[keys[keys.length - 1]] = value
}

// loadPage requires the page file in an isolated module registry, so each
// page gets its own request client, and returns the page instance.
function loadPage(route) {
  let definition = null
  global.Page = (def) => {
    definition = def
  }
  jest.isolateModules(() => {
    require(path.join(ROOT, route))
  })
  if (!definition) throw new Error(`${route} did not call Page()`)

  // The runtime calls lifecycle hooks whether or not a page defines them.
  const noop = () => {}
  const page = { route, data: copy(definition.data) || {}, onLoad: noop, onShow: noop, onReady: noop, onHide: noop, onUnload: noop }
  Object.keys(definition).forEach((key) => {
    if (key !== 'data') page[key] = definition[key]
  })
  page.setData = function setData(patch, callback) {
    Object.keys(patch).forEach((key) => setPath(this.data, key, copy(patch[key])))
    if (callback) callback()
  }
  return page
}

// tap builds the event a bindtap handler receives for data-* attributes.
function tap(dataset, detail) {
  return { currentTarget: { dataset: dataset || {} }, target: { dataset: dataset || {} }, detail: detail || {} }
}

module.exports = { ROOT, loadPage, tap }
