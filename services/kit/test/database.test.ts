// The PostgreSQL pool's bounds and failure handling, against the real server of the test run.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDatabase, dropDatabase } from '../../../test/support/real-servers-helpers.ts'
import { openDatabase, type Database } from '../src/database.ts'

const postgresUrl = inject('postgresUrl')
const NAME = 'kit_database'

describe.skipIf(postgresUrl === undefined)('openDatabase on PostgreSQL', () => {
  let url: string
  const opened: Database[] = []
  const open = async (options: Parameters<typeof openDatabase>[0]) => {
    const database = await openDatabase({ url, ...options })
    opened.push(database)
    return database
  }

  beforeAll(async () => {
    url = await createDatabase(postgresUrl!, NAME)
  })

  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close().catch(() => {})))
    await dropDatabase(postgresUrl!, NAME)
  })

  it('cancels a statement that runs longer than statementTimeoutMs', async () => {
    const database = await open({ statementTimeoutMs: 200 })
    const started = performance.now()
    await expect(database.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' })
    expect(performance.now() - started).toBeLessThan(3000)
    // The connection is still good for the next query.
    expect((await database.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('logs an idle connection that fails, as a warning', async () => {
    const warnings: { object: object; message: string }[] = []
    const database = await open({ log: { warn: (object, message) => warnings.push({ object, message }) } })
    await database.ping()
    expect(database.poolStats().idle).toBe(1)

    await terminateBackends(url)

    await expect.poll(() => warnings.length, { timeout: 5000 }).toBe(1)
    expect(warnings[0]).toMatchObject({ message: 'idle database connection failed', object: { err: expect.any(Error) } })
  })

  it('destroys a client whose ROLLBACK failed instead of returning it to the pool', async () => {
    // The client gives up on a query 1 s after the 200 ms statement timeout; with the server's
    // timeout lifted, a long sleep makes the query and the ROLLBACK queued behind it time out.
    const database = await open({ statementTimeoutMs: 200 })
    await expect(
      database.transaction(async (tx) => {
        await tx.query('SET LOCAL statement_timeout = 0')
        await tx.query('SELECT pg_sleep(3)')
      }),
    ).rejects.toThrow(/timeout/i)
    expect(database.poolStats().total).toBe(0)
  })
})

/** Ends every server process of the database but the caller's, as a server restart would. */
async function terminateBackends(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    )
  } finally {
    await admin.end()
  }
}
