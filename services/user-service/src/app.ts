import { createService, databasePlugin, type App, type BuildOptions } from '@platform/kit'
import packageJson from '../package.json' with { type: 'json' }
import { SERVICE_NAME, type Config } from './config.ts'
import { migrations } from './migrations.ts'
import userRoutes from './routes/users/index.ts'

const { version } = packageJson

/** Builds user-service: the kit's plumbing, its database and the `/users` routes. Never listens. */
export async function buildApp(options: BuildOptions<Config>): Promise<App> {
  const { config } = options
  const app = createService({
    name: SERVICE_NAME,
    config,
    logger: options.logger,
    openapi: { title: SERVICE_NAME, version, tags: [{ name: 'users', description: 'people who place orders' }] },
  })
  await app.register(databasePlugin, { owner: SERVICE_NAME, config, migrations, database: options.database })
  await app.register(userRoutes)
  return app
}
