import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import Type from 'typebox'
import { Pool } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, portEnv, serviceEnv } from '../src/config.ts'
import { HttpError } from '../src/errors.ts'
import { createService, type App } from '../src/service.ts'

let app: App

beforeAll(async () => {
  app = createService({ name: 'probe', config: loadConfig({ ...serviceEnv, ...portEnv(0) }, { BODY_LIMIT_BYTES: '2048' }), logger: false })
  app.post(
    '/things',
    {
      schema: {
        body: Type.Object(
          { name: Type.String({ minLength: 1 }), size: Type.Optional(Type.Integer({ minimum: 0 })) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ name: Type.String() }) },
      },
    },
    async (request, reply) => reply.code(201).send({ name: request.body.name }),
  )
  app.get('/conflict', async () => {
    throw new HttpError(409, 'thing already exists', 'body.name')
  })
  app.get('/crash', async () => {
    throw new Error('password=hunter2 at db.internal:5432')
  })
  await app.ready()
})

afterAll(() => app.close())

const post = (payload: string, contentType = 'application/json') =>
  app.inject({ method: 'POST', url: '/things', payload, headers: { 'content-type': contentType } })

describe('createService error handling', () => {
  it.each([
    ['{"size":1}', 'body.name is required', 'body.name'],
    ['{"name":"a","colour":"red"}', 'body.colour is not allowed', 'body.colour'],
    ['{"name":"a","size":-1}', 'body.size must be >= 0', 'body.size'],
    ['{"name":5}', 'body.name must be string', 'body.name'],
  ])('answers 400 naming the field for %s', async (payload, message, field) => {
    const response = await post(payload)
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ statusCode: 400, error: 'Bad Request', message, field })
  })

  it('answers 400 for malformed JSON', async () => {
    const response = await post('{"name": ')
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toMatch(/JSON/)
  })

  it('answers 400 for __proto__ and constructor keys', async () => {
    expect((await post('{"name":"a","__proto__":{"admin":true}}')).statusCode).toBe(400)
    expect((await post('{"name":"a","constructor":{"prototype":{"admin":true}}}')).statusCode).toBe(400)
  })

  it('answers 413 for a body over the limit and 415 for a non-JSON type', async () => {
    expect((await post(JSON.stringify({ name: 'x'.repeat(4096) }))).statusCode).toBe(413)
    expect((await post('name=a', 'application/x-www-form-urlencoded')).statusCode).toBe(415)
  })

  it('renders HttpError with its status, message and field', async () => {
    const response = await app.inject('/conflict')
    expect(response.statusCode).toBe(409)
    expect(response.json()).toEqual({ statusCode: 409, error: 'Conflict', message: 'thing already exists', field: 'body.name' })
  })

  it('hides the internals of a 500', async () => {
    const response = await app.inject('/crash')
    expect(response.statusCode).toBe(500)
    expect(response.body).not.toContain('hunter2')
    expect(response.json().error).toBe('Internal Server Error')
  })

  it('answers 404 JSON for an unknown route', async () => {
    const response = await app.inject('/nowhere?x=1')
    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ statusCode: 404, message: 'no route for GET /nowhere' })
  })
})

describe('createService plumbing', () => {
  it('keeps a sane x-request-id and replaces an unsafe one', async () => {
    expect((await app.inject({ url: '/health/live', headers: { 'x-request-id': 'abc-123' } })).headers['x-request-id']).toBe('abc-123')
    const replaced = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'bad id\u0000' } })
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('exposes the request histogram by route pattern on /metrics', async () => {
    await post('{"name":"a"}')
    const metrics = await app.inject('/metrics')
    expect(metrics.headers['content-type']).toContain('text/plain')
    const counts = metrics.body.split('\n').filter((line) => line.startsWith('http_request_duration_seconds_count{'))
    expect(
      counts.some((line) =>
        ['method="POST"', 'route="/things"', 'status_code="201"', 'service="probe"'].every((label) => line.includes(label)),
      ),
    ).toBe(true)
    expect(metrics.body).toContain('process_cpu_seconds_total')
  })

  it('turns readiness to 503 when a check fails and when draining', async () => {
    expect((await app.inject('/health/ready')).statusCode).toBe(200)
    let healthy = true
    app.health.addCheck('dependency', async () => {
      if (!healthy) throw new Error('down')
    })
    healthy = false
    const failing = await app.inject('/health/ready')
    expect(failing.statusCode).toBe(503)
    expect(failing.json()).toEqual({ status: 'unavailable', checks: { dependency: 'unavailable' } })
    healthy = true
    app.health.startDraining()
    expect((await app.inject('/health/ready')).json()).toEqual({ status: 'draining', checks: {} })
    expect((await app.inject('/health/live')).statusCode).toBe(200)
  })
})

describe('createService over a real connection', () => {
  // Closing a connection with unread request bytes resets it, and a client still uploading then
  // often loses the 413 to EPIPE. The service keeps the connection and reads the rest of the body
  // instead (for a bounded time), so the client always gets its answer.
  it('answers 413 to every chunked body past the limit while the client is still sending it, without Connection: close', async () => {
    const server = createService({
      name: 'probe',
      config: loadConfig({ ...serviceEnv, ...portEnv(0) }, { BODY_LIMIT_BYTES: '1024' }),
      logger: false,
    })
    server.post('/things', async () => ({}))
    await server.listen({ host: '127.0.0.1', port: 0 })
    const { port } = server.server.address() as AddressInfo
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 })
    try {
      const outcomes: Array<number | string> = []
      for (let i = 0; i < 10; i++) {
        // 4 MiB in 64 KiB chunks: the 413 goes out after the first chunk, long before the last.
        const body = Readable.from(
          (function* () {
            for (let chunk = 0; chunk < 64; chunk++) yield Buffer.alloc(64 * 1024, 'x')
          })(),
        )
        try {
          const response = await pool.request({ method: 'POST', path: '/things', headers: { 'content-type': 'application/json' }, body })
          await response.body.text()
          outcomes.push(response.statusCode)
          expect(response.headers.connection).toBeUndefined()
        } catch (error) {
          outcomes.push((error as { code?: string }).code ?? 'error')
        }
      }
      expect(outcomes).toEqual(Array.from({ length: 10 }, () => 413))
    } finally {
      await pool.close()
      await server.close()
    }
  })
})
