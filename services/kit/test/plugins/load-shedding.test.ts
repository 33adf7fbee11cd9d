import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig, portEnv, serviceEnv } from '../../src/config.ts'
import errors from '../../src/plugins/errors.ts'
import health from '../../src/plugins/health.ts'
import loadShedding, { type LoadSheddingOptions } from '../../src/plugins/load-shedding.ts'
import metrics from '../../src/plugins/metrics.ts'
import { createService } from '../../src/service.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Blocks the event loop for `ms` in one piece, as a WASM database starting does. */
function stall(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spin
  }
}

/** Keeps the event loop overloaded for `ms`: 150 ms blocks with a timer tick between them. */
async function overload(ms: number): Promise<void> {
  const until = performance.now() + ms
  while (performance.now() < until) {
    stall(150)
    await sleep(1)
  }
}

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function sheddingApp(options: Partial<LoadSheddingOptions>): Promise<FastifyInstance> {
  const instance = Fastify({ logger: false })
  instance.register(errors)
  instance.register(metrics, { service: 'probe' })
  instance.register(health)
  instance.register(loadShedding, { service: 'probe', maxEventLoopDelayMs: 50, sampleIntervalMs: 50, sustainedMs: 600, ...options })
  instance.get('/work', async () => ({ ok: true }))
  await instance.ready()
  return instance
}

describe('load shedding', () => {
  it('sheds an ordinary route with 503, Retry-After and the error body once the overload has lasted sustainedMs, and never the probes', async () => {
    app = await sheddingApp({})
    const seen: { at: number; work: number; ready: number; live: number; retryAfter?: string; message?: string }[] = []
    const started = performance.now()
    const busy = overload(2_000)
    while (performance.now() - started < 2_000) {
      const [work, ready, live] = await Promise.all([app.inject('/work'), app.inject('/health/ready'), app.inject('/health/live')])
      seen.push({
        at: performance.now() - started,
        work: work.statusCode,
        ready: ready.statusCode,
        live: live.statusCode,
        ...(work.statusCode === 503
          ? { retryAfter: work.headers['retry-after'] as string, message: work.json<{ message: string }>().message }
          : {}),
      })
      await sleep(20)
    }
    await busy

    const shed = seen.filter((sample) => sample.work === 503)
    expect(shed.length, JSON.stringify(seen)).toBeGreaterThan(0)
    // Not before the overload had lasted sustainedMs.
    expect(Math.min(...shed.map((sample) => sample.at))).toBeGreaterThanOrEqual(600)
    expect(shed.every((sample) => sample.retryAfter === '5' && sample.message === 'probe is overloaded; retry later')).toBe(true)
    expect(seen.filter((sample) => sample.ready !== 200 || sample.live !== 200)).toEqual([])
    const exposition = await (await app.inject('/metrics')).body
    expect(exposition).toMatch(new RegExp(`^http_requests_shed_total\\{service="probe"\\} ${shed.length}$`, 'm'))

    // Calm again: the next samples clear it.
    await sleep(300)
    expect((await app.inject('/work')).statusCode).toBe(200)
  })

  it('sheds nothing after one long stall (a start-up), however long', async () => {
    app = await sheddingApp({})
    stall(1_500)
    const statuses: number[] = []
    const started = performance.now()
    while (performance.now() - started < 1_000) {
      statuses.push((await app.inject('/work')).statusCode)
      await sleep(20)
    }
    expect(new Set(statuses)).toEqual(new Set([200]))
  })

  it('is off with maxEventLoopDelayMs 0', async () => {
    app = await sheddingApp({ maxEventLoopDelayMs: 0, sustainedMs: 0 })
    const busy = overload(600)
    const statuses: number[] = []
    while (statuses.length < 10) {
      statuses.push((await app.inject('/work')).statusCode)
      await sleep(30)
    }
    await busy
    expect(new Set(statuses)).toEqual(new Set([200]))
  })

  it('in createService: a service whose start blocked its event loop for seconds answers its routes and /health/ready at once', async () => {
    const service = createService({
      name: 'probe',
      config: loadConfig({ ...serviceEnv, ...portEnv(0) }, { MAX_EVENT_LOOP_DELAY_MS: '20' }),
      logger: false,
    })
    app = service
    service.register(async (scope) => {
      // The stall of a PGlite start, inside plugin loading.
      stall(1_500)
      scope.get('/work', async () => ({ ok: true }))
    })
    await service.ready()
    const answers: number[] = []
    for (let i = 0; i < 20; i++) {
      const [work, ready] = await Promise.all([service.inject('/work'), service.inject('/health/ready')])
      answers.push(work.statusCode, ready.statusCode)
      await sleep(50)
    }
    expect(new Set(answers)).toEqual(new Set([200]))
  })
})
