// The gateway in front of the real user-service and order-service, each on an in-memory PGlite.
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

    const order = await app.inject({ method: 'POST', url: '/orders', headers: json, payload: { userId: user.id, item: 'book', price: 12.5, quantity: 2 } })
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
})
