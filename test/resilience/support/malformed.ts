// Malformed requests for user-service and order-service: broken JSON, wrong types, missing and
// extra fields, prototype-poisoning keys, 2 MiB bodies, out-of-range ids, odd unicode and bad
// query strings. Every one of them must be refused with a 4xx; none may write a row. Fixed cases
// come first, then seeded random ones (truncated JSON, random out-of-range ids, random lone
// surrogates and control characters), so a run is reproducible.
import { Readable } from 'node:stream'

export interface MalformedRequest {
  /** What is wrong with it, for the failure message. */
  readonly what: string
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT'
  readonly path: string
  readonly headers?: Record<string, string>
  /** A function for streamed bodies, which can be sent once only. */
  readonly body?: string | Buffer | (() => Readable)
}

const json = { 'content-type': 'application/json' }
const MIB = 1024 * 1024

/** A JSON object of about `bytes` bytes: valid JSON, far over the 1 MiB body limit. */
function hugeJson(fields: Record<string, unknown>, bytes: number): string {
  return JSON.stringify({ ...fields, padding: 'x'.repeat(bytes) })
}

/** The same, sent chunked (no content-length), so the limit must be enforced while reading. */
function chunked(text: string): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        for (let offset = 0; offset < text.length; offset += 64 * 1024) yield Buffer.from(text.slice(offset, offset + 64 * 1024))
      })(),
    )
}

/** Ids a client can type that can never name a row. */
const BAD_IDS = [
  '-1',
  '0',
  '-2147483648',
  '2147483648',
  '99999999999999999999999',
  '1e400',
  '-1e400',
  '1.5',
  'abc',
  'NaN',
  'Infinity',
  '%00',
  '%ff',
  '%F0%9F%98%80',
  '%E2%80%AE1',
  '1%20OR%201=1',
  "1'",
  '__proto__',
  'constructor',
  '%5B%5D',
]

/** Query strings every list route must refuse. */
const BAD_QUERIES = [
  'limit=abc',
  'limit=0',
  'limit=101',
  'limit=-1',
  'offset=-1',
  'limit=1e400',
  'limit=Infinity',
  'limit=1&limit=2',
  'foo=bar',
  '__proto__=1',
  'constructor=x',
  '__proto__%5Badmin%5D=1',
  'limit=%zz',
  'limit[]=1',
  'limit=1.5',
  'offset=99999999999999',
  'limit=%F0%9F%98%80',
  'limit=%00',
]

function common(base: '/users' | '/orders', valid: Record<string, unknown>): MalformedRequest[] {
  const body = JSON.stringify(valid)
  const cases: MalformedRequest[] = [
    { what: 'broken JSON: cut off', method: 'POST', path: base, headers: json, body: body.slice(0, -5) },
    { what: 'broken JSON: JavaScript, not JSON', method: 'POST', path: base, headers: json, body: `{name: 'a'}` },
    { what: 'broken JSON: trailing comma', method: 'POST', path: base, headers: json, body: `${body.slice(0, -1)},}` },
    { what: 'broken JSON: NaN literal', method: 'POST', path: base, headers: json, body: body.replace(/}$/, ',"n":NaN}') },
    {
      what: 'broken JSON: invalid UTF-8 bytes',
      method: 'POST',
      path: base,
      headers: json,
      body: Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0x7d]),
    },
    { what: 'broken JSON: BOM and garbage', method: 'POST', path: base, headers: json, body: '\ufeff{{}}' },
    { what: 'empty body with a JSON content type', method: 'POST', path: base, headers: json, body: '' },
    { what: 'JSON null', method: 'POST', path: base, headers: json, body: 'null' },
    { what: 'JSON array', method: 'POST', path: base, headers: json, body: `[${body}]` },
    { what: 'JSON string', method: 'POST', path: base, headers: json, body: '"hello"' },
    { what: 'JSON number', method: 'POST', path: base, headers: json, body: '42' },
    { what: 'empty object', method: 'POST', path: base, headers: json, body: '{}' },
    { what: 'extra field', method: 'POST', path: base, headers: json, body: JSON.stringify({ ...valid, admin: true }) },
    { what: 'extra field: id', method: 'POST', path: base, headers: json, body: JSON.stringify({ ...valid, id: 5 }) },
    { what: '__proto__ key', method: 'POST', path: base, headers: json, body: `{"__proto__":{"admin":true},${body.slice(1)}` },
    {
      what: 'constructor key',
      method: 'POST',
      path: base,
      headers: json,
      body: `{"constructor":{"prototype":{"admin":true}},${body.slice(1)}`,
    },
    { what: 'nested __proto__', method: 'POST', path: base, headers: json, body: `{"x":{"__proto__":{"polluted":1}},${body.slice(1)}` },
    { what: '2 MiB body with content-length', method: 'POST', path: base, headers: json, body: hugeJson(valid, 2 * MIB) },
    { what: '2 MiB body, chunked', method: 'POST', path: base, headers: json, body: chunked(hugeJson(valid, 2 * MIB)) },
    { what: 'text/plain body', method: 'POST', path: base, headers: { 'content-type': 'text/plain' }, body },
    {
      what: 'form body',
      method: 'POST',
      path: base,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=a&email=b',
    },
    {
      what: 'multipart body',
      method: 'POST',
      path: base,
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\n\r\nname\r\n--x--',
    },
    { what: 'JSON without a content type', method: 'POST', path: base, body },
    { what: 'PUT is not a route', method: 'PUT', path: `${base}/1`, headers: json, body },
    { what: 'POST to an id', method: 'POST', path: `${base}/1`, headers: json, body },
    { what: 'unknown sub-route', method: 'GET', path: `${base}/1/nothing/here` },
    { what: 'DELETE of an id that does not exist', method: 'DELETE', path: `${base}/1999999999` },
  ]
  for (const id of BAD_IDS) {
    cases.push({ what: `GET id ${id}`, method: 'GET', path: `${base}/${id}` })
    cases.push({ what: `DELETE id ${id}`, method: 'DELETE', path: `${base}/${id}` })
  }
  for (const query of BAD_QUERIES) cases.push({ what: `query ${query}`, method: 'GET', path: `${base}?${query}` })
  return cases
}

