import { Writable } from 'node:stream'
import { ConfigError, type App } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.ts'
import { readConfig } from '../src/config.ts'
import { HELMET_OPTIONS, helmetHeaders } from '../src/plugins/security-headers.ts'
import { traefikTags } from '../src/traefik.ts'
import { echoServer, gateway, type Running } from './support.ts'

let upstream: Running
let app: App

beforeAll(async () => {
  upstream = await echoServer('any')
  app = await gateway({
    USER_SERVICE_URLS: upstream.url,
    ORDER_SERVICE_URLS: upstream.url,
    RATE_LIMIT_MAX: '3',
    RATE_LIMIT_WINDOW_MS: '60000',
  })
})

afterAll(async () => {
  await app?.close()
  await upstream?.close()
})

describe('gateway rate limiting', () => {
  it('answers 429 in the common error format with Retry-After once a client exceeds RATE_LIMIT_MAX', async () => {
    const client = { remoteAddress: '198.51.100.1' }
    for (let i = 0; i < 3; i++) {
      const allowed = await app.inject({ method: 'GET', url: '/users', ...client })
      expect(allowed.statusCode).toBe(200)
      expect(allowed.headers).not.toHaveProperty('x-ratelimit-remaining')
    }
    const limited = await app.inject({ method: 'GET', url: '/users/1/orders', ...client })
    expect(limited.statusCode).toBe(429)
    expect(limited.headers).toMatchObject({ 'retry-after': '60', 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': '0' })
    expect(limited.json()).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 1 minute' })

    // Another client still gets through.
    expect((await app.inject({ method: 'GET', url: '/users', remoteAddress: '198.51.100.2' })).statusCode).toBe(200)
  })

  it('never limits /health/* and /metrics', async () => {
    const client = { remoteAddress: '198.51.100.3' }
    for (let i = 0; i < 10; i++) {
      for (const url of ['/health/live', '/health/ready', '/metrics']) {
        expect((await app.inject({ method: 'GET', url, ...client })).statusCode).toBe(200)
      }
    }
  })

  it('limits requests for paths no route serves: a scan of unknown paths gets 429 too, and its 404s stay in the common format', async () => {
    const client = { remoteAddress: '198.51.100.4' }
    for (let i = 0; i < 3; i++) {
      const missing = await app.inject({
        method: 'POST',
        url: `/nothing-${i}?q=1`,
        payload: 'plain text',
        headers: { 'content-type': 'text/plain' },
        ...client,
      })
      expect(missing.statusCode).toBe(404)
      expect(missing.json()).toEqual({ statusCode: 404, error: 'Not Found', message: `no route for POST /nothing-${i}` })
      expect(missing.headers['x-request-id']).toBeDefined()
    }
    expect((await app.inject({ method: 'GET', url: '/', ...client })).statusCode).toBe(429)
  })

  it('keys on the client from X-Forwarded-For when TRUST_PROXY is on', async () => {
    const behindProxy = await gateway({
      USER_SERVICE_URLS: upstream.url,
      ORDER_SERVICE_URLS: upstream.url,
      RATE_LIMIT_MAX: '1',
      TRUST_PROXY: 'true',
    })
    try {
      const from = (client: string) => behindProxy.inject({ method: 'GET', url: '/users', headers: { 'x-forwarded-for': client } })
      expect((await from('203.0.113.1')).statusCode).toBe(200)
      expect((await from('203.0.113.1')).statusCode).toBe(429)
      expect((await from('203.0.113.2')).statusCode).toBe(200)
    } finally {
      await behindProxy.close()
    }
  })
})

describe('gateway security headers and metrics', () => {
  it('computes the same headers as helmet with the API policy', () => {
    expect(helmetHeaders(HELMET_OPTIONS)).toMatchObject({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    })
    // helmet's defaults stand apart from the CSP.
    expect(Object.keys(helmetHeaders({ contentSecurityPolicy: false })).sort()).toEqual(
      Object.keys(helmetHeaders(HELMET_OPTIONS))
        .filter((name) => name !== 'content-security-policy')
        .sort(),
    )
  })

  it('sets helmet headers with a strict policy for a JSON API, on proxied and own answers', async () => {
    for (const url of ['/users', '/health/live', '/nowhere']) {
      const response = await app.inject({ method: 'GET', url, remoteAddress: '198.51.100.4' })
      expect(response.headers).toMatchObject({
        'content-security-policy': "default-src 'none';frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'SAMEORIGIN',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'referrer-policy': 'no-referrer',
        'cross-origin-resource-policy': 'same-origin',
      })
      expect(response.headers).not.toHaveProperty('x-powered-by')
    }
  })

  it('exposes upstream_requests_total by service and outcome after proxied traffic', async () => {
    await app.inject({ method: 'GET', url: '/users/7', remoteAddress: '198.51.100.5' })
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    // The kit labels the callee `upstream`: `service` is the gateway's own label on every series.
    const ok = metrics
      .split('\n')
      .find((line) => /^upstream_requests_total\{/.test(line) && line.includes('upstream="user-service"') && line.includes('outcome="ok"'))
    expect(ok).toMatch(/ [1-9]\d*$/)
    expect(metrics).toMatch(/^http_request_duration_seconds_count\{[^}]*route="\/users\/\*"[^}]*\} [1-9]/m)
  })
})

describe('operational routes', () => {
  it('answers /metrics and /health/* to callers that reach the instance directly, 404 to anything a proxy forwarded', async () => {
    for (const url of ['/health/live', '/health/ready', '/metrics', '/metrics/', '/health/ready?x=1']) {
      expect((await app.inject({ method: 'GET', url, remoteAddress: '198.51.100.6' })).statusCode, url).toBe(200)
      const forwarded = await app.inject({
        method: 'GET',
        url,
        remoteAddress: '198.51.100.6',
        headers: { 'x-forwarded-for': '203.0.113.9' },
      })
      expect(forwarded.statusCode, url).toBe(404)
      expect(forwarded.json()).toEqual({ statusCode: 404, error: 'Not Found', message: `no route for GET ${url.split('?')[0]}` })
      expect(forwarded.body).not.toContain('process_cpu')
    }
  })

  it('leaves them out of the edge: the default router rule sends every other path to the gateway', () => {
    const rule = readConfig({}).ROUTER_RULE
    expect(rule).toContain('!PathPrefix(`/metrics`)')
    expect(rule).toContain('!PathPrefix(`/health`)')
    expect(rule.startsWith('PathPrefix(`/`)')).toBe(true)
  })
})

describe('gateway configuration', () => {
  it('publishes the Traefik router rule as Consul tags', () => {
    expect(traefikTags(readConfig({}))).toEqual([
      'traefik.enable=true',
      'traefik.http.routers.gateway.rule=PathPrefix(`/`) && !PathPrefix(`/metrics`) && !PathPrefix(`/health`)',
      'traefik.http.routers.gateway.entrypoints=web',
      'traefik.http.services.gateway.loadbalancer.server.scheme=http',
    ])
    const custom = readConfig({ ROUTER_RULE: 'Host(`api.example.com`) && PathPrefix(`/api`)' })
    expect(traefikTags(custom)[1]).toBe('traefik.http.routers.gateway.rule=Host(`api.example.com`) && PathPrefix(`/api`)')
  })

  it('defaults to 6000 requests a minute, no proxy trust and request logging on', () => {
    expect(readConfig({})).toMatchObject({
      PORT: 3000,
      RATE_LIMIT_MAX: 6000,
      RATE_LIMIT_WINDOW_MS: 60_000,
      TRUST_PROXY: false,
      LOG_REQUESTS: true,
    })
  })

  it('rejects a bad variable naming it', () => {
    expect(() => readConfig({ ORDER_SERVICE_URLS: 'order-service:3002' })).toThrow(/ORDER_SERVICE_URLS/)
    expect(() => readConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/)
  })

  it('fails to start, naming the variable, when a service has no instances and no Consul', async () => {
    const building = buildApp({ config: readConfig({ USER_SERVICE_URLS: upstream.url }), logger: false })

    await expect(building).rejects.toThrow(ConfigError)
    await expect(building).rejects.toThrow(/ORDER_SERVICE_URLS/)
  })

  it.each([
    ['true', ['request completed']],
    ['false', []],
  ])('with LOG_REQUESTS=%s logs %j for a proxied request', async (setting, expected) => {
    const lines: Record<string, unknown>[] = []
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)))
        done()
      },
    })
    const env = { USER_SERVICE_URLS: upstream.url, ORDER_SERVICE_URLS: upstream.url, LOG_REQUESTS: setting }
    const logged = await buildApp({ config: readConfig(env), logger: { level: 'info', stream } })
    try {
      const response = await logged.inject({ method: 'GET', url: '/users?limit=1' })
      expect(response.statusCode).toBe(200)
      expect(lines.map((line) => line.msg)).toEqual(expected)
      if (expected.length > 0) {
        expect(lines[0]).toMatchObject({
          level: 30,
          'http.request.id': response.headers['x-request-id'],
          'http.request.method': 'GET',
          'url.original': '/users?limit=1',
          'http.response.status_code': 200,
          'event.duration': expect.any(Number),
        })
      }
    } finally {
      await logged.close()
    }
  })
})
