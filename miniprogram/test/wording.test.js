// One wording for what users and operators both see: the report reasons
// in the detail page's sheet are the words the admin console shows
// (internal/httpapi/console.go) and docs/compliance.md describes, so an
// operator reads back exactly what the user picked.
const fs = require('fs')
const path = require('path')
const { createServer } = require('./helpers/server')
const { createWx } = require('./helpers/wx')
const { loadPage } = require('./helpers/page')

const REPO = path.resolve(__dirname, '../..')
const read = (file) => fs.readFileSync(path.join(REPO, file), 'utf8')

// The Go constants' values (wallpaper.ReasonAbuse = "abuse", …).
const GO_REASONS = { ReasonPorn: 'porn', ReasonPolitics: 'politics', ReasonViolence: 'violence', ReasonAbuse: 'abuse', ReasonCopyright: 'copyright', ReasonOther: 'other' }

let reasons

beforeAll(() => {
  global.wx = createWx(createServer())
  reasons = loadPage('pages/detail/detail').data.reasons
  delete global.wx
  delete global.Page
})

test('the mini-program offers the six reasons the API takes', () => {
  expect(reasons.map((r) => r.value).sort()).toEqual(Object.values(GO_REASONS).sort())
  const spec = JSON.parse(read('docs/swagger.json'))
  const body = Object.entries(spec.definitions).find(([name]) => /ReportRequest$/.test(name))
  expect(body).toBeDefined()
  expect([...body[1].properties.reason.enum].sort()).toEqual(Object.values(GO_REASONS).sort())
})

test('the admin console labels each reason with the words users picked', () => {
  const source = read('internal/httpapi/console.go')
  const block = /var consoleReasons = map\[string\]string\{([\s\S]*?)\n\}/.exec(source)
  expect(block).not.toBeNull()
  const console_ = {}
  for (const [, name, label] of block[1].matchAll(/wallpaper\.(Reason\w+):\s*"([^"]*)"/g)) console_[GO_REASONS[name]] = label
  const app = Object.fromEntries(reasons.map((r) => [r.value, r.label]))
  expect(console_).toEqual(app)
})

test('docs/compliance.md names each reason with the same words', () => {
  const doc = read('docs/compliance.md')
  for (const { value, label } of reasons) expect(doc).toContain(`${label} ${value}`)
  expect(doc).not.toMatch(/辱骂骚扰|其他 other/)
})
