import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../src/database.ts'
import { startPglite } from '../src/pglite.ts'

// Each start costs a second or more of CPU, and initdb several: few starts, several checks each.
const scratch = await mkdtemp(join(tmpdir(), 'kit-pglite-'))
afterAll(() => rm(scratch, { recursive: true, force: true }))

const exists = (path: string) =>
  readFile(path).then(
    () => true,
    () => false,
  )

async function describeEngine(db: PGlite) {
  const setting = async (name: string) =>
    (await db.query<{ setting: string }>(`SELECT current_setting($1) AS setting`, [name])).rows[0]!.setting
  const databases = await db.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY datname')
  return {
    databases: databases.rows.map((row) => row.datname),
    sharedBuffers: await setting('shared_buffers'),
    walSegmentSize: await setting('wal_segment_size'),
  }
}

describe('startPglite in memory', () => {
  it('makes the template when there is none, saves it, and the next start loads it', async () => {
    const templatePath = join(scratch, 'cache', 'template.tar.gz')
    const warnings: string[] = []
    const log = { warn: (_object: object, message: string) => warnings.push(message) }

    const first = await startPglite({ templatePath, log })
    expect(await exists(templatePath)).toBe(true)
    expect(await describeEngine(first)).toEqual({ databases: ['postgres'], sharedBuffers: '16MB', walSegmentSize: '1MB' })
    await first.exec('CREATE TABLE only_in_first (id int)')
    await first.close()

    const second = await startPglite({ templatePath, log })
    expect(await describeEngine(second)).toEqual({ databases: ['postgres'], sharedBuffers: '16MB', walSegmentSize: '1MB' })
    // A new database each time: nothing of the first.
    expect((await second.query(`SELECT to_regclass('only_in_first') AS found`)).rows).toEqual([{ found: null }])
    await second.close()
    expect(warnings).toEqual([])
  })

  it('reports a template that does not load, removes it, and runs initdb instead', async () => {
    const templatePath = join(scratch, 'broken.tar.gz')
    await writeFile(templatePath, 'not a tarball')
    const warnings: string[] = []

    const db = await startPglite({ templatePath, log: { warn: (_object, message) => warnings.push(message) } })
    expect(warnings).toEqual(['PGlite template did not load: running initdb'])
    expect(await exists(templatePath)).toBe(false)
    // initdb's own cluster: its template databases and 16 MB WAL segments, the settings still ours.
    expect(await describeEngine(db)).toEqual({
      databases: ['postgres', 'template0', 'template1'],
      sharedBuffers: '16MB',
      walSegmentSize: '16MB',
    })
    await db.close()
  })
})

describe('openDatabase in DATA_DIR', () => {
  it('opens a database already there as it is: its rows and its files, with the settings on the command line only', async () => {
    const dataDir = join(scratch, 'data')
    const created = await openDatabase({ dataDir })
    await created.query('CREATE TABLE kept (name text)')
    await created.query(`INSERT INTO kept VALUES ('Alice')`)
    await created.close()
    const files = ['postgresql.conf', 'postgresql.auto.conf', 'PG_VERSION']
    const before = await Promise.all(files.map((file) => readFile(join(dataDir, file), 'utf8')))

    const reopened = await openDatabase({ dataDir })
    expect((await reopened.query('SELECT name FROM kept')).rows).toEqual([{ name: 'Alice' }])
    const databases = await reopened.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY datname')
    expect(databases.rows.map((row) => row.datname)).toEqual(['postgres', 'template0', 'template1'])
    expect((await reopened.query(`SELECT current_setting('shared_buffers') AS value`)).rows).toEqual([{ value: '16MB' }])
    await reopened.close()
    expect(await Promise.all(files.map((file) => readFile(join(dataDir, file), 'utf8')))).toEqual(before)
  })
})

describe('openDatabase on PGlite', () => {
  it('checkpoints on its own, which single-user PostgreSQL never does', async () => {
    const db = await openDatabase({ checkpointMs: 200 })
    try {
      const checkpoint = async () =>
        (await db.query<{ lsn: string }>('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()')).rows[0]!.lsn
      const before = await checkpoint()
      await db.query('CREATE TABLE churn (id integer, body text)')
      await db.query(`INSERT INTO churn SELECT n, repeat('x', 200) FROM generate_series(1, 5000) AS n`)
      let after = before
      for (let waited = 0; after === before && waited < 5_000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        after = await checkpoint()
      }
      expect(after).not.toBe(before)
    } finally {
      await db.close()
    }
  })
})
