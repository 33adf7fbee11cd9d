import { openDatabase, type App, type Database } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildApp } from '../src/app.ts'
import { readConfig } from '../src/config.ts'
import { buildOrderService, startUserService } from './support.ts'

// One PGlite for the file, shared by order-service and the real user-service it asks (seeded
// with Alice 1 and Bob 2). Tests make their own orders; the seeded ones are never changed.
let database: Database
let users: { app: App; url: string }
let app: App

beforeAll(async () => {
  database = await openDatabase({})
  users = await startUserService(database)
  app = await buildOrderService(database, users.url)
  await app.ready()
})

afterAll(async () => {
  await app?.close()
  await users?.app.close()
  await database?.close()
})

interface OrderBody {
  id: number
  userId: number
  item: string
  price: number
  quantity: number
  createdAt: string
}

async function createOrder(payload: Record<string, unknown> = { userId: 1, item: 'Mouse', price: 25.5 }) {
  const response = await app.inject({ method: 'POST', url: '/orders', payload })
  expect(response.statusCode).toBe(201)
  return response.json<OrderBody>()
}

async function countOrders(): Promise<number> {
  const result = await database.query<{ n: number }>('SELECT count(*)::integer AS n FROM orders')
  return result.rows[0]!.n
}

describe('order-service seeds', () => {
  test('GET /orders on a fresh database lists the Laptop for user 1 and the Phone for user 2', async () => {
    const response = await app.inject({ method: 'GET', url: '/orders?limit=2' })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual([
      { id: 1, userId: 1, item: 'Laptop', price: 1200, quantity: 1, createdAt: expect.any(String) },
      { id: 2, userId: 2, item: 'Phone', price: 800, quantity: 1, createdAt: expect.any(String) },
    ])
  })
})

describe('GET /orders', () => {
  test("with userId returns only that user's orders and their count in x-total-count", async () => {
    const mine = await createOrder({ userId: 2, item: 'Case', price: 19.99 })

    const response = await app.inject({ method: 'GET', url: '/orders?userId=2' })

    expect(response.statusCode).toBe(200)
    const orders = response.json<OrderBody[]>()
    expect(orders.every((order) => order.userId === 2)).toBe(true)
    expect(orders).toContainEqual(mine)
    expect(response.headers['x-total-count']).toBe(String(orders.length))
  })

  test('with limit and offset returns that page ordered by id', async () => {
    await createOrder()
    const all = (await app.inject({ method: 'GET', url: '/orders?limit=100' })).json<OrderBody[]>()

    const response = await app.inject({ method: 'GET', url: '/orders?limit=2&offset=1' })

    expect(response.json()).toEqual(all.slice(1, 3))
    expect(response.headers['x-total-count']).toBe(String(all.length))
  })

  test.each([
    ['userId=0', 'querystring.userId'],
    ['userId=abc', 'querystring.userId'],
    ['userId=1e400', 'querystring.userId'],
    ['limit=1000', 'querystring.limit'],
    ['offset=-5', 'querystring.offset'],
    ['user=1', 'querystring.user'],
  ])('with ?%s answers 400 naming %s', async (query, field) => {
    const response = await app.inject({ method: 'GET', url: `/orders?${query}` })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', field })
  })
})

describe('GET /orders/:id', () => {
  test('of an existing order returns it with the price as a number', async () => {
    const created = await createOrder({ userId: 1, item: 'Monitor', price: 199.99, quantity: 2 })

    const response = await app.inject({ method: 'GET', url: `/orders/${created.id}` })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      id: created.id,
      userId: 1,
      item: 'Monitor',
      price: 199.99,
      quantity: 2,
      createdAt: created.createdAt,
    })
  })

  test('of a missing order answers 404 naming the id', async () => {
    const response = await app.inject({ method: 'GET', url: '/orders/424242' })

    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'order 424242 not found', field: 'params.id' })
  })

  test.each(['0', '-3', 'abc', '2147483648', '1e400', 'Infinity'])('with id %s answers 400, never a 5xx', async (id) => {
    const response = await app.inject({ method: 'GET', url: `/orders/${id}` })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, field: 'params.id' })
  })
})

