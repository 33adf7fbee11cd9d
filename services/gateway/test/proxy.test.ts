import type { App } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../../test/support/wait.ts'
import { deadUrl, echoServer, gateway, type Echo, type Running } from './support.ts'

let users: Running & { calls: Echo[]; abandoned: string[] }
let orders: Running & { calls: Echo[] }
let app: App

beforeAll(async () => {
  ;[users, orders] = await Promise.all([echoServer('users-1'), echoServer('orders-1')])
  app = await gateway({ USER_SERVICE_URLS: users.url, ORDER_SERVICE_URLS: orders.url })
})

afterAll(async () => {
  await app?.close()
  await Promise.all([users?.close(), orders?.close()])
})

describe('gateway proxy', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const)('forwards %s with path and query unchanged', async (method) => {
    const response = await app.inject({ method, url: '/users/42?fields=a,b&q=a%20b' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ instance: 'users-1', method, url: '/users/42?fields=a,b&q=a%20b' })
  })

  it('routes /orders and its sub-paths to order-service and the bare prefixes too', async () => {
    expect((await app.inject({ method: 'GET', url: '/orders?userId=7' })).json()).toMatchObject({
      instance: 'orders-1',
      url: '/orders?userId=7',
    })
    expect((await app.inject({ method: 'GET', url: '/orders/3' })).json()).toMatchObject({ instance: 'orders-1', url: '/orders/3' })
    expect((await app.inject({ method: 'GET', url: '/users' })).json()).toMatchObject({ instance: 'users-1', url: '/users' })
  })

  it('answers 404 itself for a path outside the proxied prefixes', async () => {
    const before = users.calls.length + orders.calls.length
    const response = await app.inject({ method: 'GET', url: '/usersx' })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'no route for GET /usersx' })
    expect(users.calls.length + orders.calls.length).toBe(before)
  })

  it('forwards a HEAD request and returns headers without a body', async () => {
    const response = await app.inject({ method: 'HEAD', url: '/users/1' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['x-instance']).toBe('users-1')
    // The length the GET would have, as the upstream said.
    expect(Number(response.headers['content-length'])).toBeGreaterThan(0)
    expect(response.body).toBe('')
    expect(users.calls.at(-1)?.method).toBe('HEAD')
  })

  it('forwards the body byte for byte with its content type, unparsed', async () => {
    const json = '{"name":"Ada",  "email":"ada@example.com"}'
    const posted = await app.inject({ method: 'POST', url: '/users', payload: json, headers: { 'content-type': 'application/json' } })
    expect(posted.json()).toMatchObject({
      body: json,
      headers: { 'content-type': 'application/json', 'content-length': String(json.length) },
    })

    const binary = Buffer.from([0, 1, 2, 250, 251, 255])
    const put = await app.inject({
      method: 'PUT',
      url: '/users/1/avatar',
      payload: binary,
      headers: { 'content-type': 'application/octet-stream' },
    })
    expect(put.json()).toMatchObject({ body: binary.toString('latin1'), headers: { 'content-type': 'application/octet-stream' } })

    const untyped = await app.inject({ method: 'PATCH', url: '/users/1', payload: 'plain words' })
    expect(untyped.json()).toMatchObject({ body: 'plain words' })
  })

  it('returns the upstream status, headers and body as they came', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders', headers: { 'x-echo-status': '201' } })
    expect(response.statusCode).toBe(201)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.headers['x-instance']).toBe('orders-1')
    expect(response.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    expect(response.json()).toMatchObject({ method: 'POST', url: '/orders' })

    const missing = await app.inject({ method: 'GET', url: '/orders/9', headers: { 'x-echo-status': '404' } })
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toMatchObject({ instance: 'orders-1' })
  })

  it.each([
    ['small and sized', 1000, false],
    ['large and sized', 1024 * 1024, false],
    ['unsized (chunked)', 200 * 1024, true],
  ])('returns a %s body intact', async (_case, size, chunked) => {
    const headers: Record<string, string> = { 'x-echo-size': String(size) }
    if (chunked) headers['x-echo-chunked'] = '1'
    const response = await app.inject({ method: 'GET', url: '/users/export', headers })
    expect(response.statusCode).toBe(200)
    expect(response.rawPayload.equals(Buffer.alloc(size, 'x'))).toBe(true)
    if (!chunked) expect(response.headers['content-length']).toBe(String(size))
  })

  it.each([204, 304])('returns a %i without a body', async (status) => {
    const response = await app.inject({ method: 'GET', url: '/users/1', headers: { 'x-echo-status': String(status) } })
    expect(response.statusCode).toBe(status)
    expect(response.body).toBe('')
    expect(response.headers['x-instance']).toBe('users-1')
  })

  it('returns the upstream 400 for malformed JSON unchanged, having forwarded the body as is', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/users/strict',
      payload: '{"name": ',
      headers: { 'content-type': 'application/json' },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({
      statusCode: 400,
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      error: 'Bad Request',
      message: "Body is not valid JSON but content-type is set to 'application/json'",
    })
  })

  it('passes end-to-end headers and trace context, drops hop-by-hop ones in both directions', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const response = await app.inject({
      method: 'GET',
      url: '/users/1',
      headers: {
        authorization: 'Bearer t0ken',
        cookie: 'session=1',
        'x-custom': 'kept',
        traceparent,
        tracestate: 'vendor=1',
        connection: 'x-private-hop',
        'x-private-hop': 'dropped',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        upgrade: 'websocket',
        te: 'trailers',
      },
    })
    const seen = response.json<Echo>().headers
    expect(seen).toMatchObject({
      authorization: 'Bearer t0ken',
      cookie: 'session=1',
      'x-custom': 'kept',
      traceparent,
      tracestate: 'vendor=1',
    })
    for (const name of ['x-private-hop', 'keep-alive', 'proxy-connection', 'upgrade', 'te']) expect(seen).not.toHaveProperty(name)
    expect(seen.connection).not.toContain('x-private-hop')
    expect(response.headers).not.toHaveProperty('proxy-connection')
  })

  it('keeps its own x-request-id and x-forwarded-* when the client lists them in Connection', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/users/2',
      headers: {
        'x-request-id': 't1',
        connection: 'close, x-request-id, x-forwarded-for, x-forwarded-proto',
        'x-forwarded-for': '6.6.6.6',
      },
    })
    expect(response.headers['x-request-id']).toBe('t1')
    expect(response.json<Echo>().headers).toMatchObject({
      'x-request-id': 't1',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
    })
  })

  it('sets x-request-id and x-forwarded-* for the upstream, replacing what an untrusted client sent', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/users/1',
      headers: {
        'x-request-id': 'req-123',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
      },
    })
    expect(response.headers['x-request-id']).toBe('req-123')
    expect(response.json<Echo>().headers).toMatchObject({
      'x-request-id': 'req-123',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-host': 'localhost:80',
      'x-forwarded-proto': 'http',
    })

    const generated = await app.inject({ method: 'GET', url: '/users/1' })
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(generated.json<Echo>().headers['x-request-id']).toBe(generated.headers['x-request-id'])
  })

  it('answers 413 for a 2 MiB body without calling the upstream', async () => {
    const before = users.calls.length
    const response = await app.inject({
      method: 'POST',
      url: '/users',
      payload: Buffer.alloc(2 * 1024 * 1024, 'a'),
      headers: { 'content-type': 'application/json' },
    })
    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' })
    expect(users.calls.length).toBe(before)
  })
})

