import { databaseEnv, loadConfig, portEnv, serviceEnv } from '@platform/kit'
import type { Static, TObject } from 'typebox'

export const SERVICE_NAME = 'user-service'

/** Every variable user-service reads; the README's table is generated from these. */
export const configProperties = {
  ...serviceEnv,
  ...portEnv(3001),
  ...databaseEnv,
}

export type Config = Static<TObject<typeof configProperties>>

/** Validates the environment once at boot; throws a ConfigError naming the first bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configProperties, env)
}
