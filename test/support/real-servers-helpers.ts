import pg from 'pg'

export { freePort, freePorts } from '../../scripts/lib/ports.ts'

/** A valid, unquoted-safe database name from any label, e.g. a test file name. */
export function databaseName(label: string): string {
  const name = label
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^([^a-z_])/, '_$1')
  return name.slice(0, 63)
}

/**
 * Creates an empty database (dropping a leftover one of that name, e.g. from a watch-mode rerun)
 * on the server of `baseUrl` and returns its URL. Use one per test file so files can run in parallel.
 */
export async function createDatabase(baseUrl: string, name: string): Promise<string> {
  const database = databaseName(name)
  await admin(baseUrl, [`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`, `CREATE DATABASE "${database}"`])
  const url = new URL(baseUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** Drops a database made by `createDatabase`, closing its remaining connections. */
export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  await admin(baseUrl, [`DROP DATABASE IF EXISTS "${databaseName(name)}" WITH (FORCE)`])
}

async function admin(baseUrl: string, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl })
  await client.connect()
  try {
    for (const statement of statements) await client.query(statement)
  } finally {
    await client.end()
  }
}
