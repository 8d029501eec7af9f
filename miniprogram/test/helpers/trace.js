// Tracing what the mini-program uses of the API, for the contract test.
// Every answer body is wrapped in a Proxy that records each field the code
// reads ("items[].author.nickname"); every setData records which data path
// now holds which answer (or part of one), so the fields the templates
// read through that data path count too (see wxml.js). Whole-object copies
// (setData's own JSON copy) are not reads: recording pauses for them.
const META = Symbol('trace')
// Keys the runtime itself looks up on any value (a promise resolving with
// it checks for then): not fields the code reads.
const PLUMBING = new Set(['then', 'toJSON', 'constructor', 'asymmetricMatch', 'nodeType', '$$typeof'])

function createTracer() {
  const reads = {}
  const bindings = []
  let paused = 0

  function record(endpoint, path) {
    if (paused) return
    if (!reads[endpoint]) reads[endpoint] = new Set()
    reads[endpoint].add(path)
  }

  // wrap returns value with its reads recorded under endpoint, at path.
  function wrap(value, endpoint, path = '') {
    if (value === null || typeof value !== 'object') return value
    return new Proxy(value, {
      get(target, key, receiver) {
        if (key === META) return { endpoint, path }
        const v = Reflect.get(target, key, receiver)
        if (typeof key === 'symbol' || typeof v === 'function' || PLUMBING.has(key)) return v
        if (Array.isArray(target)) return /^\d+$/.test(key) ? wrap(v, endpoint, `${path}[]`) : v
        const child = path ? `${path}.${key}` : key
        record(endpoint, child)
        return wrap(v, endpoint, child)
      },
    })
  }

  function pause(fn) {
    paused += 1
    try {
      return fn()
    } finally {
      paused -= 1
    }
  }

  // bind notes which answers a setData patch put where, on page route, and
  // answers them with their place in page.data (segments).
  function bind(route, patch) {
    const found = []
    const walk = (value, segments, dataPath) => {
      if (value === null || typeof value !== 'object') return
      const meta = value[META]
      if (meta) {
        found.push({ route, dataPath, endpoint: meta.endpoint, path: meta.path, segments })
        return
      }
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, segments.concat(String(i)), `${dataPath}[]`))
      else Object.keys(value).forEach((k) => walk(value[k], segments.concat(k), `${dataPath}.${k}`))
    }
    pause(() =>
      Object.keys(patch).forEach((key) => walk(patch[key], key.replace(/\[(\d+)\]/g, '.$1').split('.'), key.replace(/\[\d+\]/g, '[]'))),
    )
    found.forEach(({ segments, ...binding }) => bindings.push(binding))
    return found
  }

  // traced wraps a page instance's setData so it binds before it copies,
  // and puts the tracing back on the copies: code that reads an answer
  // back from this.data is reading the answer.
  function traced(route, page) {
    const setData = page.setData
    page.setData = function tracedSetData(patch, callback) {
      const found = bind(route, patch)
      pause(() => setData.call(this, patch))
      found.forEach((b) => {
        let parent = this.data
        b.segments.slice(0, -1).forEach((seg) => {
          parent = parent && parent[seg]
        })
        const last = b.segments[b.segments.length - 1]
        if (parent && parent[last] && typeof parent[last] === 'object') parent[last] = wrap(parent[last], b.endpoint, b.path)
      })
      if (callback) callback()
    }
    return page
  }

  return { reads, bindings, wrap, pause, bind, traced, record }
}

module.exports = { createTracer }
