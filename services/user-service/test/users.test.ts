import { randomUUID } from 'node:crypto'
import { openDatabase, type App, type Database } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildApp } from '../src/app.ts'
import { readConfig } from '../src/config.ts'

// One PGlite for the file (a new one costs seconds); tests make their own users, so they do not
// depend on each other's order. The seeded Alice (1) and Bob (2) are never changed.
let database: Database
let app: App

beforeAll(async () => {
  database = await openDatabase({})
  app = await buildApp({ config: readConfig({}), logger: false, database })
  await app.ready()
})

afterAll(async () => {
  await app?.close()
  await database?.close()
})

const uniqueEmail = () => `user-${randomUUID()}@example.com`

async function createUser(name = 'Carol', email = uniqueEmail()) {
  const response = await app.inject({ method: 'POST', url: '/users', payload: { name, email } })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: number; name: string; email: string; createdAt: string }>()
}

async function countUsers(): Promise<number> {
  const result = await database.query<{ n: number }>('SELECT count(*)::integer AS n FROM users')
  return result.rows[0]!.n
}

describe('user-service seeds', () => {
  test('GET /users on a fresh database lists Alice and Bob as users 1 and 2', async () => {
    const response = await app.inject({ method: 'GET', url: '/users?limit=2' })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual([
      { id: 1, name: 'Alice', email: 'alice@example.com', createdAt: expect.any(String) },
      { id: 2, name: 'Bob', email: 'bob@example.com', createdAt: expect.any(String) },
    ])
  })
})

describe('GET /users', () => {
  test('with limit and offset returns that page ordered by id and the total in x-total-count', async () => {
    await createUser()
    const all = (await app.inject({ method: 'GET', url: '/users?limit=100' })).json<{ id: number }[]>()

    const response = await app.inject({ method: 'GET', url: '/users?limit=1&offset=1' })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual([all[1]])
    expect(response.headers['x-total-count']).toBe(String(all.length))
    expect(all.map((user) => user.id)).toEqual([...all.map((user) => user.id)].sort((a, b) => a - b))
  })

  test('without a query returns at most 50 users', async () => {
    const response = await app.inject({ method: 'GET', url: '/users' })

    expect(response.statusCode).toBe(200)
    expect(response.json<unknown[]>().length).toBeLessThanOrEqual(50)
  })

  test.each([
    ['limit=0', 'querystring.limit'],
    ['limit=101', 'querystring.limit'],
    ['limit=abc', 'querystring.limit'],
    ['offset=-1', 'querystring.offset'],
    ['limit=1&limit=2', 'querystring.limit'],
    ['limit=1e400', 'querystring.limit'],
    ['offset=Infinity', 'querystring.offset'],
    ['limit=%F0%9F%98%80', 'querystring.limit'],
    ['limit=%zz', 'querystring.limit'],
    ['sort=name', 'querystring.sort'],
  ])('with ?%s answers 400 naming %s', async (query, field) => {
    const response = await app.inject({ method: 'GET', url: `/users?${query}` })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', field })
  })
})

describe('GET /users/:id', () => {
  test('of an existing user returns it with an ISO createdAt', async () => {
    const created = await createUser('Dave')

    const response = await app.inject({ method: 'GET', url: `/users/${created.id}` })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual(created)
    expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt)
  })

  test('of a missing user answers 404 naming the id', async () => {
    const response = await app.inject({ method: 'GET', url: '/users/424242' })

    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'user 424242 not found', field: 'params.id' })
  })

  test.each([
    '0',
    '-1',
    '1.5',
    'abc',
    '2147483648',
    '99999999999999999999999',
    '1e400',
    '%00',
    '%E0%A4%A',
    '%F0%9F%98%80',
    'x'.repeat(300),
  ])('with id %s answers a 4xx naming the problem, never a 5xx', async (id) => {
    const response = await app.inject({ method: 'GET', url: `/users/${id}` })

    expect(response.statusCode).toBeGreaterThanOrEqual(400)
    expect(response.statusCode).toBeLessThan(500)
    expect(response.json()).toMatchObject({ statusCode: response.statusCode, error: expect.any(String), message: expect.any(String) })
  })
})

