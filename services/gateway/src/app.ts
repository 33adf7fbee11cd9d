import rateLimit from '@fastify/rate-limit'
import { createService, type App, type BuildOptions } from '@platform/kit'
import packageJson from '../package.json' with { type: 'json' }
import { SERVICE_NAME, type Config } from './config.ts'
import proxy, { type ProxyRoute } from './plugins/proxy.ts'
import securityHeaders from './plugins/security-headers.ts'
import aggregateRoutes from './routes/aggregate/index.ts'
import openapiRoutes from './routes/openapi/index.ts'
import { traefikTags } from './traefik.ts'

/** What the gateway forwards, to which service: read by the proxy and by the document merge. */
const ROUTES: readonly ProxyRoute[] = [
  { prefix: '/users', service: 'user-service' },
  { prefix: '/orders', service: 'order-service' },
]

/**
 * Builds the gateway: the kit's plumbing, security headers, per-client rate limiting, the
 * `/users` and `/orders` proxies, the `/users/:id/orders` aggregate and the public API document
 * (`/openapi.json`, `/docs`), registered in Consul with Traefik's router tags. Never listens.
 */
export async function buildApp(options: BuildOptions<Config>): Promise<App> {
  const { config } = options
  const app = createService({
    name: SERVICE_NAME,
    config,
    published: true,
    tags: traefikTags(config),
    logger: options.logger,
    trustProxy: config.TRUST_PROXY,
    // The gateway's own routes; /openapi.json serves them merged with the services' documents.
    openapi: {
      title: 'microservice-platform API',
      version: packageJson.version,
      description: 'Users and their orders, through the API gateway. Every answer carries x-request-id; every error is an ErrorBody.',
      tags: [
        { name: 'users', description: 'people who place orders' },
        { name: 'orders', description: 'what users bought' },
      ],
      serve: false,
    },
    upstreams: {
      'user-service': { urls: config.USER_SERVICE_URLS, variable: 'USER_SERVICE_URLS' },
      'order-service': { urls: config.ORDER_SERVICE_URLS, variable: 'ORDER_SERVICE_URLS' },
    },
  })

  app.register(securityHeaders)

  // Global, so every route declared after this is limited; the kit's /health and /metrics opt
  // out with `config.rateLimit: false`. Keyed on request.ip: the client's, with TRUST_PROXY.
  // The x-ratelimit-* headers go on the 429 only (with Retry-After), not on every answer.
  app.register(rateLimit, {
    global: true,
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
  })

  // startTelemetry (src/telemetry.ts) turns tracing on exactly when this is set.
  const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined

  app.register(async function api(scope) {
    await scope.register(proxy, {
      routes: ROUTES,
      trustProxy: config.TRUST_PROXY,
      tracing,
      timeoutMs: config.UPSTREAM_REQUEST_TIMEOUT_MS,
    })
    await scope.register(aggregateRoutes, { tracing, timeoutMs: config.UPSTREAM_REQUEST_TIMEOUT_MS })
  })
  await app.register(openapiRoutes, { routes: ROUTES, docs: config.API_DOCS })
  return app
}
