/**
 * @jest-environment jsdom
 */
// The gallery rendered for real, data from the fake server.
const { createServer, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')

const server = createServer()
global.wx = createWx(server)
const { renderPage } = require('./helpers/render')

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

  const comp = renderPage('pages/gallery/gallery')
  await flush()

  let cells = comp.dom.querySelectorAll('.main--cell')
  expect(cells).toHaveLength(20)
  expect(cells[0].getAttribute('data-id')).toBe('w-25')
  expect(cells[0].querySelector('.image-src').getAttribute('data-src')).toBe('https://img.test/w-25.thumb.jpg')
  expect(cells[0].querySelector('.main--author').textContent).toBe('作者25')
  expect(cells[0].querySelector('.main--likes').textContent).toBe('♡ 25')
  expect(cells[19].querySelector('.image-src').getAttribute('data-src')).toBe('https://img.test/w-6.thumb.jpg')
  expect(comp.dom.querySelector('.main--footer').textContent.trim()).toBe('')

  comp.instance.onReachBottom()
  await flush()

  cells = comp.dom.querySelectorAll('.main--cell')
  expect(cells).toHaveLength(25)
  expect(comp.dom.querySelector('.main--footer').textContent.trim()).toBe('没有更多了')
  expect(comp.dom.querySelector('.main--empty')).toBeNull()
})

test('each AI-generated wallpaper carries an "AI生成" badge over its thumbnail, others none', async () => {
  server.route('GET', '/api/v1/wallpapers', () => json({ items: [wallpaper(2), wallpaper(1, { ai_generated: false })], next_cursor: null }), { auth: false })

  const comp = renderPage('pages/gallery/gallery')
  await flush()

  const cells = comp.dom.querySelectorAll('.main--cell')
  expect(cells).toHaveLength(2)
  expect(cells[0].querySelector('.main--ai-mark').textContent).toBe('AI生成')
  expect(cells[1].querySelector('.main--ai-mark')).toBeNull()
  expect(cells[1].textContent).not.toContain('AI生成')
})

test('an empty feed renders the empty state and no cells', async () => {
  server.route('GET', '/api/v1/wallpapers', () => json({ items: [], next_cursor: null }), { auth: false })

  const comp = renderPage('pages/gallery/gallery')
  await flush()

  expect(comp.dom.querySelectorAll('.main--cell')).toHaveLength(0)
  expect(comp.dom.querySelector('.main--empty').textContent).toContain('还没有公开的壁纸')
})

test('a failed first page renders the error state with a retry button', async () => {
  server.route('GET', '/api/v1/wallpapers', () => ({ fail: 'request:fail timeout' }), { auth: false })

  const comp = renderPage('pages/gallery/gallery')
  await flush()

  expect(comp.dom.querySelectorAll('.main--cell')).toHaveLength(0)
  expect(comp.dom.textContent).toContain('加载失败')
  expect(comp.dom.textContent).toContain('网络超时，请重试')
  expect(comp.dom.querySelector('.main--retry')).not.toBeNull()
})