describe('POST /users', () => {
  test('with a valid body answers 201 with the user and its Location, trimming the name', async () => {
    const email = uniqueEmail()

    const response = await app.inject({ method: 'POST', url: '/users', payload: { name: '  Erin  ', email } })

    expect(response.statusCode).toBe(201)
    const user = response.json()
    expect(user).toEqual({ id: expect.any(Number), name: 'Erin', email, createdAt: expect.any(String) })
    expect(response.headers.location).toBe(`/users/${user.id}`)
    expect((await app.inject({ method: 'GET', url: response.headers.location! })).json()).toEqual(user)
  })

  test('with non-ASCII text stores it unchanged', async () => {
    const response = await app.inject({ method: 'POST', url: '/users', payload: { name: 'Zoë 😀 李', email: uniqueEmail() } })

    expect(response.statusCode).toBe(201)
    expect(response.json()).toMatchObject({ name: 'Zoë 😀 李' })
  })

  test('with an email taken in another case answers 409 naming body.email and writes nothing', async () => {
    const before = await countUsers()

    const response = await app.inject({ method: 'POST', url: '/users', payload: { name: 'Alice again', email: 'ALICE@Example.com' } })

    expect(response.statusCode).toBe(409)
    expect(response.json()).toMatchObject({ statusCode: 409, error: 'Conflict', field: 'body.email' })
    expect(response.json().message).toContain('ALICE@Example.com')
    expect(await countUsers()).toBe(before)
  })

  test('with an unknown property answers 400 naming it', async () => {
    const response = await app.inject({ method: 'POST', url: '/users', payload: { name: 'Mallory', email: uniqueEmail(), role: 'admin' } })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'body.role is not allowed', field: 'body.role' })
  })

  const json = (text: string) => ({ payload: text, headers: { 'content-type': 'application/json' } })
  test.each([
    ['malformed JSON', 400, json('{"name": "x",')],
    ['a __proto__ key', 400, json('{"name":"x","email":"proto@example.com","__proto__":{"admin":true}}')],
    ['a constructor.prototype key', 400, json('{"name":"x","email":"ctor@example.com","constructor":{"prototype":{"admin":true}}}')],
    ['a constructor key', 400, json('{"name":"x","email":"ctor2@example.com","constructor":"x"}')],
    ['a missing email', 400, { payload: { name: 'x' } }],
    ['an empty body', 400, { headers: { 'content-type': 'application/json' } }],
    ['a JSON array', 400, json('[]')],
    ['JSON null', 400, json('null')],
    ['a name that is an object', 400, { payload: { name: { first: 'x' }, email: 'obj@example.com' } }],
    ['a blank name', 400, { payload: { name: '   ', email: 'blank@example.com' } }],
    ['a name of 201 characters', 400, { payload: { name: 'x'.repeat(201), email: 'long@example.com' } }],
    ['a NUL character in the name', 400, { payload: { name: 'a\u0000b', email: 'nul@example.com' } }],
    ['a lone surrogate in the name', 400, json('{"name":"a\\ud800b","email":"surrogate@example.com"}')],
    ['an invalid email', 400, { payload: { name: 'x', email: 'not-an-email' } }],
    ['an email of 255 characters', 400, { payload: { name: 'x', email: `${'a'.repeat(243)}@example.com` } }],
    ['a name that is a number', 400, { payload: { name: 42, email: 'number@example.com' } }],
    ['a text/plain body', 415, { payload: 'name=x', headers: { 'content-type': 'text/plain' } }],
    ['an XML body', 415, { payload: '<user/>', headers: { 'content-type': 'application/xml' } }],
    ['a body over 1 MiB', 413, json(JSON.stringify({ name: 'x'.repeat(1_100_000), email: 'big@example.com' }))],
  ] as const)('with %s answers %i with the error body and writes nothing', async (_case, status, request) => {
    const before = await countUsers()

    const response = await app.inject({ method: 'POST', url: '/users', ...request })

    expect(response.statusCode).toBe(status)
    expect(response.json()).toMatchObject({ statusCode: status, error: expect.any(String), message: expect.any(String) })
    expect(await countUsers()).toBe(before)
  })
})

describe('PATCH /users/:id', () => {
  test('with a new name answers 200 with the changed user', async () => {
    const user = await createUser('Frank')

    const response = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { name: 'Franklin' } })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ ...user, name: 'Franklin' })
  })

  test('with a new email answers 200 and keeps the name', async () => {
    const user = await createUser('Grace')
    const email = uniqueEmail()

    const response = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { email } })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ ...user, email })
  })

  test("with another user's email answers 409 naming body.email and changes nothing", async () => {
    const user = await createUser('Heidi')

    const response = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload: { email: 'bob@EXAMPLE.com' } })

    expect(response.statusCode).toBe(409)
    expect(response.json()).toMatchObject({ field: 'body.email' })
    expect((await app.inject({ method: 'GET', url: `/users/${user.id}` })).json()).toEqual(user)
  })

  test('of a missing user answers 404', async () => {
    const response = await app.inject({ method: 'PATCH', url: '/users/424242', payload: { name: 'x' } })

    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ message: 'user 424242 not found', field: 'params.id' })
  })

  test.each([
    ['an empty object', {}, 'body'],
    ['an unknown property', { nickname: 'x' }, 'body.nickname'],
    ['an invalid email', { email: 'nope' }, 'body.email'],
  ])('with %s answers 400 naming %s', async (_case, payload, field) => {
    const user = await createUser('Ivan')

    const response = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, payload })

    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, field })
  })
})

describe('DELETE /users/:id', () => {
  test('of an existing user answers 204 and the user is gone', async () => {
    const user = await createUser('Judy')

    const response = await app.inject({ method: 'DELETE', url: `/users/${user.id}` })

    expect(response.statusCode).toBe(204)
    expect(response.body).toBe('')
    expect((await app.inject({ method: 'GET', url: `/users/${user.id}` })).statusCode).toBe(404)
  })

  test('of a missing user answers 404', async () => {
    const response = await app.inject({ method: 'DELETE', url: '/users/424242' })

    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ message: 'user 424242 not found' })
  })
})

describe('user-service plumbing', () => {
  test('GET /health/ready answers 200 with the database check', async () => {
    const response = await app.inject({ method: 'GET', url: '/health/ready' })

    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok', checks: { database: 'ok' } })
  })

  test('GET /metrics exposes request durations by route pattern and the pool gauge', async () => {
    await app.inject({ method: 'GET', url: '/users/1' })

    const response = await app.inject({ method: 'GET', url: '/metrics' })

    expect(response.statusCode).toBe(200)
    expect(response.body).toMatch(/^http_request_duration_seconds_count\{[^}]*route="\/users\/:id"[^}]*status_code="200"[^}]*\} [1-9]/m)
    expect(response.body).toMatch(/^db_pool_connections\{[^}]*state="total"[^}]*\} 1$/m)
  })
})
