import { migrate, openDatabase, type Database } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { createDatabase, dropDatabase } from '../../../test/support/real-servers-helpers.ts'
import { SERVICE_NAME } from '../src/config.ts'
import { migrations } from '../src/migrations.ts'
import { EmailTakenError, userRepository } from '../src/repository.ts'

const postgresUrl = inject('postgresUrl')

// The same body runs on both engines: the repository's SQL must mean the same on each.
const engines = [
  { engine: 'PGlite', available: true, open: () => openDatabase({}), drop: async () => {} },
  {
    engine: 'PostgreSQL',
    available: postgresUrl !== undefined,
    open: async () => openDatabase({ url: await createDatabase(postgresUrl!, 'user_service_repository') }),
    drop: () => dropDatabase(postgresUrl!, 'user_service_repository'),
  },
]

describe.each(engines)('userRepository on $engine', ({ available, open, drop }) => {
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

  it('get returns the seeded users 1 and 2 with numeric ids and ISO timestamps', async () => {
    const users = userRepository(db)

    const [alice, bob] = await Promise.all([users.get(1), users.get(2)])

    expect(alice).toEqual({ id: 1, name: 'Alice', email: 'alice@example.com', createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) })
    expect(bob).toMatchObject({ id: 2, name: 'Bob', email: 'bob@example.com' })
  })

  it('get of a missing id returns undefined', async () => {
    expect(await userRepository(db).get(2_147_483_647)).toBeUndefined()
  })

  it('create returns the stored user and list pages it with a numeric total', async () => {
    const users = userRepository(db)
    const created = await users.create({ name: 'Carol', email: 'carol@example.com' })

    const { users: page, total } = await users.list({ limit: 1, offset: 2 })

    expect(created).toMatchObject({ id: expect.any(Number), name: 'Carol', email: 'carol@example.com' })
    expect(page).toEqual([created])
    expect(total).toBe(3)
  })

  it('create with an email taken in another case throws EmailTakenError', async () => {
    await expect(userRepository(db).create({ name: 'Al', email: 'Alice@EXAMPLE.com' })).rejects.toBeInstanceOf(EmailTakenError)
  })

  it('update changes only the given fields and returns undefined for a missing id', async () => {
    const users = userRepository(db)
    const created = await users.create({ name: 'Dave', email: 'dave@example.com' })

    const renamed = await users.update(created.id, { name: 'David' })
    const missing = await users.update(2_147_483_647, { name: 'x' })

    expect(renamed).toEqual({ ...created, name: 'David' })
    expect(missing).toBeUndefined()
  })

  it('update of a user to its own email in another case succeeds', async () => {
    const users = userRepository(db)
    const created = await users.create({ name: 'Gina', email: 'gina@example.com' })

    expect(await users.update(created.id, { email: 'GINA@example.com' })).toEqual({ ...created, email: 'GINA@example.com' })
  })

  it('update to another user\'s email throws EmailTakenError', async () => {
    const users = userRepository(db)
    const created = await users.create({ name: 'Erin', email: 'erin@example.com' })

    await expect(users.update(created.id, { email: 'BOB@example.com' })).rejects.toBeInstanceOf(EmailTakenError)
  })

  it('remove deletes once and then reports false', async () => {
    const users = userRepository(db)
    const created = await users.create({ name: 'Frank', email: 'frank@example.com' })

    expect(await users.remove(created.id)).toBe(true)
    expect(await users.remove(created.id)).toBe(false)
    expect(await users.get(created.id)).toBeUndefined()
  })
})

describe.skipIf(postgresUrl === undefined)('user-service migrations on PostgreSQL', () => {
  const names = ['user_service_migrate_race', 'user_service_migrate_noseed']
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
    const seeded = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM users')
    expect(seeded.rows[0]!.n).toBe(2)
  })

  test('with SEED_DATA false the seed is recorded but inserts nothing, even when seeding is turned on later', async () => {
    const db = await freshDatabase(names[1]!)

    const first = await migrate(db, SERVICE_NAME, migrations({ seed: false }))
    const later = await migrate(db, SERVICE_NAME, migrations({ seed: true }))

    expect(first).toEqual([1, 2])
    expect(later).toEqual([])
    const rows = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM users')
    expect(rows.rows[0]!.n).toBe(0)
  })
})
