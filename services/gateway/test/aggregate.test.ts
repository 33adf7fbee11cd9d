import type { App } from '@platform/kit'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deadUrl, gateway, listen, type Running } from './support.ts'

const ada = { id: 1, name: 'Ada', email: 'ada@example.com', createdAt: '2024-01-01T00:00:00.000Z' }
const orderOf = (id: number, userId: number) => ({
  id,
  userId,
  item: `item ${id}`,
  price: 9.99,
  quantity: 2,
  createdAt: '2024-01-02T00:00:00.000Z',
})
// User 1 has 3 orders; user 3 has 230, more than one page of order-service's 100; user 2 none.
const ORDERS = [...[1, 2, 3].map((id) => orderOf(id, 1)), ...Array.from({ length: 230 }, (_, i) => orderOf(100 + i, 3))]
const USERS: Record<number, object> = {
  1: ada,
  2: { ...ada, id: 2, email: 'bob@example.com', name: 'Bob' },
  3: { ...ada, id: 3, email: 'cy@example.com', name: 'Cy' },
  // Breaks the contract: no email.
  4: { id: 4, name: 'Broken', createdAt: ada.createdAt },
}

/** user-service's contract: `GET /users/:id` → user or 404; id 5 fails with a 500, id 6 answers Ada after 1.5 s. */
async function fakeUsers(): Promise<Running> {
  const app = Fastify({ logger: false })
  app.get<{ Params: { id: string } }>('/users/:id', async (request, reply) => {
    const id = Number(request.params.id)
    if (id === 5) return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: 'boom' })
    if (id === 6) return sleep(1500).then(() => ({ ...ada, id: 6 }))
    const user = USERS[id]
    if (user === undefined) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `user ${id} not found` })
    return user
  })
  return listen(app)
}

/** order-service's contract: `GET /orders?userId=&limit=&offset=` → one page, total in x-total-count. */
async function fakeOrders(pages: string[]): Promise<Running> {
  const app = Fastify({ logger: false })
  app.get<{ Querystring: { userId: string; limit: string; offset: string } }>('/orders', async (request, reply) => {
    pages.push(request.url)
    const mine = ORDERS.filter((order) => order.userId === Number(request.query.userId))
    const offset = Number(request.query.offset ?? 0)
    reply.header('x-total-count', mine.length)
    return mine.slice(offset, offset + Math.min(Number(request.query.limit ?? 50), 100))
  })
  return listen(app)
}

let users: Running
let orders: Running
const pages: string[] = []
let app: App
let ordersDown: App
let usersDown: App
let hurried: App

beforeAll(async () => {
  ;[users, orders] = await Promise.all([fakeUsers(), fakeOrders(pages)])
  const dead = await deadUrl()
  ;[app, ordersDown, usersDown, hurried] = await Promise.all([
    gateway({ USER_SERVICE_URLS: users.url, ORDER_SERVICE_URLS: orders.url }),
    gateway({ USER_SERVICE_URLS: users.url, ORDER_SERVICE_URLS: dead }),
    gateway({ USER_SERVICE_URLS: dead, ORDER_SERVICE_URLS: orders.url }),
    gateway({
      USER_SERVICE_URLS: users.url,
      ORDER_SERVICE_URLS: orders.url,
      UPSTREAM_REQUEST_TIMEOUT_MS: '300',
      UPSTREAM_TRY_TIMEOUT_MS: '5000',
    }),
  ])
})

afterAll(async () => {
  await Promise.all([app?.close(), ordersDown?.close(), usersDown?.close(), hurried?.close()])
  await Promise.all([users?.close(), orders?.close()])
})

describe('GET /users/:id/orders', () => {
  it('answers 200 with the user and their orders', async () => {
    const response = await app.inject({ method: 'GET', url: '/users/1/orders' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ ...ada, orders: ORDERS.filter((order) => order.userId === 1) })
  })

  it('answers 200 with an empty list for a user without orders', async () => {
    const response = await app.inject({ method: 'GET', url: '/users/2/orders' })
    expect(response.statusCode).toBe(200)
    expect(response.json().orders).toEqual([])
  })

  it('answers one page of the orders, 50 by default, with the total in x-total-count, from one upstream call', async () => {
    const mine = ORDERS.filter((order) => order.userId === 3).map((order) => order.id)
    pages.length = 0
    const first = await app.inject({ method: 'GET', url: '/users/3/orders' })
    expect(first.statusCode).toBe(200)
    expect(first.headers['x-total-count']).toBe('230')
    expect(first.json().orders.map((order: { id: number }) => order.id)).toEqual(mine.slice(0, 50))
    expect(pages).toEqual(['/orders?userId=3&limit=50&offset=0'])

    pages.length = 0
    const last = await app.inject({ method: 'GET', url: '/users/3/orders?limit=100&offset=200' })
    expect(last.json().orders.map((order: { id: number }) => order.id)).toEqual(mine.slice(200))
    expect(last.headers['x-total-count']).toBe('230')
    expect(pages).toEqual(['/orders?userId=3&limit=100&offset=200'])
  })

  it.each([
    ['limit=101', 'querystring.limit'],
    ['limit=0', 'querystring.limit'],
    ['offset=-1', 'querystring.offset'],
    ['page=2', 'querystring.page'],
  ])('answers 400 for ?%s naming %s without calling anyone', async (query, field) => {
    pages.length = 0
    const response = await app.inject({ method: 'GET', url: `/users/3/orders?${query}` })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, field })
    expect(pages).toEqual([])
  })

  it('answers 504 once UPSTREAM_REQUEST_TIMEOUT_MS has passed, though each try may last longer', async () => {
    const started = performance.now()
    const response = await hurried.inject({ method: 'GET', url: '/users/6/orders' })
    expect(response.statusCode).toBe(504)
    expect(response.json()).toMatchObject({ statusCode: 504, error: 'Gateway Timeout' })
    expect(performance.now() - started).toBeLessThan(1200)
  })

  it('answers 404 naming the id for an unknown user', async () => {
    const response = await app.inject({ method: 'GET', url: '/users/999/orders' })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'user 999 not found', field: 'params.id' })
  })

  it.each(['0', '-1', 'abc', '2147483648'])('answers 400 for the id %s without calling anyone', async (id) => {
    const response = await app.inject({ method: 'GET', url: `/users/${id}/orders` })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, field: 'params.id' })
  })

  it('answers 503 naming order-service when it is down', async () => {
    const response = await ordersDown.inject({ method: 'GET', url: '/users/1/orders' })
    expect(response.statusCode).toBe(503)
    expect(response.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'order-service is unavailable' })
  })

  it('answers 503 naming user-service when it is down', async () => {
    const response = await usersDown.inject({ method: 'GET', url: '/users/1/orders' })
    expect(response.statusCode).toBe(503)
    expect(response.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'user-service is unavailable' })
  })

  it('answers 502, never 500, when an upstream fails or breaks its contract', async () => {
    for (const id of [4, 5]) {
      const response = await app.inject({ method: 'GET', url: `/users/${id}/orders` })
      expect(response.statusCode).toBe(502)
      expect(response.json()).toMatchObject({ statusCode: 502, error: 'Bad Gateway' })
    }
  })
})
