import swaggerUi from '@fastify/swagger-ui'
import type { App } from '@platform/kit'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SWAGGER_UI_ROUTES } from '../src/routes/openapi/docs.ts'
import { deadUrl, gateway } from './support.ts'

const DOCS_CSP_START = "default-src 'self'; base-uri 'self';"

let app: App

beforeAll(async () => {
  const nobody = await deadUrl()
  app = await gateway({ USER_SERVICE_URLS: nobody, ORDER_SERVICE_URLS: nobody })
})

afterAll(async () => {
  await app?.close()
})

/** Every route (method and URL) an instance gets when `register` runs on it. */
async function routesOf(register: (instance: FastifyInstance) => Promise<unknown>): Promise<string[]> {
  const instance = Fastify({ logger: false })
  const routes: string[] = []
  instance.addHook('onRoute', (route) => {
    for (const method of ([] as string[]).concat(route.method)) routes.push(`${method} ${route.url}`)
  })
  await register(instance)
  await instance.ready()
  await instance.close()
  return routes.sort()
}

describe('/docs, Swagger UI loaded on its first request', () => {
  it('declares exactly the routes @fastify/swagger-ui registers (its files through @fastify/static included)', async () => {
    const library = await routesOf(async (instance) => {
      await instance.register(
        fp(async (scope: FastifyInstance) => void scope.decorate('swagger', () => ({}) as never), { name: '@fastify/swagger' }),
      )
      await instance.register(swaggerUi, { routePrefix: '/docs' })
    })
    const declared = await routesOf(async (instance) => {
      await instance.register(
        async (scope: FastifyInstance) => {
          for (const { method, url } of SWAGGER_UI_ROUTES) scope.route({ method: [...method], url, handler: async () => '' })
        },
        { prefix: '/docs' },
      )
    })
    expect(declared).toEqual(library)
  })

  it("serves the page and Swagger UI's files with the page's CSP and the gateway's other headers", async () => {
    const page = await app.inject('/docs/')
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['content-security-policy']).toContain(DOCS_CSP_START)
    expect(page.headers).toHaveProperty('x-request-id')
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    expect(page.body).toContain('swagger-initializer.js')

    const css = await app.inject('/docs/static/swagger-ui.css')
    expect(css.statusCode).toBe(200)
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8')
    expect(Number(css.headers['content-length'])).toBe(css.rawPayload.length)
    const head = await app.inject({ method: 'HEAD', url: '/docs/static/swagger-ui.css' })
    expect(head.statusCode).toBe(200)
    expect(head.headers['content-length']).toBe(css.headers['content-length'])
    expect(head.rawPayload.length).toBe(0)

    const moved = await app.inject('/docs/static/index.html')
    expect(moved.statusCode).toBe(302)
    expect(moved.headers.location).toBe('/docs/')
    expect(moved.headers).not.toHaveProperty('content-type')
  })

  it("answers what the library leaves to the gateway as the gateway does: its 404 and its error format, with the page's CSP", async () => {
    const missing = await app.inject('/docs/static/missing.js')
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'no route for GET /docs/static/missing.js' })
    expect(missing.headers['content-security-policy']).toContain(DOCS_CSP_START)

    const unsatisfiable = await app.inject({ url: '/docs/static/swagger-ui.css', headers: { range: 'bytes=999999999-' } })
    expect(unsatisfiable.statusCode).toBe(416)
    expect(unsatisfiable.json()).toMatchObject({ statusCode: 416 })
  })

  it('answers /docs/json 503 with Retry-After while no service document can be read, in the common format', async () => {
    const answer = await app.inject('/docs/json')
    expect(answer.statusCode).toBe(503)
    expect(answer.headers['retry-after']).toBe('5')
    expect(answer.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' })
  })
})
