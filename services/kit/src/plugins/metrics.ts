import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's Prometheus registry: plugins add their own metrics to it. */
    metrics: Registry
  }
}

export interface MetricsOptions {
  /** Value of the `service` label on every series. */
  readonly service: string
}

/** Seconds; from sub-millisecond proxy hops to slow database calls. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * prom-client default metrics (process, heap, GC, event loop) and
 * `http_request_duration_seconds{method,route,status_code}` on `GET /metrics`.
 * Routes are labelled by their pattern (`/users/:id`), never the raw URL, to bound cardinality.
 */
async function metricsPlugin(app: FastifyInstance, options: MetricsOptions) {
  const registry = new Registry()
  registry.setDefaultLabels({ service: options.service })
  collectDefaultMetrics({ register: registry })
  app.decorate('metrics', registry)

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests served, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })

  app.addHook('onResponse', (request, reply, done) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode },
      reply.elapsedTime / 1000,
    )
    done()
  })

  app.get(
    '/metrics',
    { logLevel: 'warn', config: { rateLimit: false, loadShedding: false, operational: true } },
    async (_request, reply) => {
      reply.type(registry.contentType)
      return registry.metrics()
    },
  )
}

export default fp(metricsPlugin, { name: 'platform-metrics', fastify: '5.x' })
