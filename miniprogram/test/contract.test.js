// The contract check against the backend's generated docs/swagger.json.
// Every call the mini-program makes (utils/endpoints.js) must be
// documented, method and path alike (path parameter names may differ:
// {id} vs {wallpaper_id}), and the fields it reads and sends must be in
// the documented schemas.
//
// Nothing here is a hand-written list of fields: the pages are driven
// through their states (helpers/tours.js) and the fields are what the code
// does. Reads are recorded on the answers themselves (helpers/trace.js);
// the fields a template reads are found in its WXML (helpers/wxml.js) and
// traced back to the answer that filled that data; what is sent is read
// off the wire. To keep the tours honest, every endpoint a page's code
// names must have been called during its tour.
const fs = require('fs')
const path = require('path')
const { ENDPOINTS } = require('../utils/endpoints')
const { createTracer } = require('./helpers/trace')
const { templatePaths } = require('./helpers/wxml')
const { TOURS, runTour } = require('./helpers/tours')
const { ROOT } = require('./helpers/page')

const SWAGGER = path.resolve(__dirname, '../../docs/swagger.json')
const spec = JSON.parse(fs.readFileSync(SWAGGER, 'utf8'))
const BASE = !spec.basePath || spec.basePath === '/' ? '' : spec.basePath.replace(/\/+$/, '')

function normalise(p) {
  return p.replace(/\{[^}]+\}/g, '{}').replace(/\/+$/, '')
}

// operation finds the spec's operation for an endpoint of endpoints.js.
function operation(endpoint) {
  const key = Object.keys(spec.paths || {}).find((p) => normalise(BASE + p) === normalise(endpoint.path))
  return key ? spec.paths[key][endpoint.method.toLowerCase()] : undefined
}

// resolve follows $ref and merges allOf, so nested and wrapped schemas read
// as plain objects.
function resolve(schema) {
  if (!schema) return undefined
  if (schema.$ref) return resolve(spec.definitions[schema.$ref.replace('#/definitions/', '')])
  if (schema.allOf) {
    const merged = { type: 'object', properties: Object.assign({}, schema.properties) }
    schema.allOf.forEach((part) => Object.assign(merged.properties, (resolve(part) || {}).properties))
    return merged
  }
  return schema
}

// hasField answers whether a traced field path ("items[].author.nickname",
// "[].name" for an array answer) exists in a schema.
function hasField(schema, field) {
  let node = resolve(schema)
  for (const part of field.split('.')) {
    const array = part.endsWith('[]')
    const name = array ? part.slice(0, -2) : part
    if (name) node = node && node.properties ? resolve(node.properties[name]) : undefined
    if (array) node = node && node.type === 'array' ? resolve(node.items) : undefined
    if (!node) return false
  }
  return true
}

