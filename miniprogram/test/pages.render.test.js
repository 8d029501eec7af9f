/**
 * @jest-environment jsdom
 */
// Create, detail and mine rendered for real (see helpers/render.js), data
// from the fake server: each page's main states come out of its template.
const { createServer, error, json, wallpaper } = require('./helpers/server')
const { createWx, flush } = require('./helpers/wx')

const server = createServer()
global.wx = createWx(server)
const { renderPage } = require('./helpers/render')

const quota = { daily_limit: 10, used_today: 3, remaining: 7, resets_at: '2026-11-24T00:00:00+08:00' }
let generation

let nickname = '小明'
server.route('GET', '/api/v1/me', () => json(Object.assign({}, server.user, { nickname, quota })))
server.route('POST', '/api/v1/generations', (req) => {
  generation = { id: 'g-1', status: 'queued', prompt: req.body.prompt, created_at: '2026-11-23T05:00:00Z' }
  return json(generation, 202)
})
server.route('GET', '/api/v1/generations/{id}', () => json(generation))
server.route('GET', '/api/v1/wallpapers/{id}', () => json(wallpaper(4, { prompt: '霓虹雨夜里的一只猫', liked: true, like_count: 9, model: 'dall-e-3' })), { auth: 'optional' })
server.route('GET', '/api/v1/client-config', () => json({ subscribe_template_id: 'tmpl', reports_enabled: true, report_response_hours: 48 }), { auth: false })
server.route('GET', '/api/v1/presets', () => json([{ id: 'guofeng', name: '国风', description: '', cover_url: '' }, { id: 'pixel', name: '像素', description: '', cover_url: '' }]), { auth: false })
const GENERATIONS = [
  { id: 'g-2', status: 'failed', prompt: '雨夜', created_at: '2026-11-23T05:00:00Z', error: { code: 'upstream_unavailable', message: 'image model unavailable' } },
  { id: 'g-1', status: 'succeeded', prompt: '雪山', created_at: '2026-11-22T05:00:00Z', wallpaper: wallpaper(1) },
]
const MINE = [wallpaper(2, { public: false }), wallpaper(1)]
// What the two lists answer; a test may swap them, and puts them back.
let generations = GENERATIONS
let mine = MINE
server.route('GET', '/api/v1/me/generations', () => json({ items: generations, next_cursor: null }))
server.route('GET', '/api/v1/me/wallpapers', () => json({ items: mine, next_cursor: null }))
afterEach(() => {
  generations = GENERATIONS
  mine = MINE
})

const text = (comp) => comp.dom.textContent.replace(/\s+/g, ' ')

// inside finds `inner` within the element of `outer`: a stand-in's own
// nodes do not match a descendant selector that starts in the page.
function inside(comp, outer, inner) {
  const host = comp.dom.querySelector(outer)
  return host && host.querySelector(inner)
}

describe('create', () => {
  let comp
  afterEach(() => comp.instance.onUnload())

  test('says the gallery shows 匿名 when the user has no nickname, as it will', async () => {
    nickname = ''
    try {
      comp = renderPage('pages/create/create')
      await flush()
    } finally {
      nickname = '小明'
    }

    const line = comp.dom.querySelector('.main--public-line').textContent
    expect(line).toBe('生成的壁纸将署名「匿名」展示在公开画廊，审核通过后可见；在「我的」设置昵称后，署名改为你的昵称')
    expect(line).not.toContain('微信用户')
  })

  test('renders the form with counter, pickers and quota, then the progress', async () => {
    comp = renderPage('pages/create/create')
    await flush()

    expect(comp.dom.querySelector('.main--counter').textContent).toBe('0/1000')
    expect(text(comp)).toContain('今日剩余 7 / 10 次 · 11月24日 00:00 重置')
    expect(text(comp)).toContain('竖屏 9:16（手机壁纸）')
    expect(text(comp)).toContain('鲜艳')
    expect(text(comp)).toContain('标准')
    expect([...comp.dom.querySelectorAll('.main--chip')].map((c) => c.textContent)).toEqual(['国风', '像素'])
    expect(comp.dom.querySelector('.main--public-line').textContent).toBe('生成的壁纸将署名「小明」展示在公开画廊，审核通过后可见')

    comp.instance.onPromptInput({ detail: { value: '一只猫🐱' } })
    await flush()
    expect(comp.dom.querySelector('.main--counter').textContent).toBe('4/1000')

    await comp.instance.onSubmit()
    await flush()
    expect(comp.dom.querySelector('.main--counter')).toBeNull()
    expect(text(comp)).toContain('排队中…')
    expect(text(comp)).toContain('一只猫🐱')
    expect(text(comp)).toContain('先去逛逛，让它慢慢画')
  })

  test('renders the result with its two actions', async () => {
    comp = renderPage('pages/create/create')
    await flush()

    comp.instance.finish({ id: 'g-2', status: 'succeeded', prompt: 'x', wallpaper: wallpaper(8) })
    await flush()

    expect(inside(comp, '.main--result-image', '.image-src').getAttribute('data-src')).toBe('https://img.test/w-8.thumb.jpg')
    expect(text(comp)).toContain('查看大图')
    expect(text(comp)).toContain('再来一张')
  })
})

test('detail renders the thumbnail first, then the original, with likes and the share button', async () => {
  const comp = renderPage('pages/detail/detail', { id: 'w-4' })
  await flush()

  const frame = () => inside(comp, '.main--full', '.image-src').getAttribute('data-src')
  expect(frame()).toBe('https://img.test/w-4.thumb.jpg')
  expect(inside(comp, '.main--preload', '.image-src').getAttribute('data-src')).toBe('https://img.test/w-4.png')
  expect(text(comp)).toContain('♥9')
  expect(text(comp)).toContain('霓虹雨夜里的一只猫')
  expect(inside(comp, '.main--share', '.button-probe').getAttribute('data-open-type')).toBe('share')

  comp.instance.onOriginalLoad()
  await flush()
  expect(frame()).toBe('https://img.test/w-4.png')
  expect(comp.dom.querySelector('.main--preload')).toBeNull()
})

