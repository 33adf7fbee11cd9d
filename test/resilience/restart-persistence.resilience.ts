// Scenario: stop everything and start it again. Every user and order written (and changed)
// through the gateway before the stop must be there afterwards, unchanged, with nothing seeded
// twice: on PostgreSQL, and on PGlite with a data directory per service.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDatabase, dropDatabase } from '../support/real-servers-helpers.ts'
import { PrivateConsul } from './support/consul.ts'
import { report, Topology, type StartedService, untilAnswers } from './support/topology.ts'

const postgresUrl = inject('postgresUrl')
const USERS = 30
const ORDERS_PER_USER = 2

interface Stack {
  readonly services: StartedService[]
  readonly gateway: StartedService
}

interface Row {
  readonly id: number
}

describe.skipIf(!postgresUrl)('stop everything and start it again', () => {
  let consul: PrivateConsul
  let topology: Topology
  const dirs: string[] = []

  beforeAll(async () => {
    consul = await PrivateConsul.start()
    topology = new Topology(Topology.env(consul.url))
  })

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(topology.tails())
  })

  afterAll(async () => {
    await topology?.killAll()
    await consul?.close()
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
    await Promise.all([dropDatabase(postgresUrl!, 'resilience_restart_users'), dropDatabase(postgresUrl!, 'resilience_restart_orders')])
  })

  async function startStack(users: Record<string, string>, orders: Record<string, string>): Promise<Stack> {
    const user = await topology.start('user-service', users)
    const order = await topology.start('order-service', orders)
    const gateway = await topology.start('gateway')
    // Consul may still list the previous (stopped) instances' replacements as not yet passing.
    await untilAnswers(`${gateway.url}/users/1/orders`, 'the gateway routing')
    return { services: [user, order, gateway], gateway }
  }

  async function stopStack(stack: Stack): Promise<(number | null)[]> {
    // The gateway first, as an orchestrator scaling down would; each drains and exits 0.
    const codes = [await stack.gateway.stop('SIGTERM')]
    codes.push(
      ...(await Promise.all(stack.services.filter((service) => service !== stack.gateway).map((service) => service.stop('SIGTERM')))),
    )
    return codes
  }

  async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    return { status: response.status, json: text === '' ? undefined : JSON.parse(text) }
  }

  /** Every row of a list route, page by page. */
  async function everything(url: string, path: '/users' | '/orders'): Promise<Row[]> {
    const rows: Row[] = []
    for (let offset = 0; ; offset += 100) {
      const { status, json } = await call(url, 'GET', `${path}?limit=100&offset=${offset}`)
      expect(status).toBe(200)
      const page = json as Row[]
      rows.push(...page)
      if (page.length < 100) return rows
    }
  }

  /** Writes users and orders, changes one user and deletes one order; returns what each id must read back as. */
  async function write(url: string, tag: string): Promise<{ users: Row[]; orders: Row[] }> {
    const users: Row[] = []
    const orders: Row[] = []
    for (let i = 0; i < USERS; i++) {
      const created = await call(url, 'POST', '/users', { name: `${tag} user ${i} \u00e9\u{1F600}`, email: `${tag}-${i}@example.com` })
      expect(created.status).toBe(201)
      users.push(created.json as Row)
      for (let j = 0; j < ORDERS_PER_USER; j++) {
        const order = await call(url, 'POST', '/orders', {
          userId: (created.json as Row).id,
          item: `${tag} item ${i}.${j}`,
          price: 10.25 + j,
          quantity: 1 + j,
        })
        expect(order.status).toBe(201)
        orders.push(order.json as Row)
      }
    }
    const changed = await call(url, 'PATCH', `/users/${users[0]!.id}`, { name: `${tag} renamed` })
    expect(changed.status).toBe(200)
    users[0] = changed.json as Row
    const removed = orders.pop()!
    expect((await call(url, 'DELETE', `/orders/${removed.id}`)).status).toBe(204)
    return { users, orders }
  }

  async function roundTrip(label: string, users: Record<string, string>, orders: Record<string, string>) {
    const first = await startStack(users, orders)
    const written = await write(first.gateway.url, label.toLowerCase().replace(/\W+/g, '-'))
    const before = { users: await everything(first.gateway.url, '/users'), orders: await everything(first.gateway.url, '/orders') }
    const exitCodes = await stopStack(first)

    const second = await startStack(users, orders)
    const after = { users: await everything(second.gateway.url, '/users'), orders: await everything(second.gateway.url, '/orders') }
    let readBack = 0
    for (const row of written.users) {
      expect((await call(second.gateway.url, 'GET', `/users/${row.id}`)).json).toEqual(row)
      readBack += 1
    }
    for (const row of written.orders) {
      expect((await call(second.gateway.url, 'GET', `/orders/${row.id}`)).json).toEqual(row)
      readBack += 1
    }
    const secondExitCodes = await stopStack(second)

    report(`restart ${label}`, {
      usersWritten: written.users.length,
      ordersWritten: written.orders.length,
      usersBefore: before.users.length,
      usersAfter: after.users.length,
      ordersBefore: before.orders.length,
      ordersAfter: after.orders.length,
      readBack,
      exitCodes: [...exitCodes, ...secondExitCodes].join(','),
    })

    expect(after).toEqual(before)
    // The seed (Alice, Bob and their two orders) plus what was written, nothing seeded twice.
    expect(after.users).toHaveLength(2 + USERS)
    expect(after.orders).toHaveLength(2 + USERS * ORDERS_PER_USER - 1)
    expect([...exitCodes, ...secondExitCodes]).toEqual([0, 0, 0, 0, 0, 0])
  }

  it('keeps every user and order on PostgreSQL', async () => {
    const [usersDb, ordersDb] = await Promise.all([
      createDatabase(postgresUrl!, 'resilience_restart_users'),
      createDatabase(postgresUrl!, 'resilience_restart_orders'),
    ])
    await roundTrip('PostgreSQL', { DATABASE_URL: usersDb }, { DATABASE_URL: ordersDb })
  })

  it('keeps every user and order on PGlite with DATA_DIR', async () => {
    const [usersDir, ordersDir] = await Promise.all([
      mkdtemp(join(tmpdir(), 'resilience-users-')),
      mkdtemp(join(tmpdir(), 'resilience-orders-')),
    ])
    dirs.push(usersDir, ordersDir)
    await roundTrip('PGlite', { DATA_DIR: usersDir }, { DATA_DIR: ordersDir })
  })
})
