import { databaseEnv, loadConfig, portEnv, serviceEnv, upstreamEnv } from '@platform/kit'
import Type, { type Static, type TObject } from 'typebox'

export const SERVICE_NAME = 'order-service'

/** Every variable order-service reads; the README's table is generated from these. */
export const configProperties = {
  ...serviceEnv,
  ...portEnv(3002),
  ...databaseEnv,
  ...upstreamEnv,
  USER_CHECK_TIMEOUT_MS: Type.Integer({
    minimum: 50,
    maximum: 60_000,
    default: 1500,
    description:
      "bound of the user check before an order is written, retries included (each try gets half): below the gateway's UPSTREAM_TRY_TIMEOUT_MS, so a slow user-service gives a 503 to retry, not a gateway timeout",
  }),
}

export type Config = Static<TObject<typeof configProperties>>

/** Validates the environment once at boot; throws a ConfigError naming the first bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configProperties, env)
}
