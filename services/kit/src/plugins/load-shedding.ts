import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { HttpError } from '../errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` exempts a route from load shedding (probes, metrics). */
    readonly loadShedding?: boolean
  }
}

export interface LoadSheddingOptions {
  /** Service name, in the 503 message. */
  readonly service: string
  /** Mean event loop delay above which the process counts as overloaded; 0 disables shedding. */
  readonly maxEventLoopDelayMs: number
  /**
   * How long the delay must stay above the limit before requests are shed (default 2000). One
   * long synchronous stretch (a WASM database starting, a large module graph loading, a busy
   * neighbour on the CPU) shows as one bad sample and sheds nothing; a real overload lasts.
   */
  readonly sustainedMs?: number
  /** How often the delay is sampled (default 250). */
  readonly sampleIntervalMs?: number
  /** Seconds in the 503's Retry-After (default 5). */
  readonly retryAfterSeconds?: number
}

/**
 * Sheds load with 503 + Retry-After while the event loop has been overloaded for `sustainedMs`,
 * so a busy instance answers fast instead of queueing work it cannot finish in time.
 *
 * Shedding answers the shed request and nothing else: it never turns `/health/ready` to 503.
 * Readiness says whether the instance can serve (its dependencies answer, it is not draining);
 * if every replica were pulled out of discovery whenever all of them were busy, the rotation
 * would empty exactly when it is needed most. Routes opt out with `config.loadShedding: false`.
 *
 * `@fastify/under-pressure` samples the delay; the sustained rule is kept here because the
 * plugin acts on every single sample.
 */
async function loadSheddingPlugin(app: FastifyInstance, options: LoadSheddingOptions) {
  const sampleIntervalMs = options.sampleIntervalMs ?? 250
  const sustainedMs = options.sustainedMs ?? 2000
  const retryAfter = String(options.retryAfterSeconds ?? 5)
  const message = `${options.service} is overloaded; retry later`
  const shed = new Counter({
    name: 'http_requests_shed_total',
    help: 'Requests answered 503 because the event loop stayed overloaded',
    registers: [app.metrics],
  })

  /** Since when every sample has been over the limit (performance.now()); undefined when calm. */
  let overSince: number | undefined
  let sampler: NodeJS.Timeout | undefined

  app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    sampleInterval: sampleIntervalMs,
    pressureHandler: async (request, reply) => {
      if (request.routeOptions.config.loadShedding === false) return
      // Counted only from the first sample taken after the server was ready.
      if (overSince === undefined || performance.now() - overSince < sustainedMs) return
      shed.inc()
      reply.header('retry-after', retryAfter)
      throw new HttpError(503, message)
    },
  })

  if (options.maxEventLoopDelayMs <= 0) return
  app.addHook('onReady', async () => {
    sampler = setInterval(() => {
      if (!app.isUnderPressure()) overSince = undefined
      else overSince ??= performance.now()
    }, sampleIntervalMs)
    sampler.unref()
  })
  app.addHook('onClose', async () => clearInterval(sampler))
}

export default fp(loadSheddingPlugin, {
  name: 'platform-load-shedding',
  fastify: '5.x',
  dependencies: ['platform-metrics', 'platform-errors'],
})
