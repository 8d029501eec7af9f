/**
 * @jest-environment jsdom
 */
// The gallery rendered for real: its WXML compiled and run by
// miniprogram-simulate, the page loaded as a component (simulate has no
// Page), data from the fake server.
const path = require('path')
const { createServer, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')
const { ROOT } = require('./helpers/page')

const server = createServer()
// simulate merges its own canned wx into whatever global.wx already is, so
// the fake runtime has to be in place before it is required.
global.wx = createWx(server)
const simulate = require('miniprogram-simulate')

// simulate registers <image> as a bare slot, dropping src; this stand-in
// keeps src as a property and shows it as data-src so the test can see
// which picture each cell asks for.
require('j-component').register({
  id: 'image',
  tagName: 'wx-image',
  template: '<view class="image-src" data-src="{{src}}"><slot/></view>',
  properties: { src: { type: String, value: '' }, mode: { type: String, value: '' }, lazyLoad: { type: Boolean, value: false } },
})

// pageAsComponent turns a Page definition into a Component one: top-level
// functions become methods, and attaching the component stands in for
// onLoad.
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
        if (this.onLoad) this.onLoad({})
      },
    },
  })
}

function render() {
  // simulate runs the page file with require; a fresh registry makes it run
  // (and call Page) again for every render.
  let id
  jest.isolateModules(() => {
    id = simulate.load(path.join(ROOT, 'pages/gallery/gallery'))
  })
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

test('the gallery renders a thumbnail per wallpaper and loads more at the bottom', async () => {
  const feed = Array.from({ length: 25 }, (_, i) => wallpaper(25 - i))
  server.route(
    'GET',
    '/api/v1/wallpapers',
    (req) => {
      const start = req.query.cursor ? Number(req.query.cursor) : 0
      const next = start + 20 < feed.length ? String(start + 20) : null
      return json({ items: feed.slice(start, start + 20), next_cursor: next })
    },
    { auth: false },
  )

  const comp = render()
  await flush()

  let cells = comp.dom.querySelectorAll('.main--cell')
  expect(cells).toHaveLength(20)
  expect(cells[0].getAttribute('data-id')).toBe('w-25')
  expect(cells[0].querySelector('.image-src').getAttribute('data-src')).toBe('https://img.test/w-25.thumb.jpg')
  expect(cells[0].querySelector('.main--author').textContent).toBe('作者25')
  expect(cells[0].querySelector('.main--likes').textContent).toBe('♥ 25')
  expect(cells[19].querySelector('.image-src').getAttribute('data-src')).toBe('https://img.test/w-6.thumb.jpg')
  expect(comp.dom.querySelector('.main--footer').textContent.trim()).toBe('')

  comp.instance.onReachBottom()
  await flush()

  cells = comp.dom.querySelectorAll('.main--cell')
  expect(cells).toHaveLength(25)
  expect(comp.dom.querySelector('.main--footer').textContent.trim()).toBe('没有更多了')
  expect(comp.dom.querySelector('.main--empty')).toBeNull()
})

test('an empty feed renders the empty state and no cells', async () => {
  server.route('GET', '/api/v1/wallpapers', () => json({ items: [], next_cursor: null }), { auth: false })

  const comp = render()
  await flush()

  expect(comp.dom.querySelectorAll('.main--cell')).toHaveLength(0)
  expect(comp.dom.querySelector('.main--empty').textContent).toContain('还没有公开的壁纸')
})