// apiFunctions maps each function of utils/api.js to the endpoint it calls.
function apiFunctions() {
  const source = fs.readFileSync(path.join(ROOT, 'utils/api.js'), 'utf8')
  const map = {}
  let current = null
  source.split('\n').forEach((line) => {
    const fn = /^ {2}(\w+):/.exec(line)
    if (fn) current = fn[1]
    const ep = /call\('(\w+)'|ENDPOINTS\.(\w+)/.exec(line)
    if (current && ep) map[current] = map[current] || ep[1] || ep[2]
  })
  return map
}

// namedEndpoints lists the endpoints a page's code calls: through api.X()
// in the page and in the utils modules it requires.
function namedEndpoints(route) {
  const fns = apiFunctions()
  const files = [`${route}.js`]
  const page = fs.readFileSync(path.join(ROOT, `${route}.js`), 'utf8')
  ;[...page.matchAll(/require\('\.\.\/\.\.\/utils\/(\w+)'\)/g)].forEach((m) => files.push(`utils/${m[1]}.js`))
  const names = new Set()
  files.forEach((file) => {
    const source = fs.readFileSync(path.join(ROOT, file), 'utf8')
    ;[...source.matchAll(/\bapi\.(\w+)\(/g)].forEach((m) => fns[m[1]] && names.add(fns[m[1]]))
  })
  return [...names].sort()
}

const tracer = createTracer()
const wires = {}
const tourErrors = {}
const routes = Object.keys(TOURS)

beforeAll(async () => {
  for (const route of routes) {
    try {
      wires[route] = await runTour(route, tracer)
    } catch (err) {
      tourErrors[route] = err
      wires[route] = []
    }
  }
})

// used gathers, per endpoint, what the code reads (in JS and through the
// templates) and what it sends.
function used() {
  const out = {}
  Object.keys(ENDPOINTS).forEach((name) => {
    out[name] = { reads: new Set(tracer.reads[name] || []), body: new Set(), query: new Set(), headers: new Set(), formData: new Set() }
  })
  routes.forEach((route) => {
    const templ = templatePaths(fs.readFileSync(path.join(ROOT, `${route}.wxml`), 'utf8'))
    tracer.bindings
      .filter((b) => b.route === route)
      .forEach((b) => {
        templ.forEach((t) => {
          if (!t.startsWith(`${b.dataPath}.`)) return
          const rest = t.slice(b.dataPath.length + 1)
          out[b.endpoint].reads.add(b.path ? `${b.path}.${rest}` : rest)
        })
      })
    wires[route].forEach((call) => {
      const u = out[call.endpoint]
      if (!u) return
      if (call.body && typeof call.body === 'object') Object.keys(call.body).forEach((k) => u.body.add(k))
      Object.keys(call.query || {}).forEach((k) => u.query.add(k))
      if (call.header && call.header['Idempotency-Key']) u.headers.add('Idempotency-Key')
      ;(call.formData || []).forEach((f) => u.formData.add(f))
    })
  })
  return out
}

test('docs/swagger.json is a Swagger 2.0 document', () => {
  expect(spec.swagger).toBe('2.0')
})

describe.each(routes)('the tour of %s', (route) => {
  test('runs through', () => {
    expect(tourErrors[route] ? String(tourErrors[route].stack || tourErrors[route]) : '').toBe('')
  })

  test('calls every endpoint its code names', () => {
    const called = new Set(wires[route].map((c) => c.endpoint))
    expect(namedEndpoints(route).filter((name) => !called.has(name))).toEqual([])
  })
})

test('the tours call every endpoint of utils/endpoints.js', () => {
  const called = new Set(routes.flatMap((r) => wires[r].map((c) => c.endpoint)))
  expect(Object.keys(ENDPOINTS).filter((name) => !called.has(name))).toEqual([])
})

describe.each(Object.entries(ENDPOINTS))('%s', (name, endpoint) => {
  const op = operation(endpoint)

  test(`${endpoint.method} ${endpoint.path} is documented`, () => {
    expect({ endpoint: name, documented: Boolean(op) }).toEqual({ endpoint: name, documented: true })
  })

  test('answers with the fields the mini-program reads', () => {
    const responses = Object.entries((op && op.responses) || {}).filter(([status]) => /^2/.test(status))
    expect(responses.length).toBeGreaterThan(0)
    const reads = [...used()[name].reads].sort()
    if (endpoint.file) {
      const produces = (op && op.produces) || spec.produces || []
      expect(produces.some((type) => /^image\//.test(type))).toBe(true)
      return
    }
    const withBody = responses.filter(([, r]) => r.schema)
    const missing = withBody.flatMap(([status, r]) => reads.filter((field) => !hasField(r.schema, field)).map((f) => `${status} ${f}`))
    expect({ endpoint: name, missing }).toEqual({ endpoint: name, missing: [] })
    if (!withBody.length) expect(reads).toEqual([])
  })

  test('takes what the mini-program sends', () => {
    const u = used()[name]
    const params = (op && op.parameters) || []
    const body = params.find((p) => p.in === 'body')
    const missing = [
      ...[...u.body].filter((field) => !body || !hasField(body.schema, field)).map((f) => `body ${f}`),
      ...[...u.query].filter((q) => !params.some((p) => p.in === 'query' && p.name === q)).map((q) => `query ${q}`),
      ...[...u.headers].filter((h) => !params.some((p) => p.in === 'header' && p.name === h)).map((h) => `header ${h}`),
      ...[...u.formData].filter((f) => !params.some((p) => p.in === 'formData' && p.name === f)).map((f) => `formData ${f}`),
    ]
    expect({ endpoint: name, missing }).toEqual({ endpoint: name, missing: [] })
  })
})

test('the tours read the fields pages show (the tracing works)', () => {
  const u = used()
  expect([...u.listWallpapers.reads]).toEqual(expect.arrayContaining(['items', 'items[].id', 'items[].thumbnail_url', 'items[].author.nickname', 'next_cursor']))
  expect([...u.getWallpaper.reads]).toEqual(expect.arrayContaining(['image_url', 'prompt', 'author.nickname']))
  expect([...u.createGeneration.body]).toEqual(expect.arrayContaining(['prompt', 'size', 'style', 'quality', 'public', 'preset', 'notify']))
  expect([...u.login.reads]).toEqual(expect.arrayContaining(['access_token', 'refresh_token']))
})

test('error bodies are documented with the fields the request module reads', () => {
  const reads = [...(tracer.reads['#error'] || [])].sort()
  expect(reads).toEqual(expect.arrayContaining(['code']))
  const op = operation(ENDPOINTS.getMe)
  const unauthorized = op && op.responses && op.responses['401']
  expect(unauthorized).toBeDefined()
  expect(reads.filter((f) => !hasField(unauthorized.schema, f))).toEqual([])
})
