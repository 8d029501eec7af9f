// Rendering pages for real with miniprogram-simulate: the WXML compiled by
// the official wcc, the page loaded as a component (simulate has no Page).
// Require this only after global.wx is set: simulate merges its canned wx
// into whatever global.wx is when it loads.
const path = require('path')
const simulate = require('miniprogram-simulate')
const jComponent = require('j-component')
const { ROOT } = require('./page')

// simulate registers built-in tags as bare slots and drops their
// attributes; these stand-ins keep the ones the tests look at and show them
// as data-* attributes.
jComponent.register({
  id: 'image',
  tagName: 'wx-image',
  template: '<view class="image-src" data-src="{{src}}"><slot/></view>',
  properties: { src: { type: String, value: '' }, mode: { type: String, value: '' }, lazyLoad: { type: Boolean, value: false } },
})
jComponent.register({
  id: 'button',
  tagName: 'wx-button',
  template: '<view class="button-probe" data-open-type="{{openType}}" data-disabled="{{disabled}}"><slot/></view>',
  properties: { openType: { type: String, value: '' }, disabled: { type: Boolean, value: false }, loading: { type: Boolean, value: false } },
})
jComponent.register({
  id: 'input',
  tagName: 'wx-input',
  template: '<view class="input-probe" data-type="{{type}}" data-value="{{value}}"></view>',
  properties: { type: { type: String, value: 'text' }, value: { type: String, value: '' } },
})

// The Page shim for rendering: top-level functions become methods, and
// attaching the component stands in for onLoad(query) then onShow().
function installPage(query) {
  global.Page = (definition) => {
    const methods = {}
    Object.keys(definition).forEach((key) => {
      if (typeof definition[key] === 'function') methods[key] = definition[key]
    })
    global.Component({
      data: definition.data,
      methods,
      lifetimes: {
        attached() {
          if (this.onLoad) this.onLoad(query || {})
          if (this.onShow) this.onShow()
        },
      },
    })
  }
}

// renderPage loads, renders and attaches a page; `dom` is its root element,
// where classes carry simulate's "main--" prefix.
function renderPage(route, query) {
  installPage(query)
  let id
  // A fresh registry makes simulate run the page file (and so Page) again.
  // rootPath is the project: wcc compiles every page in one unit, as
  // DevTools does (per-directory units share wcc's global caches and mix up
  // templates).
  jest.isolateModules(() => {
    id = simulate.load(path.join(ROOT, route), { rootPath: ROOT })
  })
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

module.exports = { renderPage }
