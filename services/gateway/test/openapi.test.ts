import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { App, OpenApiDocument, Upstream } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPlatform, type Platform } from '../../../test/support/platform.ts'
import { mergeDocuments } from '../src/openapi/merge.ts'
import { documentSource } from '../src/openapi/source.ts'
import { deadUrl, gateway } from './support.ts'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const run = promisify(execFile)

let platform: Platform
let document: OpenApiDocument

beforeAll(async () => {
  platform = await startPlatform()
  document = (await (await fetch(`${platform.url}/openapi.json`)).json()) as OpenApiDocument
})

afterAll(async () => {
  await platform?.close()
})

/** `GET /users/{id}` → its response status codes, for every operation. */
function statusesByOperation(doc: OpenApiDocument): Record<string, string[]> {
  const result: Record<string, string[]> = {}
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations))
      result[`${method.toUpperCase()} ${path}`] = Object.keys(operation.responses)
  }
  return result
}

const GATEWAY = ['408', '414', '429', '431', '500', '502', '503', '504']
const WITH_BODY = ['413', '415']

describe('GET /openapi.json through the gateway', () => {
  it('describes every public operation of both services and the aggregate, with every status they answer', () => {
    expect(document.openapi).toBe('3.1.0')
    const sorted = (codes: string[]) => [...codes].sort()
    expect(statusesByOperation(document)).toEqual({
      'GET /orders': sorted(['200', '400', ...GATEWAY]),
      'POST /orders': sorted(['201', '400', '422', ...WITH_BODY, ...GATEWAY]),
      'GET /orders/{id}': sorted(['200', '400', '404', ...GATEWAY]),
      'DELETE /orders/{id}': sorted(['204', '400', '404', ...GATEWAY]),
      'GET /users': sorted(['200', '400', ...GATEWAY]),
      'POST /users': sorted(['201', '400', '409', ...WITH_BODY, ...GATEWAY]),
      'GET /users/{id}': sorted(['200', '400', '404', ...GATEWAY]),
      'PATCH /users/{id}': sorted(['200', '400', '404', '409', ...WITH_BODY, ...GATEWAY]),
      'DELETE /users/{id}': sorted(['204', '400', '404', ...GATEWAY]),
      'GET /users/{id}/orders': sorted(['200', '400', '404', ...GATEWAY]),
    })
    expect(Object.keys(document.components.schemas ?? {}).sort()).toEqual(['ErrorBody', 'Order', 'User'])
  })

  it('names x-request-id on every answer, x-total-count on lists, Location on 201 and Retry-After on 429 and 503', () => {
    const resolve = (response: unknown) => {
      const ref = (response as { $ref?: string }).$ref
      return (ref === undefined ? response : document.components.responses?.[ref.split('/').pop()!]) as {
        headers: Record<string, { required?: boolean }>
      }
    }
    for (const operations of Object.values(document.paths)) {
      for (const operation of Object.values(operations)) {
        for (const response of Object.values(operation.responses)) expect(resolve(response).headers).toHaveProperty('x-request-id')
        expect(resolve(operation.responses['429']).headers['retry-after']?.required).toBe(true)
        expect(resolve(operation.responses['503']).headers).toHaveProperty('retry-after')
      }
    }
    expect(resolve(document.paths['/users']?.get?.responses['200']).headers).toHaveProperty('x-total-count')
    expect(resolve(document.paths['/orders']?.get?.responses['200']).headers).toHaveProperty('x-total-count')
    expect(resolve(document.paths['/users/{id}/orders']?.get?.responses['200']).headers).toHaveProperty('x-total-count')
    expect(resolve(document.paths['/users']?.post?.responses['201']).headers).toHaveProperty('location')
    expect(resolve(document.paths['/orders']?.post?.responses['201']).headers).toHaveProperty('location')
  })

  it('marks what the server defaults as optional: limit, offset and an order quantity', () => {
    const parameters = document.paths['/users']?.get?.parameters ?? []
    expect(parameters.map(({ name, required }) => [name, required])).toEqual([
      ['limit', false],
      ['offset', false],
    ])
    const body = document.paths['/orders']?.post?.requestBody as { content: { 'application/json': { schema: { required: string[] } } } }
    expect(body.content['application/json'].schema.required).toEqual(['userId', 'item', 'price'])
  })

  it('passes @redocly/cli lint with no errors and no warnings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openapi-'))
    try {
      const file = join(dir, 'openapi.json')
      await writeFile(file, JSON.stringify(document))
      // Exits non-zero on any error; the config (redocly.yaml) is read from the working directory.
      const { stdout, stderr } = await run(join(root, 'node_modules/.bin/redocly'), ['lint', file, '--format=stylish'], {
        cwd: root,
        timeout: 60_000,
        // No telemetry or update check: CI has no network to spend them on.
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      })
      expect(`${stdout}${stderr}`).not.toMatch(/\b(error|warning)\b/)
      expect(`${stdout}${stderr}`).toContain('Your API description is valid')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('GET /docs', () => {
  it('serves Swagger UI with a CSP that lets its own scripts run, and /docs/json is the merged document', async () => {
    const page = await fetch(`${platform.url}/docs/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const csp = page.headers.get('content-security-policy')
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('upgrade-insecure-requests')
    expect(await page.text()).toContain('swagger-initializer.js')
    const json = (await (await fetch(`${platform.url}/docs/json`)).json()) as OpenApiDocument
    expect(json).toEqual(document)
  })
})

describe('the gateway without its upstreams', () => {
  let app: App
  afterAll(async () => {
    await app?.close()
  })

  it('turns /docs off with API_DOCS=false and answers /openapi.json 503 with Retry-After while no service document can be read', async () => {
    const dead = await deadUrl()
    app = await gateway({ USER_SERVICE_URLS: dead, ORDER_SERVICE_URLS: dead, API_DOCS: 'false' })
    expect((await app.inject('/docs/')).statusCode).toBe(404)
    const answer = await app.inject('/openapi.json')
    expect(answer.statusCode).toBe(503)
    expect(answer.headers['retry-after']).toBe('5')
    expect(answer.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' })
  })
})

/** An upstream answering `/openapi.json` with `document`, or failing when it is undefined. */
function fakeUpstream(get: () => OpenApiDocument | undefined): Upstream {
  return {
    request: async () => {
      const body = get()
      if (body === undefined) throw new Error('connection refused')
      return { statusCode: 200, headers: {}, body: { json: async () => structuredClone(body), dump: async () => {} } }
    },
  } as unknown as Upstream
}

const doc = (paths: OpenApiDocument['paths'], schemas: Record<string, unknown> = {}): OpenApiDocument => ({
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  paths,
  components: { schemas },
})
const op = { responses: { 200: { description: 'OK' } } }

describe('the merged document', () => {
  it('keeps the last good merge while a service cannot answer, and asks again once it is older than maxAgeMs', async () => {
    let clock = 0
    let users: OpenApiDocument | undefined = doc({ '/users': { get: op } })
    const source = documentSource({
      gateway: () => doc({}),
      services: [{ service: 'user-service', prefix: '/users', upstream: fakeUpstream(() => users) }],
      maxAgeMs: 1000,
      now: () => clock,
    })
    expect(Object.keys((await source.current()).paths)).toEqual(['/users'])
    users = doc({ '/users': { get: op }, '/users/{id}': { get: op } })
    clock = 999
    expect(Object.keys((await source.current()).paths)).toEqual(['/users'])
    clock = 1000
    expect(Object.keys((await source.current()).paths)).toEqual(['/users', '/users/{id}'])
    users = undefined
    clock = 5000
    expect(Object.keys((await source.current()).paths)).toEqual(['/users', '/users/{id}'])
  })

  it('takes only the paths the gateway forwards to each service, and refuses two different schemas under one name', () => {
    const merged = mergeDocuments(doc({ '/users/{id}/orders': { get: op } }), [
      {
        service: 'user-service',
        prefix: '/users',
        document: doc({ '/users': { get: op }, '/internal': { get: op } }, { User: { type: 'object' } }),
      },
    ])
    expect(Object.keys(merged.paths)).toEqual(['/users', '/users/{id}/orders'])
    expect(() =>
      mergeDocuments(doc({}), [
        { service: 'user-service', prefix: '/users', document: doc({}, { Item: { type: 'object' } }) },
        { service: 'order-service', prefix: '/orders', document: doc({}, { Item: { type: 'string' } }) },
      ]),
    ).toThrow('components.schemas.Item differs between user-service and order-service')
  })
})