function userCases(): MalformedRequest[] {
  const valid = { name: 'Mallory', email: 'mallory@example.com' }
  const post = (what: string, value: unknown) => ({
    what,
    method: 'POST' as const,
    path: '/users',
    headers: json,
    body: JSON.stringify(value),
  })
  const patch = (what: string, id: string, value: unknown) => ({
    what,
    method: 'PATCH' as const,
    path: `/users/${id}`,
    headers: json,
    body: JSON.stringify(value),
  })
  return [
    ...common('/users', valid),
    post('name is a number', { name: 123, email: valid.email }),
    post('name is an array', { name: ['a'], email: valid.email }),
    post('name is an object', { name: { first: 'a' }, email: valid.email }),
    post('name is a boolean', { name: true, email: valid.email }),
    post('name is null', { name: null, email: valid.email }),
    post('email is a number', { name: 'a', email: 42 }),
    post('name missing', { email: valid.email }),
    post('email missing', { name: 'a' }),
    post('name blank', { name: '   ', email: valid.email }),
    post('name empty', { name: '', email: valid.email }),
    post('name too long', { name: 'n'.repeat(201), email: valid.email }),
    post('name with NUL', { name: 'a\u0000b', email: valid.email }),
    post('name with a lone surrogate', { name: 'a\ud800b', email: valid.email }),
    post('name with an escape sequence', { name: '\u001b[31mred', email: valid.email }),
    post('name with DEL', { name: 'a\u007f', email: valid.email }),
    post('email not an email', { name: 'a', email: 'not-an-email' }),
    post('email without a domain', { name: 'a', email: 'a@b' }),
    post('email in emoji', { name: 'a', email: '\u{1F600}@\u{1F600}.com' }),
    post('email with a newline', { name: 'a', email: 'a@b.co\n' }),
    post('email too long', { name: 'a', email: `${'e'.repeat(250)}@example.com` }),
    post('email taken (Alice, other case)', { name: 'Alice Again', email: 'ALICE@example.com' }),
    patch('PATCH with nothing to change', '1', {}),
    patch('PATCH with a bad email', '1', { email: 'bad' }),
    patch('PATCH of the id', '1', { id: 7 }),
    patch('PATCH with an extra field', '2', { name: 'Bobby', admin: true }),
    patch('PATCH of a negative id', '-3', { name: 'x' }),
    patch('PATCH of a huge id', '2147483648', { name: 'x' }),
    patch('PATCH to a taken email', '1', { email: 'bob@example.com' }),
    patch('PATCH with a lone surrogate', '1', { name: '\udfff' }),
    patch('PATCH of a user that does not exist', '1999999999', { name: 'Nobody' }),
    { what: 'PATCH with broken JSON', method: 'PATCH', path: '/users/1', headers: json, body: '{"name":' },
    { what: 'PATCH with __proto__', method: 'PATCH', path: '/users/1', headers: json, body: '{"__proto__":{"x":1},"name":"P"}' },
  ]
}

function orderCases(): MalformedRequest[] {
  const valid = { userId: 1, item: 'Widget', price: 9.99, quantity: 1 }
  const post = (what: string, value: unknown) => ({
    what,
    method: 'POST' as const,
    path: '/orders',
    headers: json,
    body: JSON.stringify(value),
  })
  const without = (key: keyof typeof valid) => Object.fromEntries(Object.entries(valid).filter(([name]) => name !== key))
  return [
    ...common('/orders', valid),
    post('userId as a string', { ...valid, userId: '1' }),
    post('price as a string', { ...valid, price: '12' }),
    post('quantity as a string', { ...valid, quantity: '2' }),
    post('userId fractional', { ...valid, userId: 1.5 }),
    post('userId zero', { ...valid, userId: 0 }),
    post('userId negative', { ...valid, userId: -1 }),
    post('userId huge', { ...valid, userId: 2147483648 }),
    post('userId of nobody', { ...valid, userId: 1999999999 }),
    post('userId null', { ...valid, userId: null }),
    post('price negative', { ...valid, price: -1 }),
    post('price with three decimals', { ...valid, price: 1.005 }),
    post('price too large', { ...valid, price: 1e10 }),
    { what: 'price 1e999 (Infinity)', method: 'POST', path: '/orders', headers: json, body: '{"userId":1,"item":"Widget","price":1e999}' },
    post('quantity zero', { ...valid, quantity: 0 }),
    post('quantity too large', { ...valid, quantity: 10_001 }),
    post('quantity fractional', { ...valid, quantity: 1.5 }),
    post('item empty', { ...valid, item: '' }),
    post('item blank', { ...valid, item: ' \t ' }),
    post('item with NUL', { ...valid, item: 'a\u0000' }),
    post('item with a lone surrogate', { ...valid, item: '\ud83d' }),
    post('item too long', { ...valid, item: 'i'.repeat(201) }),
    post('item is an object', { ...valid, item: { name: 'x' } }),
    post('userId missing', without('userId')),
    post('item missing', without('item')),
    post('price missing', without('price')),
    post('extra field: status', { ...valid, status: 'paid' }),
  ]
}

