// Everything the user reads is Chinese: every error code the API documents
// has Chinese text in utils/request.js, every generation failure code too,
// and a code nobody wrote text for gets a Chinese generic message with the
// request id, never the server's English. The documented codes are read
// from docs/swagger.json (each error response names its codes in its
// description, e.g. "invalid_request: …; invalid_image: …", and an enum on
// the error schemas counts too; the failure codes are GenerationError.code's
// enum), so a code the server documents without Chinese text fails here.
const fs = require('fs')
const path = require('path')
const { FAILURES, MESSAGES, errorFromResponse, failureMessage, messageFor } = require('../utils/request')

const spec = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../docs/swagger.json'), 'utf8'))

// The request error codes the launch API adds (API-PLAN.md); once the
// server documents them they come from the spec as well.
const LAUNCH_CODES = ['banned', 'method_not_allowed', 'content_rejected', 'rate_limited']

// The code the server sends for a status whose description is only the
// HTTP reason phrase ("Service Unavailable"): one code per status.
const BY_STATUS = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'content_rejected',
  429: 'rate_limited',
  500: 'internal_error',
  502: 'upstream_error',
  503: 'unavailable',
}

// codesIn reads the snake_case codes a response description names: at its
// start or after a semicolon, followed by ":", "(", ";" or its end.
function codesIn(description) {
  return [...String(description || '').matchAll(/(?:^|;\s*)([a-z][a-z0-9]*(?:_[a-z0-9]+)*)(?=\s*(?:$|[:(;]))/g)].map((m) => m[1])
}

function enumOf(name) {
  const schema = spec.definitions && spec.definitions[name]
  const code = schema && schema.properties && schema.properties.code
  return (code && code.enum) || []
}

function documentedRequestCodes() {
  const codes = new Set(LAUNCH_CODES)
  Object.values(spec.paths || {}).forEach((ops) =>
    Object.values(ops).forEach((op) =>
      Object.entries(op.responses || {}).forEach(([status, response]) => {
        if (Number(status) < 400) return
        const named = codesIn(response.description)
        named.forEach((code) => codes.add(code))
        if (!named.length && BY_STATUS[status]) codes.add(BY_STATUS[status])
      }),
    ),
  )
  Object.keys(spec.definitions || {})
    .filter((name) => /ErrorBody$/.test(name))
    .forEach((name) => enumOf(name).forEach((code) => codes.add(code)))
  return [...codes].sort()
}

// generationFailureCodes are the codes a failed generation's error.code
// can be: the enum of GenerationError.code, which the server's
// TestGenerationFailureCodesAreDocumented holds to every code its Go code
// sets.
function generationFailureCodes() {
  const codes = new Set()
  Object.keys(spec.definitions || {})
    .filter((name) => /GenerationError$/.test(name))
    .forEach((name) => enumOf(name).forEach((code) => codes.add(code)))
  return [...codes].sort()
}

// chinese: CJK text with no English word in it ("AI" and units aside).
function isChinese(text) {
  return /[\u4e00-\u9fff]/.test(text) && !/[A-Za-z]{2,}/.test(String(text).replace(/\b(AI|MB|KB)\b/g, ''))
}

test('the codes are read from the spec (the reader finds the ones it must)', () => {
  expect(documentedRequestCodes()).toEqual(expect.arrayContaining(['invalid_request', 'invalid_image', 'invalid_code', 'quota_exceeded', 'prompt_rejected', 'upstream_error', 'unavailable', 'not_found']))
})

describe.each(documentedRequestCodes())('documented error code %s', (code) => {
  test('has Chinese text', () => {
    expect({ code, text: MESSAGES[code] }).toEqual({ code, text: expect.any(String) })
    expect(isChinese(MESSAGES[code])).toBe(true)
  })
})

test('the generation failure codes are read from the spec (its enum is there and has the ones it must)', () => {
  expect(generationFailureCodes()).toEqual(expect.arrayContaining(['content_policy', 'content_rejected', 'cancelled', 'upstream_timeout', 'internal_error']))
})

describe.each(generationFailureCodes())('generation failure code %s', (code) => {
  test('has a Chinese reason', () => {
    expect({ code, text: FAILURES[code] }).toEqual({ code, text: expect.any(String) })
    expect(isChinese(failureMessage({ code, message: 'the English message the server sent' }))).toBe(true)
  })
})

test('every text in the tables is Chinese', () => {
  Object.entries(Object.assign({}, MESSAGES, FAILURES)).forEach(([code, text]) => expect({ code, chinese: isChinese(text) }).toEqual({ code, chinese: true }))
})

test('an unknown code gets the Chinese generic message with the request id', () => {
  const err = errorFromResponse({ statusCode: 400, data: { code: 'brand_new_code', message: 'something in English', request_id: '0123456789abcdef' }, header: {} })

  expect(err.message).toBe('出错了，请稍后再试（编号 01234567）')
  expect(messageFor('brand_new_code', '')).toBe('出错了，请稍后再试')
  expect(failureMessage({ code: 'brand_new_failure', message: 'English' })).toBe('生成失败，请重试')
})

test('banned login says the account is banned', () => {
  const err = errorFromResponse({ statusCode: 403, data: { code: 'banned', message: 'this account is banned', request_id: 'r' }, header: {} })

  expect(err.message).toMatch(/^账号已被封禁/)
})