describe('gateway proxy behind a trusted proxy (TRUST_PROXY=true)', () => {
  let trusting: App
  beforeAll(async () => {
    trusting = await gateway({ USER_SERVICE_URLS: users.url, ORDER_SERVICE_URLS: orders.url, TRUST_PROXY: 'true' })
  })
  afterAll(() => trusting?.close())

  it('extends the X-Forwarded-For chain and keeps the forwarded host and protocol', async () => {
    const response = await trusting.inject({
      method: 'GET',
      url: '/users/1',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'api.example.com', 'x-forwarded-proto': 'https' },
    })
    expect(response.json<Echo>().headers).toMatchObject({
      'x-forwarded-for': '203.0.113.9, 127.0.0.1',
      'x-forwarded-host': 'api.example.com',
      'x-forwarded-proto': 'https',
    })
  })
})

describe('gateway proxy balancing', () => {
  let second: Running & { calls: Echo[] }
  let balanced: App
  let halfDown: App
  let allDown: App
  let slow: App

  beforeAll(async () => {
    second = await echoServer('users-2')
    const dead = await deadUrl()
    ;[balanced, halfDown, allDown, slow] = await Promise.all([
      gateway({ USER_SERVICE_URLS: `${users.url},${second.url}`, ORDER_SERVICE_URLS: orders.url }),
      gateway({ USER_SERVICE_URLS: `${dead},${users.url}`, ORDER_SERVICE_URLS: orders.url }),
      gateway({ USER_SERVICE_URLS: dead, ORDER_SERVICE_URLS: orders.url }),
      gateway({ USER_SERVICE_URLS: users.url, ORDER_SERVICE_URLS: orders.url, UPSTREAM_TRY_TIMEOUT_MS: '200', UPSTREAM_MAX_TRIES: '1' }),
    ])
  })
  afterAll(async () => {
    await Promise.all([balanced?.close(), halfDown?.close(), allDown?.close(), slow?.close()])
    await second?.close()
  })

  it('spreads requests round robin over two instances', async () => {
    const seen: string[] = []
    for (let i = 0; i < 6; i++) seen.push((await balanced.inject({ method: 'GET', url: '/users' })).json<Echo>().instance)
    expect(new Set(seen)).toEqual(new Set(['users-1', 'users-2']))
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1])
  })

  it('still answers 200 to every GET and POST when one of two instances is down', async () => {
    for (let i = 0; i < 6; i++) {
      const response = await halfDown.inject({ method: i % 2 === 0 ? 'GET' : 'POST', url: '/users' })
      expect(response.statusCode).toBe(200)
      expect(response.json<Echo>().instance).toBe('users-1')
    }
  })

  it('answers 503 naming the service when no instance answers', async () => {
    const response = await allDown.inject({ method: 'GET', url: '/users/1' })
    expect(response.statusCode).toBe(503)
    expect(response.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'user-service is unavailable' })
  })

  it('cancels the upstream call when the client goes away', async () => {
    const patient = await gateway({ USER_SERVICE_URLS: users.url, ORDER_SERVICE_URLS: orders.url, UPSTREAM_TRY_TIMEOUT_MS: '10000' })
    try {
      const url = await patient.listen({ host: '127.0.0.1', port: 0 })
      const client = new AbortController()
      const pending = fetch(`${url}/users/1?client=leaves`, { headers: { 'x-echo-delay-ms': '5000' }, signal: client.signal }).catch(
        () => undefined,
      )
      const arrived = async () => (users.calls.some((call) => call.url === '/users/1?client=leaves') ? true : undefined)
      await eventually(arrived, 'the forwarded request', 5000, 20)
      client.abort()
      await pending
      // The upstream would answer after 5 s: its caller, the gateway, hangs up long before.
      const cancelled = async () => (users.abandoned.includes('/users/1?client=leaves') ? true : undefined)
      await eventually(cancelled, 'the upstream call to be cancelled', 2000, 20)
    } finally {
      await patient.close()
    }
  })

  it('bounds a request by UPSTREAM_REQUEST_TIMEOUT_MS, every retry included', async () => {
    const third = await echoServer('users-3')
    const bounded = await gateway({
      USER_SERVICE_URLS: `${users.url},${second.url},${third.url}`,
      ORDER_SERVICE_URLS: orders.url,
      UPSTREAM_TRY_TIMEOUT_MS: '600',
      UPSTREAM_MAX_TRIES: '3',
      UPSTREAM_REQUEST_TIMEOUT_MS: '700',
    })
    try {
      const started = performance.now()
      // Three slow instances: three tries of 600 ms each without the bound.
      const response = await bounded.inject({ method: 'GET', url: '/users/1', headers: { 'x-echo-delay-ms': '3000' } })
      expect(response.statusCode).toBe(504)
      expect(performance.now() - started).toBeLessThan(1300)
    } finally {
      await bounded.close()
      await third.close()
    }
  })

  it('answers 504 when the upstream does not answer within the try timeout', async () => {
    const response = await slow.inject({ method: 'POST', url: '/users', headers: { 'x-echo-delay-ms': '1000' } })
    expect(response.statusCode).toBe(504)
    expect(response.json()).toMatchObject({ statusCode: 504, error: 'Gateway Timeout' })
  })
})
