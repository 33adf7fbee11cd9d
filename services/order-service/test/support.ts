import type { App, Database } from '@platform/kit'
import { buildApp as buildUserService } from '../../user-service/src/app.ts'
import { readConfig as readUserConfig } from '../../user-service/src/config.ts'
import { buildApp } from '../src/app.ts'
import { readConfig } from '../src/config.ts'

/**
 * A real user-service listening on a random loopback port. It may share the order-service's
 * database: the two own different tables and migration records.
 */
export async function startUserService(database: Database): Promise<{ app: App; url: string }> {
  const app = await buildUserService({ config: readUserConfig({}), logger: false, database })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url }
}

/** order-service calling user-service at `userServiceUrl` (comma separated for several), with quick upstream timeouts for tests. */
export function buildOrderService(database: Database, userServiceUrl: string, env: Record<string, string> = {}): Promise<App> {
  const config = readConfig({ USER_SERVICE_URLS: userServiceUrl, UPSTREAM_TRY_TIMEOUT_MS: '1000', ...env })
  return buildApp({ config, logger: false, database })
}
