// The data paths a WXML template reads, for the contract test: every
// {{…}} expression, in text and in attributes, with wx:for scopes resolved
// ("item.author.nickname" inside wx:for="{{items}}" reads
// "items[].author.nickname"; an index expression reads "[]").
const KEYWORDS = new Set(['true', 'false', 'null', 'undefined'])

function stripStrings(expr) {
  return expr.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, ' ')
}

// pathsOf answers the data paths one expression reads, given the loop
// scopes around it (innermost last).
function pathsOf(expr, scopes) {
  const out = []
  const chains = stripStrings(expr).match(/[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*|\s*\[[^\]]*\])*/g) || []
  chains.forEach((chain) => {
    const parts = chain.replace(/\s+/g, '').split(/(?=\[)|\./).filter(Boolean)
    const root = parts.shift()
    if (KEYWORDS.has(root)) return
    let base = root
    for (let i = scopes.length - 1; i >= 0; i--) {
      if (scopes[i].index === root) return
      if (scopes[i].item === root) {
        base = `${scopes[i].source}[]`
        break
      }
    }
    let path = base
    parts.forEach((part) => {
      if (part.startsWith('[')) path += '[]'
      else if (part !== 'length') path += `.${part}`
    })
    out.push(path)
  })
  return out
}

function expressions(text) {
  return [...text.matchAll(/\{\{([\s\S]*?)\}\}/g)].map((m) => m[1])
}

function attr(attrs, name) {
  const m = new RegExp(`(?:^|\\s)${name.replace(':', '\\:')}\\s*=\\s*"([^"]*)"`).exec(attrs)
  return m ? m[1] : null
}

// templatePaths answers every data path a WXML source reads.
function templatePaths(source) {
  const paths = new Set()
  const scopes = []
  const stack = []
  const add = (text, scopeList) => expressions(text).forEach((e) => pathsOf(e, scopeList).forEach((p) => paths.add(p)))
  const clean = source.replace(/<!--[\s\S]*?-->/g, '')
  const re = /<(\/?)([\w-]+)((?:\s+[^\s=>]+(?:\s*=\s*"[^"]*")?)*)\s*(\/?)>/g
  let last = 0
  let m
  while ((m = re.exec(clean))) {
    add(clean.slice(last, m.index), scopes)
    last = re.lastIndex
    const [, closing, , attrs, selfClosing] = m
    if (closing) {
      const open = stack.pop()
      if (open && open.scoped) scopes.pop()
      continue
    }
    const loop = attr(attrs, 'wx:for')
    let scoped = false
    if (loop) {
      const source = pathsOf(expressions(loop)[0] || '', scopes)[0]
      scopes.push({ source, item: attr(attrs, 'wx:for-item') || 'item', index: attr(attrs, 'wx:for-index') || 'index' })
      scoped = true
    }
    add(attrs.replace(/wx:for\s*=\s*"[^"]*"/, ''), scopes)
    if (selfClosing) {
      if (scoped) scopes.pop()
    } else {
      stack.push({ scoped })
    }
  }
  return [...paths].sort()
}

module.exports = { pathsOf, templatePaths }
