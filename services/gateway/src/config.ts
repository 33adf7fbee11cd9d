import { loadConfig, portEnv, serviceEnv, upstreamEnv } from '@platform/kit'
import Type, { type Static, type TObject } from 'typebox'

export const SERVICE_NAME = 'gateway'

/** Every variable the gateway reads: the shared groups plus its own routing and protection knobs; the README's table is generated from these. */
export const configProperties = {
  ...serviceEnv,
  ...portEnv(3000),
  ...upstreamEnv,
  API_DOCS: Type.Boolean({
    default: true,
    description: 'serve the interactive API reference (Swagger UI) at /docs; /openapi.json is served either way',
  }),
  ORDER_SERVICE_URLS: Type.Optional(
    Type.String({
      pattern: '^\\s*https?://[^\\s,]+(\\s*,\\s*https?://[^\\s,]+)*\\s*$',
      description: 'static order-service instances, comma separated (when Consul is not configured)',
    }),
  ),
  UPSTREAM_REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    maximum: 600_000,
    default: 5000,
    description:
      'bound of one client request through the gateway until its answer starts, every try included (the aggregate: both calls and their bodies); past it, 504',
  }),
  RATE_LIMIT_MAX: Type.Integer({
    minimum: 1,
    default: 6000,
    description: 'requests per window per client IP, counted by each gateway replica on its own',
  }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 60_000, description: 'rate limit window' }),
  ROUTER_RULE: Type.String({
    minLength: 1,
    default: 'PathPrefix(`/`) && !PathPrefix(`/metrics`) && !PathPrefix(`/health`)',
    description: 'Traefik router rule, published as a Consul tag',
  }),
  TRUST_PROXY: Type.Boolean({
    default: false,
    description: 'trust X-Forwarded-* from the peer (true behind Traefik, so rate limiting keys on the client IP)',
  }),
}

export type Config = Static<TObject<typeof configProperties>>

/** Validates the environment once at boot; throws a ConfigError naming the first bad variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(configProperties, env)
}
