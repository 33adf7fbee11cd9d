import Type, { type Static, type TObject, type TProperties } from 'typebox'
import Value from 'typebox/value'

/** A configuration problem, reported as one line naming the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
  { default: 'info', description: 'pino log level' },
)

const Url = (description: string) => Type.String({ pattern: '^https?://[^\\s/]+', description })
const Duration = (fallback: string, description: string) => Type.String({ pattern: '^[0-9]+(ms|s|m|h)$', default: fallback, description })

/**
 * Variables every service reads. Each service composes its own schema from these groups,
 * so the README's table and the validation come from one place.
 */
export const serviceEnv = {
  HOST: Type.String({ default: '0.0.0.0', minLength: 1, description: 'interface to listen on' }),
  LOG_LEVEL: LogLevel,
  LOG_REQUESTS: Type.Boolean({
    default: true,
    description:
      'one access log line per request, at completion: method, route, URL, status, duration, request id (false: only warnings and errors)',
  }),
  SERVICE_ADDRESS: Type.Optional(Type.String({ minLength: 1, description: 'address advertised to Consul (default: the host name)' })),
  CONSUL_HTTP_ADDR: Type.Optional(Url('Consul agent URL; enables registration and discovery')),
  CONSUL_HTTP_TOKEN: Type.Optional(Type.String({ minLength: 1, description: 'Consul ACL token' })),
  CONSUL_CHECK_INTERVAL: Duration('5s', 'how often Consul probes /health/ready'),
  CONSUL_DEREGISTER_AFTER: Duration('1m', 'Consul drops an instance critical for this long'),
  DRAIN_DELAY_MS: Type.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 5000,
    description: 'after SIGTERM: time between turning unready and closing the listener',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 1000,
    maximum: 600_000,
    default: 25_000,
    description: 'after SIGTERM: hard deadline for the whole shutdown',
  }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({
    minimum: 1000,
    maximum: 600_000,
    default: 75_000,
    description: 'idle keep-alive timeout of the HTTP server (longer than any proxy in front)',
  }),
  BODY_LIMIT_BYTES: Type.Integer({
    minimum: 1024,
    maximum: 64 * 1024 * 1024,
    default: 1_048_576,
    description: 'largest request body accepted',
  }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1000,
    description:
      'requests get 503 with Retry-After once the event loop delay has stayed above this for 2 s (0 disables); probes are never shed',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Url('OTLP/HTTP collector base URL; enables tracing')),
}

export const databaseEnv = {
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; unset = embedded PGlite' })),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'PostgreSQL pool size' }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    maximum: 600_000,
    default: 5000,
    description: 'PostgreSQL cancels any statement running longer (statement_timeout; the client gives up 1 s later); migrations included',
  }),
  DATA_DIR: Type.Optional(Type.String({ minLength: 1, description: 'PGlite data directory; unset = in memory' })),
  SEED_DATA: Type.Boolean({ default: true, description: 'insert the sample rows on first start' }),
}

const UrlList = (description: string) =>
  Type.Optional(Type.String({ pattern: '^\\s*https?://[^\\s,]+(\\s*,\\s*https?://[^\\s,]+)*\\s*$', description }))

export const upstreamEnv = {
  USER_SERVICE_URLS: UrlList('static user-service instances, comma separated (when Consul is not configured)'),
  UPSTREAM_TRY_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 2000, description: 'timeout of one try to an upstream' }),
  UPSTREAM_MAX_TRIES: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'tries per idempotent request' }),
  UPSTREAM_EJECT_AFTER: Type.Integer({ minimum: 1, default: 3, description: 'consecutive failures that eject an instance' }),
  UPSTREAM_EJECTION_MS: Type.Integer({ minimum: 0, default: 10_000, description: 'how long an ejected instance sits out' }),
  DISCOVERY_PANIC_THRESHOLD: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 50,
    description:
      'while fewer than this % of the instances Consul knows pass their checks, route over all of them (0 = only ever the passing ones)',
  }),
}

export const portEnv = (port: number) => ({
  PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: port, description: 'port to listen on' }),
})

export type ServiceEnv = Static<TObject<typeof serviceEnv>> & { PORT: number }

/** The part of a data service's configuration the database plugin reads. */
export type DatabaseEnv = Static<TObject<typeof databaseEnv>>

/**
 * Reads and validates the environment once at boot. Throws a ConfigError whose message is
 * a single line naming the first bad variable, so a misconfigured container says why it died.
 */
export function loadConfig<P extends TProperties>(properties: P, env: NodeJS.ProcessEnv = process.env): Static<TObject<P>> {
  const schema = Type.Object(properties)
  const input: Record<string, unknown> = {}
  for (const key of Object.keys(properties)) {
    const raw = env[key]
    // An empty variable means "unset": compose files and manifests often write KEY= for that.
    if (raw !== undefined && raw.trim() !== '') input[key] = raw.trim()
  }
  const value = Value.Default(schema, Value.Convert(schema, { ...input })) as Record<string, unknown>
  const first = Value.Errors(schema, value)[0]
  if (first !== undefined) {
    const key = first.instancePath.split('/')[1] ?? ''
    const property = properties[key] as { description?: string; anyOf?: { const?: unknown }[] } | undefined
    const choices = property?.anyOf?.map((option) => option.const).filter((choice) => choice !== undefined)
    const problem = choices?.length ? `must be one of ${choices.join(', ')}` : first.message
    // Never echo a value that may carry a credential.
    const got = key in input && !/TOKEN|PASSWORD|SECRET|DATABASE_URL/.test(key) ? `=${JSON.stringify(input[key])}` : ''
    const about = property?.description ? ` (${property.description})` : ''
    throw new ConfigError(`invalid environment variable ${key}${got}: ${problem}${about}`)
  }
  return value as Static<TObject<P>>
}

/** Splits a comma separated URL list from the environment. */
export function urlList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((url) => url.trim().replace(/\/+$/, ''))
    .filter((url) => url !== '')
}
