import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import type { DatabaseEnv } from '../config.ts'
import { migrate, openDatabase, type Database, type Migrations } from '../database.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
  }
}

export interface DatabasePluginOptions {
  /** Owner name in `schema_migrations`, usually the service name. */
  readonly owner: string
  /** The service's config: `databaseEnv`'s variables say where the database is and whether to seed it. */
  readonly config: DatabaseEnv
  readonly migrations: Migrations
  /** An already open database (tests share one); it is not closed with the app. */
  readonly database?: Database
}

/** Opens the database, migrates it, checks it for readiness and reports pool gauges. */
async function databasePlugin(app: FastifyInstance, options: DatabasePluginOptions) {
  const { config } = options
  const database =
    options.database ??
    (await openDatabase({
      url: config.DATABASE_URL,
      poolMax: config.DATABASE_POOL_MAX,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      dataDir: config.DATA_DIR,
      log: app.log,
    }))
  if (!options.database) app.addHook('onClose', () => database.close())
  const applied = await migrate(database, options.owner, options.migrations({ seed: config.SEED_DATA }))
  app.log.info({ engine: database.engine, migrations: applied }, 'database ready')
  app.decorate('db', database)
  app.health.addCheck('database', () => database.ping())

  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state',
    labelNames: ['state'] as const,
    registers: [app.metrics],
    collect() {
      const stats = database.poolStats()
      this.set({ state: 'total' }, stats.total)
      this.set({ state: 'idle' }, stats.idle)
      this.set({ state: 'waiting' }, stats.waiting)
    },
  })
}

export default fp(databasePlugin, {
  name: 'platform-database',
  fastify: '5.x',
  dependencies: ['platform-health', 'platform-metrics'],
})
