// The three services in this process, each listening on a random loopback port, sharing one
// in-memory PGlite (they own different tables and migration records): the gateway in front of
// the real user-service and order-service, for suites that need the whole API but no PostgreSQL.
import { openDatabase, type App, type Database } from '@platform/kit'
import { buildApp as buildGateway } from '../../services/gateway/src/app.ts'
import { readConfig as gatewayConfig } from '../../services/gateway/src/config.ts'
import { buildApp as buildOrderService } from '../../services/order-service/src/app.ts'
import { readConfig as orderServiceConfig } from '../../services/order-service/src/config.ts'
import { buildApp as buildUserService } from '../../services/user-service/src/app.ts'
import { readConfig as userServiceConfig } from '../../services/user-service/src/config.ts'

export interface Platform {
  /** The gateway's base URL. */
  readonly url: string
  /** The database both services write to. */
  readonly database: Database
  close(): Promise<void>
}

export interface PlatformOptions {
  /** Write the sample rows (Alice, Bob, Laptop, Phone) on start. Default false. */
  readonly seed?: boolean
  /** Extra gateway environment. */
  readonly gateway?: Readonly<Record<string, string>>
}

// Load shedding is off: these suites check answers against the contract, and a busy shared
// machine must not turn them into 503s (the resilience suite checks shedding).
const QUIET = { LOG_LEVEL: 'silent', MAX_EVENT_LOOP_DELAY_MS: '0' }

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const database = await openDatabase({})
  const started: App[] = []
  const close = async () => {
    for (const app of started.reverse()) await app.close()
    await database.close()
  }
  try {
    const seed = { ...QUIET, SEED_DATA: String(options.seed ?? false) }
    const users = await buildUserService({ config: userServiceConfig(seed), logger: false, database })
    started.push(users)
    const usersUrl = await users.listen({ host: '127.0.0.1', port: 0 })
    const orders = await buildOrderService({
      config: orderServiceConfig({ ...seed, USER_SERVICE_URLS: usersUrl }),
      logger: false,
      database,
    })
    started.push(orders)
    const ordersUrl = await orders.listen({ host: '127.0.0.1', port: 0 })
    const gateway = await buildGateway({
      config: gatewayConfig({ ...QUIET, USER_SERVICE_URLS: usersUrl, ORDER_SERVICE_URLS: ordersUrl, ...options.gateway }),
      logger: false,
    })
    started.push(gateway)
    const url = await gateway.listen({ host: '127.0.0.1', port: 0 })
    return { url, database, close }
  } catch (error) {
    await close()
    throw error
  }
}
