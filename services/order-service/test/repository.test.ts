import { migrate, openDatabase, type Database } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { createDatabase, dropDatabase } from '../../../test/support/real-servers-helpers.ts'
import { SERVICE_NAME } from '../src/config.ts'
import { migrations } from '../src/migrations.ts'
import { orderRepository } from '../src/repository.ts'

const postgresUrl = inject('postgresUrl')

// The same body runs on both engines: the repository's SQL must mean the same on each.
const engines = [
  { engine: 'PGlite', available: true, open: () => openDatabase({}), drop: async () => {} },
  {
    engine: 'PostgreSQL',
    available: postgresUrl !== undefined,
    open: async () => openDatabase({ url: await createDatabase(postgresUrl!, 'order_service_repository') }),
    drop: () => dropDatabase(postgresUrl!, 'order_service_repository'),
  },
]

describe.each(engines)('orderRepository on $engine', ({ available, open, drop }) => {
  const it = test.skipIf(!available)
  let db: Database
  let firstRun: number[]

  beforeAll(async () => {
    if (!available) return
    db = await open()
    firstRun = await migrate(db, SERVICE_NAME, migrations({ seed: true }))
  })

  afterAll(async () => {
    await db?.close()
    if (available) await drop()
  })

  it('migrate on a fresh database applies schema and seed, and a second run applies nothing', async () => {
    const secondRun = await migrate(db, SERVICE_NAME, migrations({ seed: true }))

    expect(firstRun).toEqual([1, 2])
    expect(secondRun).toEqual([])
  })

  it('get returns the seeded orders with numeric ids, prices and quantities', async () => {
    const orders = orderRepository(db)

    const [laptop, phone] = await Promise.all([orders.get(1), orders.get(2)])

    expect(laptop).toEqual({ id: 1, userId: 1, item: 'Laptop', price: 1200, quantity: 1, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) })
    expect(phone).toMatchObject({ id: 2, userId: 2, item: 'Phone', price: 800, quantity: 1 })
  })

  it('create keeps two decimals exactly and returns the stored order', async () => {
    const orders = orderRepository(db)

    const created = await orders.create({ userId: 3, item: 'Cable', price: 1234567890.99, quantity: 3 })

    expect(created).toMatchObject({ id: expect.any(Number), userId: 3, item: 'Cable', price: 1234567890.99, quantity: 3 })
    expect(await orders.get(created.id)).toEqual(created)
  })

  it('list filters by user, pages by id and counts the matches', async () => {
    const orders = orderRepository(db)
    const first = await orders.create({ userId: 9, item: 'A', price: 1, quantity: 1 })
    const second = await orders.create({ userId: 9, item: 'B', price: 2.5, quantity: 2 })

    const all = await orders.list({ userId: 9, limit: 10, offset: 0 })
    const page = await orders.list({ userId: 9, limit: 1, offset: 1 })
    const none = await orders.list({ userId: 10, limit: 10, offset: 0 })

    expect(all).toEqual({ orders: [first, second], total: 2 })
    expect(page).toEqual({ orders: [second], total: 2 })
    expect(none).toEqual({ orders: [], total: 0 })
  })

  it('list without a user returns every order, the seeded ones first', async () => {
    const { orders, total } = await orderRepository(db).list({ limit: 2, offset: 0 })

    expect(orders.map((order) => order.item)).toEqual(['Laptop', 'Phone'])
    expect(total).toBeGreaterThanOrEqual(2)
  })

  it('the table refuses a negative price and a zero quantity', async () => {
    const orders = orderRepository(db)

    await expect(orders.create({ userId: 1, item: 'x', price: -1, quantity: 1 })).rejects.toMatchObject({ code: '23514' })
    await expect(orders.create({ userId: 1, item: 'x', price: 1, quantity: 0 })).rejects.toMatchObject({ code: '23514' })
  })

  it('remove deletes once and then reports false', async () => {
    const orders = orderRepository(db)
    const created = await orders.create({ userId: 1, item: 'Pen', price: 0, quantity: 1 })

    expect(await orders.remove(created.id)).toBe(true)
    expect(await orders.remove(created.id)).toBe(false)
  })
})

describe.skipIf(postgresUrl === undefined)('order-service migrations on PostgreSQL', () => {
  const names = ['order_service_migrate_race', 'order_service_migrate_noseed']
  const opened: Database[] = []

  async function freshDatabase(name: string): Promise<Database> {
    const database = await openDatabase({ url: await createDatabase(postgresUrl!, name) })
    opened.push(database)
    return database
  }

  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()))
    await Promise.all(names.map((name) => dropDatabase(postgresUrl!, name)))
  })

  test('two concurrent migrate calls both succeed and apply each migration once', async () => {
    const db = await freshDatabase(names[0]!)

    const runs = await Promise.all([migrate(db, SERVICE_NAME, migrations({ seed: true })), migrate(db, SERVICE_NAME, migrations({ seed: true }))])

    expect(runs.flat().sort()).toEqual([1, 2])
    const seeded = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM orders')
    expect(seeded.rows[0]!.n).toBe(2)
  })

  test('with SEED_DATA false the seed is recorded but inserts nothing, even when seeding is turned on later', async () => {
    const db = await freshDatabase(names[1]!)

    const first = await migrate(db, SERVICE_NAME, migrations({ seed: false }))
    const later = await migrate(db, SERVICE_NAME, migrations({ seed: true }))

    expect(first).toEqual([1, 2])
    expect(later).toEqual([])
    const rows = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM orders')
    expect(rows.rows[0]!.n).toBe(0)
  })
})
