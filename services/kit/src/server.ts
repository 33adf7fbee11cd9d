import type { IncomingMessage, ServerResponse } from 'node:http'
import { flushCompileCache } from 'node:module'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { ConfigError, type ServiceEnv } from './config.ts'
import { instanceId, type KeptRegistration } from './discovery/index.ts'
import { shutdownTelemetry, startTelemetry } from './telemetry.ts'

export interface RunOptions {
  readonly name: string
  readonly config: ServiceEnv
  readonly meta?: Readonly<Record<string, string>>
}

/**
 * Starts tracing (when configured), listens, registers the instance with Consul (and registers it again whenever the agent has
 * lost it, see `keepRegistered`) and owns the process signals. On SIGTERM or
 * SIGINT it drains: readiness turns 503, the instance leaves Consul, callers get
 * `DRAIN_DELAY_MS` to notice, then the server closes while in-flight requests finish. The whole
 * sequence is bounded by `SHUTDOWN_TIMEOUT_MS`.
 */
export async function runService(app: FastifyInstance, options: RunOptions): Promise<void> {
  const { config } = options
  // Before the first request: the app's spans go through the provider this registers.
  await startTelemetry(options.name)
  let registered: string | undefined
  let kept: KeptRegistration | undefined

  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'fatal error, shutting down')
    app.log.info({ signal, drainDelayMs: config.DRAIN_DELAY_MS }, 'draining')
    app.health.startDraining()
    // From now on every response closes its connection. Node's close() only closes the
    // connections idle at that moment: one busy then stays open after its response until the
    // client drops it (a proxy keeps idle sockets for 60 s), holding the shutdown past its deadline.
    app.server.prependListener('request', closeAfterResponse)
    // Stopped first, so it cannot register the instance again after it has left.
    await kept?.stop()
    if (registered !== undefined) {
      await app.discovery.consul?.deregister(registered).catch((error: unknown) => app.log.warn({ err: error }, 'deregistration failed'))
    }
    await sleep(config.DRAIN_DELAY_MS)
    await app.close()
    app.log.info('stopped')
    await shutdownTelemetry()
  })

  await app.listen({ host: config.HOST, port: config.PORT })
  // V8's compile cache (NODE_COMPILE_CACHE) is written at exit, and a process stopped by SIGKILL
  // (an orchestrator's deadline, the bench) never gets there: written once started instead, so
  // the next start finds what this one compiled. Nothing is written when every module came from
  // the cache, or without a writable cache directory (the images', filled at build).
  setImmediate(flushCompileCache)
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.PORT
  const advertised = config.SERVICE_ADDRESS ?? (config.HOST === '0.0.0.0' || config.HOST === '::' ? hostname() : config.HOST)

  const consul = app.discovery.consul
  if (consul) {
    const id = instanceId(options.name, advertised, port)
    const registration = {
      id,
      name: options.name,
      address: advertised,
      port,
      // Set by buildApp (createService's `tags`), so every server.ts is the same three lines.
      tags: app.discovery.tags,
      meta: { ...options.meta },
      check: {
        path: '/health/ready',
        interval: config.CONSUL_CHECK_INTERVAL,
        timeout: '2s',
        deregisterCriticalServiceAfter: config.CONSUL_DEREGISTER_AFTER,
      },
    }
    // The client logs the registration (id, address, port): one line per start.
    await consul.register(registration)
    registered = id
    // An agent restarted without its state (dev mode, a replaced node agent) forgets us.
    if (!app.health.draining) kept = consul.keepRegistered(registration)
  }
}

function closeAfterResponse(_request: IncomingMessage, response: ServerResponse): void {
  response.setHeader('connection', 'close')
}

/**
 * The entry point's wrapper: a configuration or start-up error ends the process with one line
 * on stderr, not a stack trace.
 */
export async function main(start: () => Promise<void>): Promise<void> {
  try {
    await start()
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : `failed to start: ${(error as Error).message}`
    process.stderr.write(`${message}\n`)
    process.exit(1)
  }
}
