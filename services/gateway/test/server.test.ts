// The gateway as a child process, from its sources (`npm start`) and from its bundle (what the
// image runs, services/bundle.ts): the tracer provider is process-wide, and runService owns
// signals.
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { startService, type ServiceProcess, type StartOptions } from '../../../scripts/lib/service-process.ts'
import { bundleService } from '../../bundle.ts'
import { TraceSink } from '../../../test/support/trace-sink.ts'
import { echoServer, type Echo, type Running } from './support.ts'

const consulAddr = inject('consulAddr')

let upstream: Running
const started: ServiceProcess[] = []

type Script = NonNullable<StartOptions['script']>

async function startGateway(script: Script, env: Record<string, string>): Promise<ServiceProcess> {
  const gateway = await startService({ name: 'gateway', script, env: { DRAIN_DELAY_MS: '0', ...env }, readyTimeoutMs: 10_000 })
  started.push(gateway)
  return gateway
}

beforeAll(async () => {
  upstream = await echoServer('users-1')
  await bundleService(fileURLToPath(new URL('..', import.meta.url)))
})

const SCRIPTS: readonly (readonly [string, Script])[] = [
  ['sources', 'src/server.ts'],
  ['bundle', 'dist/server.js'],
]

afterEach(async () => {
  await Promise.all(started.splice(0).map((gateway) => gateway.stop('SIGKILL')))
})

afterAll(() => upstream?.close())

describe.each(SCRIPTS)('gateway process (%s) with tracing on', (_, script) => {
  const sink = new TraceSink()
  afterAll(() => sink.stop())

  it("sends the upstream one traceparent in the client's trace, drains on SIGTERM and exports its spans", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c'
    const clientSpan = 'b7ad6b7169203331'
    const gateway = await startGateway(script, {
      USER_SERVICE_URLS: upstream.url,
      ORDER_SERVICE_URLS: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: await sink.start(),
    })

    const response = await fetch(`${gateway.url}/users/1`, { headers: { traceparent: `00-${traceId}-${clientSpan}-01` } })
    expect(response.status).toBe(200)
    const seen = ((await response.json()) as Echo).headers.traceparent
    // The gateway's own span id, not the client's, and never both in one header.
    expect(seen).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
    expect(seen).not.toContain(clientSpan)

    // Spans are flushed by the graceful shutdown.
    expect(await gateway.stop('SIGTERM')).toBe(0)
    expect(gateway.lines.some((line) => line.includes('"message":"stopped"'))).toBe(true)
    const spans = sink.trace(traceId).filter((span) => span.service === 'gateway')
    expect(spans.some((span) => span.parentSpanId === clientSpan)).toBe(true)
  })
})

describe.skipIf(consulAddr === undefined).each(SCRIPTS)('gateway process (%s) registered in Consul', (_, script) => {
  const consul = consulAddr!

  /** This gateway's entry in the agent, once registered (runService registers after listening). */
  async function registration(port: number, present: boolean) {
    for (let tries = 0; ; tries++) {
      const services = (await (await fetch(`${consul}/v1/agent/services`)).json()) as Record<
        string,
        { Service: string; Port: number; Tags: string[] }
      >
      const found = Object.values(services).find((service) => service.Service === 'gateway' && service.Port === port)
      if ((found !== undefined) === present || tries >= 50) return found
      await sleep(100)
    }
  }

  it('publishes the Traefik tags with its instance, logs the registration once and leaves Consul on SIGTERM', async () => {
    const gateway = await startGateway(script, {
      CONSUL_HTTP_ADDR: consul,
      SERVICE_ADDRESS: '127.0.0.1',
      ROUTER_RULE: 'Host(`gateway.test`)',
    })

    expect((await registration(gateway.port, true))?.Tags).toEqual([
      'traefik.enable=true',
      'traefik.http.routers.gateway.rule=Host(`gateway.test`)',
      'traefik.http.routers.gateway.entrypoints=web',
      'traefik.http.services.gateway.loadbalancer.server.scheme=http',
    ])
    expect(await gateway.stop('SIGTERM')).toBe(0)
    expect(await registration(gateway.port, false)).toBeUndefined()
    expect(gateway.lines.filter((line) => line.includes('"message":"registered'))).toHaveLength(1)
  })
})
