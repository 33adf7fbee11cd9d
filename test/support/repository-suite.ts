// What every data service's repository suite shares: the same tests on PGlite and on the real
// PostgreSQL of the global setup (the repository's SQL must mean the same on each), and the
// migration checks (first run, rerun, concurrent replicas, SEED_DATA=false).
import { migrate, openDatabase, type Database, type Migrations } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { createDatabase, dropDatabase } from './real-servers-helpers.ts'

export interface RepositorySuite {
  /** The repository's name, in the suite titles: `userRepository on PGlite`. */
  readonly name: string
  /** The service: the owner of its migration records, and the prefix of its test databases. */
  readonly owner: string
  readonly migrations: Migrations
  /** The table the sample rows go into, and how many there are. */
  readonly seeded: { readonly table: string; readonly rows: number }
}

export interface RepositoryContext {
  /** `test`, skipped when the engine is not available. */
  readonly it: ReturnType<typeof test.skipIf>
  /** The engine's database, migrated with the sample rows; open from `beforeAll` on. */
  db(): Database
}

/**
 * Declares `body`'s tests once per engine on a freshly migrated, seeded database, and the
 * migration tests every data service must pass.
 */
export function describeRepository(suite: RepositorySuite, body: (context: RepositoryContext) => void): void {
  const postgresUrl = inject('postgresUrl')
  const { owner, migrations } = suite
  const ids = migrations({ seed: true })
    .map((migration) => migration.id)
    .sort((a, b) => a - b)
  const engines = [
    { engine: 'PGlite', available: true, open: () => openDatabase({}), drop: async () => {} },
    {
      engine: 'PostgreSQL',
      available: postgresUrl !== undefined,
      open: async () => openDatabase({ url: await createDatabase(postgresUrl!, `${owner} repository`) }),
      drop: () => dropDatabase(postgresUrl!, `${owner} repository`),
    },
  ]

  describe.each(engines)(`${suite.name} on $engine`, ({ available, open, drop }) => {
    const it = test.skipIf(!available)
    let db: Database | undefined
    let firstRun: number[]

    beforeAll(async () => {
      if (!available) return
      db = await open()
      firstRun = await migrate(db, owner, migrations({ seed: true }))
    })

    afterAll(async () => {
      await db?.close()
      if (available) await drop()
    })

    it('migrate on a fresh database applies schema and seed, and a second run applies nothing', async () => {
      const secondRun = await migrate(db!, owner, migrations({ seed: true }))

      expect(firstRun).toEqual(ids)
      expect(secondRun).toEqual([])
    })

    body({ it, db: () => db! })
  })

  describe.skipIf(postgresUrl === undefined)(`${owner} migrations on PostgreSQL`, () => {
    const names = [`${owner} migrate race`, `${owner} migrate noseed`]
    const opened: Database[] = []
    const count = async (db: Database) =>
      (await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${suite.seeded.table}`)).rows[0]!.n

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

      const runs = await Promise.all([migrate(db, owner, migrations({ seed: true })), migrate(db, owner, migrations({ seed: true }))])

      expect(runs.flat().sort((a, b) => a - b)).toEqual(ids)
      expect(await count(db)).toBe(suite.seeded.rows)
    })

    test('with SEED_DATA false the seed is recorded but inserts nothing, even when seeding is turned on later', async () => {
      const db = await freshDatabase(names[1]!)

      const first = await migrate(db, owner, migrations({ seed: false }))
      const later = await migrate(db, owner, migrations({ seed: true }))

      expect(first).toEqual(ids)
      expect(later).toEqual([])
      expect(await count(db)).toBe(0)
    })
  })
}
