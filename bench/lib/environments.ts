import { catalogEntry, serviceNames, upstreamUrlsVariable } from '../../catalog/catalog.ts'
import { appServices, runtimeEnv as modelRuntimeEnv, type AppServiceName } from '../../infra/model.ts'
import type { Settings } from './settings.ts'

/**
 * The runtime variables a service runs with in the stacks (V8's sizing from its memory limit,
 * malloc's arenas: `runtimeEnv` of the service model), so that memory is measured as it would be
 * in its container. The reply-from reference gets the gateway's, for an even comparison.
 */
export function runtimeEnv(service: AppServiceName): Record<string, string> {
  const model = appServices({ replicas: Object.fromEntries(serviceNames().map((name) => [name, 1])), logLevel: 'info' })
  const found = model.find((candidate) => candidate.name === service)
  if (found === undefined) throw new Error(`the service model has no ${service}`)
  return modelRuntimeEnv(found)
}

/**
 * A user-service's environment: lean (warnings only, no tracing, so that the upstream does not
 * flatter the proxies' ratios to direct), on PostgreSQL when `databaseUrl` is given and on
 * PGlite in memory otherwise, then the --user-env overrides.
 */
export function userServiceEnv(settings: Pick<Settings, 'userEnv'>, databaseUrl?: string): Record<string, string> {
  return {
    ...runtimeEnv('user-service'),
    LOG_LEVEL: 'warn',
    ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }),
    ...settings.userEnv,
  }
}

export interface GatewayEnvOptions {
  readonly upstreamUrl: string
  /**
   * Where nothing listens: the `*_URLS` of the gateway's other upstreams (the /orders proxy's),
   * required at boot and never called.
   */
  readonly unusedUpstreamUrl: string
  /** The OTLP sink, or undefined for a gateway without tracing. */
  readonly otlpUrl: string | undefined
}

/**
 * A gateway's environment: production defaults (the service's own defaults for everything not
 * set here: metrics, LOG_REQUESTS, the SDK's sampler) with tracing to the sink, then the
 * --logging and --gateway-env experiments.
 */
export function gatewayEnv(settings: Pick<Settings, 'logging' | 'gatewayEnv'>, options: GatewayEnvOptions): Record<string, string> {
  return {
    ...runtimeEnv('gateway'),
    ...Object.fromEntries(catalogEntry('gateway').calls.map((callee) => [upstreamUrlsVariable(callee), options.unusedUpstreamUrl])),
    USER_SERVICE_URLS: options.upstreamUrl,
    // The default 6,000/min per client IP would turn the run into 429s.
    RATE_LIMIT_MAX: '1000000000',
    ...(options.otlpUrl === undefined ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: options.otlpUrl }),
    ...(settings.logging === 'off' ? { LOG_REQUESTS: 'false' } : {}),
    ...settings.gatewayEnv,
  }
}