/** A small deterministic PRNG (mulberry32), so random cases repeat from run to run. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Random cases that are malformed by construction. */
function randomCase(base: '/users' | '/orders', valid: Record<string, unknown>, next: () => number): MalformedRequest {
  const int = (max: number) => Math.floor(next() * max)
  const body = JSON.stringify(valid)
  const field = base === '/users' ? 'name' : 'item'
  switch (int(5)) {
    case 0: {
      // Any proper prefix of a JSON object is not JSON.
      const cut = 1 + int(body.length - 1)
      return { what: `JSON cut at ${cut}`, method: 'POST', path: base, headers: json, body: body.slice(0, cut) }
    }
    case 1: {
      const id = next() < 0.5 ? -1 - int(2 ** 40) : 2 ** 31 + int(2 ** 40)
      return { what: `random out-of-range id ${id}`, method: next() < 0.5 ? 'GET' : 'DELETE', path: `${base}/${id}` }
    }
    case 2: {
      // A lone surrogate somewhere in the text field.
      const surrogate = `\\u${(0xd800 + int(0x800)).toString(16)}`
      return {
        what: `lone surrogate ${surrogate}`,
        method: 'POST',
        path: base,
        headers: json,
        body: body.replace(`"${String(valid[field])}"`, `"ab${surrogate}cd"`),
      }
    }
    case 3: {
      // A raw control character inside a string is not JSON; an escaped one is refused by the schema.
      const code = int(0x20)
      const raw = next() < 0.5
      const char = raw ? String.fromCharCode(code) : `\\u${code.toString(16).padStart(4, '0')}`
      return {
        what: `${raw ? 'raw' : 'escaped'} control character ${code}`,
        method: 'POST',
        path: base,
        headers: json,
        body: body.replace(`"${String(valid[field])}"`, `"x${char}y"`),
      }
    }
    default: {
      const query = BAD_QUERIES[int(BAD_QUERIES.length)]!
      const junk = encodeURIComponent(String.fromCharCode(...Array.from({ length: 1 + int(8) }, () => 0x80 + int(0x2000))))
      return { what: `query ${query} with junk ${junk}`, method: 'GET', path: `${base}?${query}&junk${int(100)}=${junk}` }
    }
  }
}

/** `count` malformed requests for one service's routes. */
export function malformedRequests(service: 'user-service' | 'order-service', count: number, seed = 1): MalformedRequest[] {
  const fixed = service === 'user-service' ? userCases() : orderCases()
  const base = service === 'user-service' ? '/users' : '/orders'
  const valid =
    service === 'user-service' ? { name: 'Mallory', email: 'mallory@example.com' } : { userId: 1, item: 'Widget', price: 9.99, quantity: 1 }
  const next = random(seed)
  const cases: MalformedRequest[] = []
  // Every fixed case twice (the second on a reused connection), the rest random.
  for (let i = 0; cases.length < count; i++) {
    cases.push(i < fixed.length * 2 ? fixed[i % fixed.length]! : randomCase(base, valid, next))
  }
  return cases
}

/** Requests only the gateway answers itself: its own routes and the aggregate's parameters. */
export function gatewayOnlyRequests(): MalformedRequest[] {
  return [
    { what: 'unknown route', method: 'GET', path: '/nope' },
    { what: 'unknown route with a body', method: 'POST', path: '/admin', headers: json, body: '{}' },
    { what: 'aggregate with a bad id', method: 'GET', path: '/users/abc/orders' },
    { what: 'aggregate with a negative id', method: 'GET', path: '/users/-1/orders' },
    { what: 'aggregate with a huge id', method: 'GET', path: '/users/2147483648/orders' },
    { what: 'aggregate with 1e400', method: 'GET', path: '/users/1e400/orders' },
    { what: 'aggregate of nobody', method: 'GET', path: '/users/1999999999/orders' },
    { what: 'aggregate with POST', method: 'POST', path: '/users/1/orders', headers: json, body: '{}' },
    { what: '2 MiB body to the gateway', method: 'POST', path: '/users', headers: json, body: hugeJson({}, 2 * MIB) },
  ]
}
