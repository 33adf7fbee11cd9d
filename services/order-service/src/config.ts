import { databaseEnv, loadConfig, portEnv, serviceEnv, upstreamEnv } from '@platform/kit'
import type { Static, TObject } from 'typebox'

export const SERVICE_NAME = 'order-service'

/** Every variable order-service reads; the README's table is generated from these. */
export const configProperties = {
  ...serviceEnv,
  ...portEnv(3002),
  ...databaseEnv,
  ...upstreamEnv,
}

export type Config = Static<TObject<typeof configProperties>>

/** Validates the environment once at boot; throws a ConfigError naming the first bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configProperties, env)
}
