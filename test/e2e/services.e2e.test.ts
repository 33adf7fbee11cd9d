import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startService, type ServiceProcess } from '../../scripts/lib/service-process.ts'
import { startPrism, type ContractProxy } from '../support/prism.ts'
import { createDatabase, dropDatabase } from '../support/real-servers-helpers.ts'
import { TraceSink } from '../support/trace-sink.ts'
import { eventually, untilAnswers } from '../support/wait.ts'

const postgresUrl = inject('postgresUrl')
const consulAddr = inject('consulAddr')

describe.skipIf(!postgresUrl || !consulAddr)('the three services as processes, on PostgreSQL and Consul', () => {
  const sink = new TraceSink()
  const started: ServiceProcess[] = []
  let gateway: ServiceProcess
  let user: ServiceProcess
  let order: ServiceProcess
  // Every API call of the scenario goes through Prism, which holds it to the gateway's document.
  let api: ContractProxy

  beforeAll(async () => {
    const endpoint = await sink.start()
    const common = {
      CONSUL_HTTP_ADDR: consulAddr,
      SERVICE_ADDRESS: '127.0.0.1',
      CONSUL_CHECK_INTERVAL: '1s',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      DRAIN_DELAY_MS: '300',
      LOG_LEVEL: 'info',
    }
    const [usersDb, ordersDb] = await Promise.all([createDatabase(postgresUrl!, 'e2e_users'), createDatabase(postgresUrl!, 'e2e_orders')])
    user = await startService({ name: 'user-service', env: { ...common, DATABASE_URL: usersDb } })
    started.push(user)
    order = await startService({ name: 'order-service', env: { ...common, DATABASE_URL: ordersDb } })
    started.push(order)
    gateway = await startService({ name: 'gateway', env: common })
    started.push(gateway)
    // The gateway learns the others from Consul once their checks pass.
    await untilAnswers(`${gateway.url}/users/1/orders`, 'discovery')
    api = await startPrism(`${gateway.url}/openapi.json`, gateway.url)
  }, 120_000)

  afterAll(async () => {
    await api?.stop()
    await Promise.all(started.map((service) => service.stop('SIGKILL')))
    await sink.stop()
    await Promise.all([dropDatabase(postgresUrl!, 'e2e_users'), dropDatabase(postgresUrl!, 'e2e_orders')])
  })

  it('answers GET /users through the gateway with the seeded Alice and Bob', async () => {
    const response = await api.fetch('/users')
    expect(response.status).toBe(200)
    const users = (await response.json()) as { id: number; name: string }[]
    expect(users.map(({ id, name }) => ({ id, name }))).toEqual([
      { id: 1, name: 'Alice' },
      { id: 2, name: 'Bob' },
    ])
  })

  it('aggregates GET /users/1/orders from both services', async () => {
    const response = await api.fetch('/users/1/orders')
    expect(response.status).toBe(200)
    const body = (await response.json()) as { name: string; orders: { item: string; price: number }[] }
    expect(body.name).toBe('Alice')
    expect(body.orders).toEqual([expect.objectContaining({ item: 'Laptop', price: 1200 })])
  })

  it('registers every instance in Consul, the gateway with the tags Traefik reads', async () => {
    for (const service of ['user-service', 'order-service', 'gateway']) {
      // A new instance is critical until its first check has run.
      await eventually(async () => {
        const entries = (await (await fetch(`${consulAddr}/v1/health/service/${service}?passing=true`)).json()) as unknown[]
        return entries.length === 1 ? true : undefined
      }, `${service} passing in Consul`)
    }
    const [gatewayEntry] = (await (await fetch(`${consulAddr}/v1/catalog/service/gateway`)).json()) as {
      ServiceTags: string[]
      ServicePort: number
    }[]
    expect(gatewayEntry?.ServiceTags).toContain('traefik.enable=true')
    expect(gatewayEntry?.ServicePort).toBe(gateway.port)
  })

  it('rejects an order for a missing user with 422 naming body.userId, through the gateway', async () => {
    const response = await api.fetch('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 999, item: 'Ghost', price: 1 }),
    })
    expect(response.status).toBe(422)
    expect(await response.json()).toMatchObject({ statusCode: 422, field: 'body.userId' })
  })

  it('traces one request across gateway, order-service and user-service under one trace id, also in the logs', async () => {
    const traceId = randomBytes(16).toString('hex')
    const response = await api.fetch('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify({ userId: 2, item: 'Headphones', price: 199.99, quantity: 2 }),
    })
    expect(response.status).toBe(201)

    // Spans leave in batches; on a loaded machine the last batch can take a while.
    const services = await eventually(
      async (seen) => {
        const services = new Set(sink.trace(traceId).map((span) => span.service))
        seen(`spans from ${[...services].join(', ') || 'no service'}`)
        return services.size === 3 ? services : undefined
      },
      'spans from all three services',
      40_000,
    )
    expect([...services].sort()).toEqual(['gateway', 'order-service', 'user-service'])
    // Every span but the client's root has its parent inside the same trace.
    const spans = sink.trace(traceId)
    const ids = new Set(spans.map((span) => span.spanId))
    const orphans = spans.filter((span) => span.parentSpanId !== undefined && !ids.has(span.parentSpanId))
    expect(orphans).toHaveLength(1)

    for (const service of [gateway, order, user]) {
      const lines = service.lines.filter((line) => line.includes(`"trace.id":"${traceId}"`))
      expect(lines.length, `${service.name} log lines with trace.id`).toBeGreaterThan(0)
      expect(JSON.parse(lines[0]!)).toMatchObject({ 'service.name': service.name, 'span.id': expect.any(String) })
    }
  }, 60_000)

  it('sent every request of the scenario through Prism, which found none outside the document', () => {
    expect(api.calls).toEqual(['GET /users', 'GET /users/1/orders', 'POST /orders', 'POST /orders'])
    expect(api.violations, api.lines.slice(-20).join('\n')).toEqual([])
  })

  it('drains on SIGTERM: readiness turns 503, the instance leaves Consul, the process exits 0', async () => {
    const extra = await startService({
      name: 'user-service',
      env: { CONSUL_HTTP_ADDR: consulAddr, SERVICE_ADDRESS: '127.0.0.1', DRAIN_DELAY_MS: '1500', SEED_DATA: 'false' },
    })
    started.push(extra)
    await eventually(async () => {
      const entries = (await (await fetch(`${consulAddr}/v1/health/service/user-service`)).json()) as unknown[]
      return entries.length === 2 ? true : undefined
    }, 'second user-service registered')

    const began = Date.now()
    const exited = extra.stop('SIGTERM')
    const draining = await eventually(
      async () => {
        const response = await fetch(`${extra.url}/health/ready`)
        return response.status === 503 ? response.json() : undefined
      },
      'readiness 503',
      1500,
    )
    expect(draining).toEqual({ status: 'draining', checks: {} })
    const entries = (await (await fetch(`${consulAddr}/v1/health/service/user-service`)).json()) as unknown[]
    expect(entries).toHaveLength(1)
    expect(await exited).toBe(0)
    expect(Date.now() - began).toBeGreaterThanOrEqual(1500)
  })
})

describe('a service started with a bad environment variable', () => {
  it('stops with exit code 1 and one line naming the variable', () => {
    const result = spawnSync(process.execPath, ['src/server.ts'], {
      cwd: fileURLToPath(new URL('../../services/user-service/', import.meta.url)),
      env: { PATH: process.env.PATH, PORT: 'eighty' },
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(result.status).toBe(1)
    expect(result.stderr.trim().split('\n')).toEqual(['invalid environment variable PORT="eighty": must be integer (port to listen on)'])
  })
})
