import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { createDatabase, dropDatabase } from './support/real-servers-helpers.ts'

const postgresUrl = inject('postgresUrl')
const consulAddr = inject('consulAddr')

describe.skipIf(postgresUrl === undefined)('real-servers PostgreSQL', () => {
  it('createDatabase on the private server gives an empty database at the returned URL, even over a leftover', async () => {
    await createDatabase(postgresUrl!, 'Harness Check')
    const url = await createDatabase(postgresUrl!, 'Harness Check')
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query<{ db: string; version: string; tables: string }>(
        "SELECT current_database() AS db, current_setting('server_version_num') AS version, " +
          "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables",
      )
      expect(url).toMatch(/\/harness_check$/)
      expect(rows[0]).toMatchObject({ db: 'harness_check', tables: '0' })
      expect(Number(rows[0]!.version)).toBeGreaterThanOrEqual(150000)
    } finally {
      await client.end()
      await dropDatabase(postgresUrl!, 'Harness Check')
    }
  })
})

describe.skipIf(consulAddr === undefined)('real-servers Consul', () => {
  it('the private Consul agent has elected itself leader and serves the catalog', async () => {
    const leader = (await (await fetch(`${consulAddr}/v1/status/leader`)).json()) as string
    const services = await fetch(`${consulAddr}/v1/catalog/services`)

    expect(leader).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(services.status).toBe(200)
    expect(services.headers.get('x-consul-index')).toMatch(/^\d+$/)
  })
})