test('detail marks the image as AI生成, never names the model, and offers 做同款, poster and 举报', async () => {
  const comp = renderPage('pages/detail/detail', { id: 'w-4' })
  await flush()

  expect(comp.dom.querySelector('.main--ai-mark').textContent).toBe('AI生成')
  expect(text(comp)).not.toContain('dall-e-3')
  expect(text(comp)).not.toContain('offline')
  expect(text(comp)).toContain('做同款')
  expect(text(comp)).toContain('海报')
  expect(comp.dom.querySelector('.main--report-entry').textContent).toBe('举报')

  comp.instance.onOpenReport()
  await flush()
  expect(text(comp)).toContain('色情低俗')
  expect(text(comp)).toContain('我们会在 48 小时内处理你的举报')
})

test('mine renders the history entry and the account rows', async () => {
  const comp = renderPage('pages/mine/mine')
  await flush()

  const rows = [...comp.dom.querySelectorAll('.main--menu-row')].map((r) => r.textContent.replace(/\s+/g, ''))
  expect(rows).toEqual(['生成记录›', '隐私政策›', '退出登录›', '注销账号›'])
})

test('history renders each generation with its badge and the failure reason in Chinese', async () => {
  const comp = renderPage('pages/history/history')
  await flush()

  const items = comp.dom.querySelectorAll('.main--item')
  expect(items).toHaveLength(2)
  expect(items[0].textContent).toContain('失败')
  expect(items[0].textContent).toContain('绘图服务暂时不可用，请稍后再试（额度已退回）')
  expect(items[0].textContent).toContain('重试')
  expect(items[1].textContent).toContain('已完成')
  expect(items[1].querySelector('.image-src').getAttribute('data-src')).toBe('https://img.test/w-1.thumb.jpg')
  expect(comp.dom.querySelectorAll('.main--focus')).toHaveLength(0)
  comp.instance.onUnload()
})

test('history opened for one generation (the subscribe message) highlights it', async () => {
  const comp = renderPage('pages/history/history', { id: 'g-2' })
  await flush()

  const focused = comp.dom.querySelectorAll('.main--focus')
  expect(focused).toHaveLength(1)
  expect(focused[0].textContent).toContain('雨夜')
  comp.instance.onUnload()
})

test('mine renders the chooseAvatar button, the nickname input, the quota and my wallpapers', async () => {
  const comp = renderPage('pages/mine/mine')
  await flush()

  expect(inside(comp, '.main--avatar-button', '.button-probe').getAttribute('data-open-type')).toBe('chooseAvatar')
  const nickname = inside(comp, '.main--nickname', '.input-probe')
  expect(nickname.getAttribute('data-type')).toBe('nickname')
  expect(nickname.getAttribute('data-value')).toBe('小明')
  expect(text(comp)).toContain('今日已用 3 / 10 次，剩余 7 次')
  const items = comp.dom.querySelectorAll('.main--item')
  expect(items).toHaveLength(2)
  expect(items[0].textContent).toContain('私密')
  expect(items[1].textContent).toContain('公开')
  expect(items[0].querySelector('.main--delete').getAttribute('data-id')).toBe('w-2')
})

test('history badges the image of an AI-generated wallpaper "AI生成"; no image, no badge', async () => {
  generations = [
    { id: 'g-3', status: 'succeeded', prompt: '海边', created_at: '2026-11-23T06:00:00Z', wallpaper: wallpaper(3, { ai_generated: false }) },
    GENERATIONS[0],
    GENERATIONS[1],
  ]
  const comp = renderPage('pages/history/history')
  await flush()

  const items = comp.dom.querySelectorAll('.main--item')
  expect(items).toHaveLength(3)
  expect(items[0].querySelector('.image-src')).not.toBeNull()
  expect(items[0].querySelector('.main--ai-mark')).toBeNull()
  expect(items[1].querySelector('.main--ai-mark')).toBeNull()
  expect(items[2].querySelector('.main--ai-mark').textContent).toBe('AI生成')
  comp.instance.onUnload()
})

test('mine badges each AI-generated wallpaper "AI生成" over its thumbnail, others none', async () => {
  mine = [wallpaper(2, { public: false }), wallpaper(1, { ai_generated: false })]
  const comp = renderPage('pages/mine/mine')
  await flush()

  const items = comp.dom.querySelectorAll('.main--item')
  expect(items).toHaveLength(2)
  expect(items[0].querySelector('.main--ai-mark').textContent).toBe('AI生成')
  expect(items[1].querySelector('.main--ai-mark')).toBeNull()
  expect(items[1].textContent).not.toContain('AI生成')
})

// Last: it bans the fake server's user for the tests after it.
test('mine renders a banned user the ban in Chinese and 注销账号', async () => {
  const banned = () => error(403, 'banned', 'this account is banned')
  server.route('GET', '/api/v1/me', banned)
  server.route('GET', '/api/v1/me/wallpapers', banned)
  const comp = renderPage('pages/mine/mine')
  await flush()

  expect(text(comp)).toContain('账号已被封禁')
  expect(text(comp)).toContain('封禁依然有效')
  expect(comp.dom.querySelector('.main--delete-account').textContent.trim()).toBe('注销账号')
  expect(comp.dom.querySelector('.main--profile')).toBeNull()
  expect(comp.dom.querySelectorAll('.main--menu-row')).toHaveLength(0)
})
