import { createService, databasePlugin, type App, type BuildOptions } from '@platform/kit'
import packageJson from '../package.json' with { type: 'json' }
import { SERVICE_NAME, type Config } from './config.ts'
import { migrations } from './migrations.ts'
import orderRoutes from './routes/orders/index.ts'

const { version } = packageJson

/** Builds order-service: the kit's plumbing, its database and the `/orders` routes. Never listens. */
export async function buildApp(options: BuildOptions<Config>): Promise<App> {
  const { config } = options
  const app = createService({
    name: SERVICE_NAME,
    config,
    logger: options.logger,
    openapi: { title: SERVICE_NAME, version, tags: [{ name: 'orders', description: 'what users bought' }] },
    upstreams: { 'user-service': { urls: config.USER_SERVICE_URLS, variable: 'USER_SERVICE_URLS' } },
  })
  await app.register(databasePlugin, { owner: SERVICE_NAME, config, migrations, database: options.database })
  await app.register(orderRoutes, { userCheckTimeoutMs: config.USER_CHECK_TIMEOUT_MS })
  return app
}