describe('POST /orders', () => {
  test('for an existing user answers 201 with the order, its Location and quantity 1 by default', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders', payload: { userId: 2, item: ' Charger ', price: 29 } })

    expect(response.statusCode).toBe(201)
    const order = response.json()
    expect(order).toEqual({ id: expect.any(Number), userId: 2, item: 'Charger', price: 29, quantity: 1, createdAt: expect.any(String) })
    expect(response.headers.location).toBe(`/orders/${order.id}`)
  })

  test('with an unknown property answers 400 naming it and writes nothing', async () => {
    const before = await countOrders()

    const response = await app.inject({ method: 'POST', url: '/orders', payload: { userId: 1, item: 'x', price: 1, discount: 50 } })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'body.discount is not allowed',
      field: 'body.discount',
    })
    expect(await countOrders()).toBe(before)
  })

  const json = (text: string) => ({ payload: text, headers: { 'content-type': 'application/json' } })
  test.each([
    ['malformed JSON', 400, json('{"userId": 1, "item":')],
    ['a __proto__ key', 400, json('{"userId":1,"item":"x","price":1,"__proto__":{"admin":true}}')],
    ['a constructor.prototype key', 400, json('{"userId":1,"item":"x","price":1,"constructor":{"prototype":{"admin":true}}}')],
    ['a missing price', 400, { payload: { userId: 1, item: 'x' } }],
    ['a price as a string', 400, { payload: { userId: 1, item: 'x', price: '12' } }],
    ['a price of "Infinity"', 400, { payload: { userId: 1, item: 'x', price: 'Infinity' } }],
    ['a price of 1e400', 400, json('{"userId":1,"item":"x","price":1e400}')],
    ['a negative price', 400, { payload: { userId: 1, item: 'x', price: -1 } }],
    ['a price above 1e9', 400, { payload: { userId: 1, item: 'x', price: 1_000_000_001 } }],
    ['a price with three decimals', 400, { payload: { userId: 1, item: 'x', price: 1.005 } }],
    ['a quantity of 0', 400, { payload: { userId: 1, item: 'x', price: 1, quantity: 0 } }],
    ['a quantity of 1.5', 400, { payload: { userId: 1, item: 'x', price: 1, quantity: 1.5 } }],
    ['a quantity of 10001', 400, { payload: { userId: 1, item: 'x', price: 1, quantity: 10_001 } }],
    ['a userId as a string', 400, { payload: { userId: '1', item: 'x', price: 1 } }],
    ['a userId of 2^31', 400, { payload: { userId: 2_147_483_648, item: 'x', price: 1 } }],
    ['a blank item', 400, { payload: { userId: 1, item: ' ', price: 1 } }],
    ['a NUL in the item', 400, { payload: { userId: 1, item: 'a\u0000', price: 1 } }],
    ['a lone surrogate in the item', 400, json('{"userId":1,"item":"\\udc00","price":1}')],
    ['a JSON array', 400, json('[{"userId":1,"item":"x","price":1}]')],
    ['an XML body', 415, { payload: '<order/>', headers: { 'content-type': 'application/xml' } }],
    ['a body over 1 MiB', 413, json(JSON.stringify({ userId: 1, item: 'x'.repeat(1_100_000), price: 1 }))],
  ] as const)('with %s answers %i with the error body and writes nothing', async (_case, status, request) => {
    const before = await countOrders()

    const response = await app.inject({ method: 'POST', url: '/orders', ...request })

    expect(response.statusCode).toBe(status)
    expect(response.json()).toMatchObject({ statusCode: status, error: expect.any(String), message: expect.any(String) })
    expect(await countOrders()).toBe(before)
  })
})

describe('DELETE /orders/:id', () => {
  test('of an existing order answers 204 and the order is gone', async () => {
    const order = await createOrder()

    const response = await app.inject({ method: 'DELETE', url: `/orders/${order.id}` })

    expect(response.statusCode).toBe(204)
    expect(response.body).toBe('')
    expect((await app.inject({ method: 'GET', url: `/orders/${order.id}` })).statusCode).toBe(404)
  })

  test('of a missing order answers 404', async () => {
    const response = await app.inject({ method: 'DELETE', url: '/orders/424242' })

    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ message: 'order 424242 not found' })
  })
})

describe('order-service plumbing', () => {
  test('GET /health/ready answers 200 with the database check', async () => {
    const response = await app.inject({ method: 'GET', url: '/health/ready' })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok', checks: { database: 'ok' } })
  })

  test('GET /metrics exposes request durations by route pattern and the pool gauge', async () => {
    await app.inject({ method: 'GET', url: '/orders/1' })

    const response = await app.inject({ method: 'GET', url: '/metrics' })

    expect(response.statusCode).toBe(200)
    expect(response.body).toMatch(/^http_request_duration_seconds_count\{[^}]*route="\/orders\/:id"[^}]*status_code="200"[^}]*\} [1-9]/m)
    expect(response.body).toMatch(/^db_pool_connections\{[^}]*state="total"[^}]*\} 1$/m)
  })

  test('buildApp without USER_SERVICE_URLS or Consul fails at boot naming the variable', async () => {
    await expect(buildApp({ config: readConfig({}), logger: false, database })).rejects.toThrow(/USER_SERVICE_URLS/)
  })
})
