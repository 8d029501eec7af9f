/**
 * @jest-environment jsdom
 */
// What WeChat DevTools checks when it opens the project, checked here as far
// as a Linux machine can: app.json and the page files agree, every WXML and
// WXSS file compiles with the official compilers (miniprogram-compiler's
// wcc/wcsc), every event handler a template names exists on its page, and
// the layering holds (only the request module touches the network, only
// config.js knows the base URL, only endpoints.js spells API paths).
const fs = require('fs')
const path = require('path')
const compiler = require('miniprogram-compiler')
const { ROOT } = require('./helpers/page')

function read(file) {
  return fs.readFileSync(path.join(ROOT, file), 'utf8')
}

function readJson(file) {
  return JSON.parse(read(file))
}

// sources lists the shipped .js files (tests and dependencies excluded).
function sources(dir = '') {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name)
    if (entry.isDirectory()) return ['node_modules', 'test', 'coverage'].includes(entry.name) ? [] : sources(rel)
    return entry.name.endsWith('.js') && entry.name !== 'jest.config.js' ? [rel] : []
  })
}

const app = readJson('app.json')

describe('app.json', () => {
  test('lists the pages, gallery first', () => {
    expect(app.pages).toEqual(['pages/gallery/gallery', 'pages/create/create', 'pages/mine/mine', 'pages/detail/detail', 'pages/history/history'])
  })

  test('has the tab bar gallery, create, mine', () => {
    expect(app.tabBar.list.map((tab) => tab.pagePath)).toEqual(['pages/gallery/gallery', 'pages/create/create', 'pages/mine/mine'])
  })

  // WeChat takes local PNG or JPG icons of at most 40 KB (81×81 px
  // recommended); a missing file breaks the tab bar on a phone.
  test.each(app.tabBar.list.flatMap((tab) => [[tab.text, tab.iconPath], [`${tab.text} (selected)`, tab.selectedIconPath]]))('tab icon %s is a small 81×81 PNG in the package', (_, icon) => {
    expect(icon).toMatch(/^images\/[\w-]+\.png$/)
    const bytes = fs.readFileSync(path.join(ROOT, icon))
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([81, 81])
    expect(bytes.length).toBeLessThanOrEqual(40 * 1024)
  })

  test('sets network timeouts and the privacy check', () => {
    expect(app.networkTimeout).toEqual(expect.objectContaining({ request: expect.any(Number), uploadFile: expect.any(Number), downloadFile: expect.any(Number) }))
    expect(app.__usePrivacyCheck__).toBe(true)
    expect(() => readJson(app.sitemapLocation)).not.toThrow()
  })

  // The placeholder, or an operator's own AppID: a real one must not
  // break the tests of the project that uses it.
  test('project.config.json carries an AppID (the placeholder or a real one)', () => {
    const config = readJson('project.config.json')
    expect(config).toMatchObject({ compileType: 'miniprogram' })
    expect(config.appid).toMatch(/^(touristappid|wx[0-9a-f]{16})$/)
  })
})

describe.each(app.pages)('%s', (page) => {
  test('has its .js, .json, .wxml and .wxss, and the .json parses', () => {
    ;['.js', '.json', '.wxml', '.wxss'].forEach((ext) => expect(fs.existsSync(path.join(ROOT, page + ext))).toBe(true))
    expect(() => readJson(`${page}.json`)).not.toThrow()
  })

  test('every handler its template binds is a function of the page', () => {
    let definition
    global.Page = (def) => {
      definition = def
    }
    jest.isolateModules(() => require(path.join(ROOT, page)))
    delete global.Page
    const handlers = [...read(`${page}.wxml`).matchAll(/\b(?:bind|catch|mut-bind|capture-bind|capture-catch):?[a-z]+="([^"]+)"/g)].map((m) => m[1])
    expect(handlers.length).toBeGreaterThan(0)
    expect(handlers.filter((name) => typeof definition[name] !== 'function')).toEqual([])
  })
})

describe('official compilers', () => {
  test('every page template compiles with wcc', () => {
    // The compiled templates expect a browser-like global (jsdom here).
    const gwx = new Function(compiler.wxmlToJs(ROOT, { wxmlList: app.pages.map((p) => `${p}.wxml`), wxsList: [] }))()
    app.pages.forEach((page) => expect(typeof gwx(`${page}.wxml`)).toBe('function'))
  })

  test('app.wxss and every page stylesheet compile with wcsc', () => {
    // The raw wcsc wrapper, because wxssToJs hides wcsc's error message.
    const wcsc = require('miniprogram-compiler/src/wcsc')
    const list = ['app', ...app.pages]
    const result = wcsc(ROOT, list)
    expect(result instanceof Error ? result.message : '').toBe('')
    list.forEach((file) => expect(result[`${file}.wxss`]).toBeDefined())
  })
})

// No English reaches a user: the text of every template (outside {{…}}),
// its placeholders, and every literal title, content or button text the
// code shows in a toast or a dialog. "AI" is the one word allowed: it is
// part of the "AI生成" label and the product's name.
describe('Chinese only', () => {
  const english = (text) => (text.replace(/\bAI\b/g, '').match(/[A-Za-z]{2,}/g) || [])

  test.each(app.pages)('%s template text is Chinese', (page) => {
    const source = read(`${page}.wxml`).replace(/<!--[\s\S]*?-->/g, '')
    const text = source.replace(/\{\{[\s\S]*?\}\}/g, ' ').replace(/<[^>]*>/g, ' ')
    const placeholders = [...source.matchAll(/placeholder="([^"]*)"/g)].map((m) => m[1])
    expect([...english(text), ...placeholders.flatMap(english)]).toEqual([])
  })

  test('toast and dialog texts in the code are Chinese', () => {
    const offenders = sources().flatMap((file) =>
      [...read(file).matchAll(/\b(title|content|confirmText|cancelText)\s*:\s*(['`])((?:(?!\2).)*)\2/g)]
        .filter((m) => english(m[3].replace(/\$\{[^}]*\}/g, '')).length)
        .map((m) => `${file}: ${m[3]}`),
    )
    expect(offenders).toEqual([])
  })
})

describe('layering', () => {
  const files = sources()

  test('only utils/request.js calls wx.request or wx.uploadFile', () => {
    const offenders = files.filter((f) => f !== path.join('utils', 'request.js') && /wx\.(request|uploadFile)\s*\(/.test(read(f)))
    expect(offenders).toEqual([])
  })

  test('only config.js holds a base URL', () => {
    const offenders = files.filter((f) => f !== 'config.js' && /https?:\/\//.test(read(f)))
    expect(offenders).toEqual([])
  })

  test('only utils/endpoints.js spells API paths', () => {
    const offenders = files.filter((f) => f !== path.join('utils', 'endpoints.js') && /['`"]\/api\/v1\//.test(read(f)))
    expect(offenders).toEqual([])
  })
})
