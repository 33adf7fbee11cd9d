import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { openDatabase, type App, type Database } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildOrderService, startUserService } from './support.ts'

// order-service asks a real user-service, listening on a random port and found through
// USER_SERVICE_URLS, whether the user exists before it writes an order.
let database: Database
const toClose: { close(): Promise<unknown> }[] = []

beforeAll(async () => {
  database = await openDatabase({})
})

afterAll(async () => {
  for (const closable of toClose.reverse()) await closable.close()
  await database?.close()
})

async function orderServiceFor(userServiceUrl: string, env: Record<string, string> = {}): Promise<App> {
  const app = await buildOrderService(database, userServiceUrl, env)
  toClose.push(app)
  return app
}

async function ordersOf(userId: number): Promise<number> {
  const result = await database.query<{ n: number }>('SELECT count(*)::integer AS n FROM orders WHERE user_id = $1', [userId])
  return result.rows[0]?.n ?? 0
}

/**
 * A stand-in user-service that answers every request with `status` (or never, with `hang`),
 * recording the headers it got.
 */
async function fakeUserService(status: number | 'hang'): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = []
  const server: Server = createServer((request, response) => {
    seen.push(request.headers)
    if (status === 'hang') return
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ statusCode: status, error: 'x', message: 'x' }))
  })
  toClose.push({ close: async () => server.closeAllConnections() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  toClose.push({ close: () => new Promise((resolve) => server.close(resolve)) })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

describe('POST /orders user check against user-service', () => {
  test('for a user that exists answers 201 and writes the order', async () => {
    const users = await startUserService(database)
    toClose.push(users.app)
    const orders = await orderServiceFor(users.url)
    const before = await ordersOf(2)

    const response = await orders.inject({ method: 'POST', url: '/orders', payload: { userId: 2, item: 'Headphones', price: 99.9 } })

    expect(response.statusCode).toBe(201)
    expect(response.json()).toMatchObject({ userId: 2, item: 'Headphones', price: 99.9 })
    expect(await ordersOf(2)).toBe(before + 1)
  })

  test('for a user that does not exist answers 422 naming body.userId and writes nothing', async () => {
    const users = await startUserService(database)
    toClose.push(users.app)
    const orders = await orderServiceFor(users.url)

    const response = await orders.inject({ method: 'POST', url: '/orders', payload: { userId: 4242, item: 'Ghost', price: 1 } })

    expect(response.statusCode).toBe(422)
    expect(response.json()).toEqual({
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: 'user 4242 does not exist',
      field: 'body.userId',
    })
    expect(await ordersOf(4242)).toBe(0)
  })

  test('with user-service stopped answers 503 asking to retry and writes nothing', async () => {
    const users = await startUserService(database)
    const orders = await orderServiceFor(users.url)
    await users.app.close()
    const before = await ordersOf(1)

    const response = await orders.inject({ method: 'POST', url: '/orders', payload: { userId: 1, item: 'Keyboard', price: 45 } })

    expect(response.statusCode).toBe(503)
    expect(response.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'user-service is unavailable, retry later' })
    expect(await ordersOf(1)).toBe(before)
  })

  test('when user-service answers 500 answers 503 and writes nothing', async () => {
    const users = await fakeUserService(500)
    const orders = await orderServiceFor(users.url)
    const before = await ordersOf(1)

    const response = await orders.inject({ method: 'POST', url: '/orders', payload: { userId: 1, item: 'Desk', price: 300 } })

    expect(response.statusCode).toBe(503)
    expect(response.json()).toMatchObject({ message: 'user-service is unavailable, retry later' })
    expect(await ordersOf(1)).toBe(before)
  })

  test('with one user-service instance hanging, the check moves to the other within USER_CHECK_TIMEOUT_MS and answers 201', async () => {
    const hanging = await fakeUserService('hang')
    const users = await startUserService(database)
    toClose.push(users.app)
    const orders = await orderServiceFor(`${hanging.url},${users.url}`, { USER_CHECK_TIMEOUT_MS: '1000', UPSTREAM_TRY_TIMEOUT_MS: '5000' })

    // Round robin starts on either instance: two orders make sure one check met the hanging one.
    const answers = []
    for (const item of ['Lamp', 'Chair']) {
      const started = performance.now()
      const response = await orders.inject({ method: 'POST', url: '/orders', payload: { userId: 1, item, price: 10 } })
      answers.push({ status: response.statusCode, ms: performance.now() - started })
    }

    expect(hanging.seen.length).toBeGreaterThan(0)
    expect(answers.map((answer) => answer.status)).toEqual([201, 201])
    // Each try gets half the budget: the hanging one is given up after ~500 ms, not UPSTREAM_TRY_TIMEOUT_MS.
    for (const answer of answers) expect(answer.ms).toBeLessThan(1_000 + 500)
  })

  test('with every user-service instance hanging answers 503 once USER_CHECK_TIMEOUT_MS is spent, and writes nothing', async () => {
    const [a, b] = await Promise.all([fakeUserService('hang'), fakeUserService('hang')])
    const orders = await orderServiceFor(`${a.url},${b.url}`, { USER_CHECK_TIMEOUT_MS: '600', UPSTREAM_TRY_TIMEOUT_MS: '5000' })
    const before = await ordersOf(1)

    const started = performance.now()
    const response = await orders.inject({ method: 'POST', url: '/orders', payload: { userId: 1, item: 'Shelf', price: 20 } })
    const elapsed = performance.now() - started

    expect(response.statusCode).toBe(503)
    expect(response.json()).toMatchObject({ message: 'user-service is unavailable, retry later' })
    expect(a.seen.length + b.seen.length).toBe(2)
    expect(elapsed).toBeGreaterThanOrEqual(550)
    expect(elapsed).toBeLessThan(600 + 1_000)
    expect(await ordersOf(1)).toBe(before)
  })

  test('passes its request id to user-service', async () => {
    const users = await fakeUserService(404)
    const orders = await orderServiceFor(users.url)

    await orders.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'x-request-id': 'req-42' },
      payload: { userId: 7, item: 'x', price: 1 },
    })

    expect(users.seen[0]?.['x-request-id']).toBe('req-42')
  })
})
