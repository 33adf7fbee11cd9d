// The gateway in front of the real user-service and order-service, each on an in-memory PGlite.
import { randomUUID } from 'node:crypto'
import type { App } from '@platform/kit'
import { buildApp as buildOrderService } from '../../order-service/src/app.ts'
import { readConfig as orderServiceConfig } from '../../order-service/src/config.ts'
import { buildApp as buildUserService } from '../../user-service/src/app.ts'
import { readConfig as userServiceConfig } from '../../user-service/src/config.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gateway, listen, type Running } from './support.ts'

let users: Running & { app: App }
let orders: Running
let app: App

beforeAll(async () => {
  const userService = await buildUserService({ config: userServiceConfig({ SEED_DATA: 'false' }), logger: false })
  users = { ...(await listen(userService)), app: userService }
  const orderService = await buildOrderService({
    config: orderServiceConfig({ SEED_DATA: 'false', USER_SERVICE_URLS: users.url }),
    logger: false,
  })
  orders = await listen(orderService)
  app = await gateway({ USER_SERVICE_URLS: users.url, ORDER_SERVICE_URLS: orders.url })
})

afterAll(async () => {
  await app?.close()
  await orders?.close()
  await users?.close()
})

const json = { 'content-type': 'application/json' }

describe('gateway in front of the real services', () => {
  it('creates, reads, updates and deletes a user and their orders through the gateway', async () => {
    const created = await app.inject({ method: 'POST', url: '/users', headers: json, payload: { name: 'Ada', email: 'ada@example.com' } })
    expect(created.statusCode).toBe(201)
    const user = created.json<{ id: number; name: string; email: string; createdAt: string }>()
    expect(created.headers.location).toBe(`/users/${user.id}`)

    const patched = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, headers: json, payload: { name: 'Ada L.' } })
    expect(patched.json()).toMatchObject({ id: user.id, name: 'Ada L.' })

    const order = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: json,
      payload: { userId: user.id, item: 'book', price: 12.5, quantity: 2 },
    })
    expect(order.statusCode).toBe(201)

    const listed = await app.inject({ method: 'GET', url: `/orders?userId=${user.id}` })
    expect(listed.headers['x-total-count']).toBe('1')

    const aggregate = await app.inject({ method: 'GET', url: `/users/${user.id}/orders` })
    expect(aggregate.statusCode).toBe(200)
    expect(aggregate.json()).toEqual({ ...user, name: 'Ada L.', orders: [order.json()] })

    expect((await app.inject({ method: 'DELETE', url: `/orders/${order.json().id}` })).statusCode).toBe(204)
    expect((await app.inject({ method: 'DELETE', url: `/users/${user.id}` })).statusCode).toBe(204)
    const gone = await app.inject({ method: 'GET', url: `/users/${user.id}/orders` })
    expect(gone.statusCode).toBe(404)
    expect(gone.json().message).toBe(`user ${user.id} not found`)
  })

  it("returns user-service's own 400 for malformed JSON, exactly as it answers it", async () => {
    const request = { method: 'POST', url: '/users', headers: json, payload: '{"name": "Ada",' } as const
    const direct = await users.app.inject(request)
    const proxied = await app.inject(request)
    expect(direct.statusCode).toBe(400)
    expect(proxied.statusCode).toBe(400)
    expect(proxied.json()).toEqual(direct.json())
  })

  it("returns user-service's validation 400 naming the field", async () => {
    const response = await app.inject({ method: 'POST', url: '/users', headers: json, payload: { name: 'Bo', email: 'not-an-email' } })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, field: 'body.email' })
  })

  it("returns user-service's 414 for an over-long id in the common format, with the request id, without echoing it", async () => {
    const digits = '1'.repeat(201)
    const response = await app.inject({ method: 'GET', url: `/users/${digits}`, headers: { 'x-request-id': 'long-id' } })
    expect(response.statusCode).toBe(414)
    expect(response.headers['x-request-id']).toBe('long-id')
    expect(response.json()).toEqual({ statusCode: 414, error: 'URI Too Long', message: 'a segment of the path is too long' })
  })

  it('answers 415 in the common format for a text/plain body', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/users',
      headers: { 'content-type': 'text/plain' },
      payload: '{"name":"Ada","email":"ada@example.com"}',
    })
    expect(response.statusCode).toBe(415)
    expect(response.json()).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' })
  })

  it.each([
    ['{"__proto__":{"admin":true},"name":"Ada","email":"ada@example.com"}', 'body.__proto__'],
    ['{"name":"Ada","email":"ada@example.com","x":{"__proto__":{"polluted":1}}}', 'body.x.__proto__'],
    ['{"constructor":{"prototype":{"admin":true}},"name":"Ada","email":"ada@example.com"}', 'body.constructor'],
  ])('answers a prototype-poisoning key with a 400 naming it: %s', async (payload, field) => {
    const response = await app.inject({ method: 'POST', url: '/users', headers: json, payload })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: `${field} is not allowed`, field })
  })

  it.each(['0x1', '+1', '01', '1.0', '1e2', '1e0', '%201', '1%20'])(
    'answers 400 naming params.id for the id %s on every route that takes one',
    async (id) => {
      for (const url of [`/users/${id}`, `/users/${id}/orders`, `/orders/${id}`]) {
        const response = await app.inject({ method: 'GET', url })
        expect(response.statusCode, url).toBe(400)
        expect(response.json(), url).toMatchObject({ statusCode: 400, error: 'Bad Request', field: 'params.id' })
      }
    },
  )

  it.each(['0x1', '+1', '01', '1.0', '1e2'])('answers 400 naming querystring.userId for ?userId=%s', async (userId) => {
    const response = await app.inject({ method: 'GET', url: `/orders?userId=${encodeURIComponent(userId)}` })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, field: 'querystring.userId' })
  })

  it.each([
    ['right-to-left override and zero-width space', '\u202e\u200b'],
    ['a C1 control character', 'Ada\u0085'],
    ['a zero-width space inside', 'A\u200bda'],
    ['a Hangul filler only', '\u3164'],
    ['a combining mark only', ' \u0301 '],
    ['joiners only', '\u200c\u200d'],
    ['a left-to-right isolate', 'Ada\u2066'],
  ])('refuses a name with %s, naming body.name, and an order item alike', async (_case, text) => {
    const user = await app.inject({ method: 'POST', url: '/users', headers: json, payload: { name: text, email: 'invisible@example.com' } })
    expect(user.statusCode).toBe(400)
    expect(user.json()).toMatchObject({ statusCode: 400, field: 'body.name' })
    const order = await app.inject({ method: 'POST', url: '/orders', headers: json, payload: { userId: 1, item: text, price: 1 } })
    expect(order.statusCode).toBe(400)
    expect(order.json()).toMatchObject({ statusCode: 400, field: 'body.item' })
  })

  it('stores names in any script, with accents and emoji', async () => {
    // Persian with its zero-width non-joiner; an emoji built with the zero-width joiner.
    for (const name of ['Zoë Ångström', 'محمد', '李雷 🙂', 'می\u200cخواهم', 'Ada \u{1F469}\u200D\u{1F4BB}']) {
      const response = await app.inject({
        method: 'POST',
        url: '/users',
        headers: json,
        payload: { name, email: `${randomUUID()}@example.com` },
      })
      expect(response.statusCode, name).toBe(201)
      expect(response.json().name).toBe(name)
    }
  })
})
