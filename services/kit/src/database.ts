import pg from 'pg'
import { startPglite } from './pglite.ts'

export interface QueryResult<R> {
  readonly rows: R[]
  readonly rowCount: number
}

export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>
}

/**
 * One SQL dialect, two engines: PostgreSQL through a `pg` pool when a URL is configured, and
 * PGlite (PostgreSQL compiled to WASM, in memory or in a directory) otherwise. Repositories see
 * only this interface, so the same SQL runs in production and in `npm run dev`.
 */
export interface Database extends Queryable {
  readonly engine: 'postgres' | 'pglite'
  /** Runs `work` in one transaction; rolls back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>
  ping(): Promise<void>
  /** Connections in the pool; PGlite has one. */
  poolStats(): { readonly total: number; readonly idle: number; readonly waiting: number }
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** `postgres://` URL; when absent the embedded engine is used. */
  readonly url?: string
  readonly poolMax?: number
  /**
   * PostgreSQL only: the server cancels a statement running longer (`statement_timeout`), and
   * the client gives up QUERY_TIMEOUT_MARGIN_MS later on a server that does not answer at all.
   * Default 5000.
   */
  readonly statementTimeoutMs?: number
  /** PGlite data directory; in memory when absent. */
  readonly dataDir?: string
  /** Where a failing idle connection is reported (the app's logger). */
  readonly log?: { warn(object: object, message: string): void }
  /** PGlite only: how often it is checkpointed (default PGLITE_CHECKPOINT_MS). */
  readonly checkpointMs?: number
}

/**
 * PGlite runs PostgreSQL in single-user mode, without the checkpointer: its write-ahead log only
 * grows, in memory when there is no DATA_DIR, until something checkpoints. A write-heavy
 * in-memory database would otherwise hold every WAL segment since the start.
 */
export const PGLITE_CHECKPOINT_MS = 60_000

/** How much longer than the server's statement_timeout the client waits for any answer. */
const QUERY_TIMEOUT_MARGIN_MS = 1000

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url
    ? openPostgres(options.url, options)
    : openPglite(options.dataDir, options.log, options.checkpointMs ?? PGLITE_CHECKPOINT_MS)
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const statementTimeoutMs = options.statementTimeoutMs ?? 5000
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5000,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
    application_name: 'platform',
  })
  // An idle client that loses its server emits here; without a listener the process would die.
  // The pool has already dropped the client: the line says why connections come and go.
  pool.on('error', (error) => options.log?.warn({ err: error }, 'idle database connection failed'))
  const database: Database = {
    engine: 'postgres',
    async query<R>(text: string, params?: readonly unknown[]) {
      const result = await pool.query(text, params as unknown[] | undefined)
      return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length }
    },
    async transaction<T>(work: (tx: Queryable) => Promise<T>) {
      const client = await pool.connect()
      let broken: Error | undefined
      try {
        await client.query('BEGIN')
        const result = await work({
          async query<R>(text: string, params?: readonly unknown[]) {
            const r = await client.query(text, params as unknown[] | undefined)
            return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length }
          },
        })
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
        })
        throw error
      } finally {
        // Released with an error, the pool destroys the client: one whose ROLLBACK failed may
        // still be inside the transaction, or stuck behind a query that timed out.
        client.release(broken)
      }
    },
    async ping() {
      await pool.query('SELECT 1')
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  }
  await database.ping()
  return database
}

async function openPglite(dataDir: string | undefined, log: DatabaseOptions['log'], checkpointMs: number): Promise<Database> {
  // PGlite is loaded on demand (production images talk to PostgreSQL and never pay for the WASM
  // build); how it starts, and what that costs, is pglite.ts's.
  const db = await startPglite({ dataDir: dataDir || undefined, log })
  // Queued behind any query or transaction in progress, like every statement PGlite runs.
  const checkpoints = setInterval(() => {
    db.exec('CHECKPOINT').catch((error: unknown) => log?.warn({ err: error }, 'PGlite checkpoint failed'))
  }, checkpointMs)
  checkpoints.unref()
  const wrap = (result: { rows: unknown[]; rowCount?: number; affectedRows?: number }) => ({
    rows: result.rows,
    rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length,
  })
  return {
    engine: 'pglite',
    async query<R>(text: string, params?: readonly unknown[]) {
      return wrap(await db.query(text, params as unknown[] | undefined)) as QueryResult<R>
    },
    transaction<T>(work: (tx: Queryable) => Promise<T>) {
      return db.transaction((tx) =>
        work({
          async query<R>(text: string, params?: readonly unknown[]) {
            return wrap(await tx.query(text, params as unknown[] | undefined)) as QueryResult<R>
          },
        }),
      )
    },
    async ping() {
      await db.query('SELECT 1')
    },
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: () => {
      clearInterval(checkpoints)
      return db.close()
    },
  }
}

export interface Migration {
  /** Ordered and never reused: applied migrations are recorded by id. */
  readonly id: number
  readonly name: string
  /** One or more statements; use `$1`-free SQL (it runs as a plain script). */
  readonly sql: string
}

export interface MigrationOptions {
  /** `SEED_DATA`: insert the sample rows. */
  readonly seed: boolean
}

/** A data service's migrations (its `src/migrations.ts`), the sample rows among them. */
export type Migrations = (options: MigrationOptions) => Migration[]

/**
 * The sample rows as a migration of their own, after the schema, so they go in once, on the
 * first start: with `SEED_DATA=false` its SQL is empty, yet it is still recorded as applied, so
 * turning seeding on later never inserts samples into a database already in use.
 */
export function sampleRows(migration: Migration, options: MigrationOptions): Migration {
  return options.seed ? migration : { ...migration, sql: '' }
}

/**
 * Applies the migrations not yet recorded for `owner`, in one transaction under an advisory
 * lock, so replicas starting together neither race nor apply anything twice. Returns the
 * ids applied now.
 */
export async function migrate(database: Database, owner: string, migrations: readonly Migration[]): Promise<number[]> {
  return database.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['schema_migrations'])
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         owner text NOT NULL,
         id integer NOT NULL,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (owner, id)
       )`,
    )
    const done = await tx.query<{ id: number }>('SELECT id FROM schema_migrations WHERE owner = $1', [owner])
    const applied = new Set(done.rows.map((row) => Number(row.id)))
    const now: number[] = []
    for (const migration of [...migrations].sort((a, b) => a.id - b.id)) {
      if (applied.has(migration.id)) continue
      for (const statement of splitStatements(migration.sql)) await tx.query(statement)
      await tx.query('INSERT INTO schema_migrations (owner, id, name) VALUES ($1, $2, $3)', [owner, migration.id, migration.name])
      now.push(migration.id)
    }
    return now
  })
}

/** Statements are separated by `;` at the end of a line; migrations keep to that shape. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '')
}
