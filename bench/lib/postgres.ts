import { readFileSync } from 'node:fs'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import setupRealServers from '../../test/support/real-servers.ts'
import { createDatabase } from '../../test/support/real-servers-helpers.ts'
import { parseStat, ProcessTable } from './proc.ts'

/** The private PostgreSQL of a run. */
export interface Postgres {
  /** URL of a fresh database for user-service. */
  readonly url: string
  /** The postmaster: its tree is PostgreSQL's CPU (backends fork from it and inherit its pinning). */
  readonly pid: number
  readonly version: string
  /** Every process of the server now, for pinning. */
  pids(): number[]
  stop(): Promise<void>
}

/**
 * Starts a private PostgreSQL 15 the way the test suites get theirs: the vitest global setup
 * (test/support/real-servers.ts, as root through runuser, random loopback port, durability off),
 * called with a project that only records what it provides.
 */
export async function startPostgres(): Promise<Postgres> {
  const provided = new Map<string, unknown>()
  const project = { provide: (key: string, value: unknown) => provided.set(key, value) }
  const teardown = await setupRealServers(project as unknown as TestProject)
  stopConsul()
  try {
    const baseUrl = provided.get('postgresUrl')
    if (typeof baseUrl !== 'string') throw new Error('PostgreSQL 15 not found: install the Debian package postgresql-15')
    const url = await createDatabase(baseUrl, 'bench')
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    let pid: number
    let version: string
    try {
      const { rows } = await client.query<{ backend: number; version: string }>('SELECT pg_backend_pid() AS backend, version()')
      version = rows[0]!.version.split(' on ')[0]!
      // A backend's parent is the postmaster; read it while the backend lives (until end()).
      pid = parseStat(readFileSync(`/proc/${rows[0]!.backend}/stat`, 'utf8')).ppid
    } finally {
      await client.end()
    }
    return {
      url,
      pid,
      version,
      pids: () => [pid, ...ProcessTable.read().descendants(pid)],
      stop: teardown,
    }
  } catch (error) {
    await teardown()
    throw error
  }
}

/**
 * The setup also starts a Consul dev agent when one is installed. The bench has no use for it,
 * and idle it still costs about 2% of a core, on the load generator's: it is stopped at once
 * (the setup's teardown copes with a child that has already exited).
 */
function stopConsul(): void {
  for (const pid of ProcessTable.read().descendants(process.pid)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'consul') process.kill(pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
}
