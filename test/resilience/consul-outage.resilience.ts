// Scenario: the Consul agent is stopped for 30 s under load, then started again. Consul is only
// the source of the instance lists, never on the request path: while it is down the gateway and
// order-service keep their last known lists, so no request may fail. The agent runs in dev mode
// and comes back empty, so every instance must register again by itself (the kit checks its
// registration and re-registers), and an instance started afterwards must get traffic quickly.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDatabase, dropDatabase } from '../support/real-servers-helpers.ts'
import { PrivateConsul } from './support/consul.ts'
import { figures, startLoad, type LoadRequest } from './support/load.ts'
import { eventually, metric, report, scrape, Topology, type StartedService, untilAnswers } from './support/topology.ts'

const postgresUrl = inject('postgresUrl')
const RATE = 200
const STOP_AT_MS = 3_000
const OUTAGE_MS = 30_000
const NEW_INSTANCE_TRAFFIC_MS = 10_000

describe.skipIf(!postgresUrl)('Consul agent stopped for 30 s under load', () => {
  let consul: PrivateConsul
  let topology: Topology
  let gateway: StartedService
  let usersDb: string

  beforeAll(async () => {
    consul = await PrivateConsul.start()
    topology = new Topology(Topology.env(consul.url))
    let ordersDb: string
    ;[usersDb, ordersDb] = await Promise.all([
      createDatabase(postgresUrl!, 'resilience_consul_users'),
      createDatabase(postgresUrl!, 'resilience_consul_orders'),
    ])
    await Promise.all([0, 1].map(() => topology.start('user-service', { DATABASE_URL: usersDb })))
    await Promise.all([0, 1].map(() => topology.start('order-service', { DATABASE_URL: ordersDb })))
    gateway = await topology.start('gateway')
    await eventually(async () => {
      const [users, orders] = await Promise.all([consul.passingPorts('user-service'), consul.passingPorts('order-service')])
      return users.length === 2 && orders.length === 2 ? true : undefined
    }, 'two user-service and two order-service instances passing')
    await untilAnswers(`${gateway.url}/users/1/orders`, 'the gateway routing')
  })

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(topology.tails())
  })

  afterAll(async () => {
    await topology?.killAll()
    await consul?.close()
    await Promise.all([dropDatabase(postgresUrl!, 'resilience_consul_users'), dropDatabase(postgresUrl!, 'resilience_consul_orders')])
  })

  it('answers every request during a 30 s Consul outage and after it; instances re-register and a new one gets traffic within 10 s', async () => {
    const mix: LoadRequest[] = [
      { method: 'GET', path: '/users/1' },
      { method: 'GET', path: '/orders?userId=1' },
      { method: 'GET', path: '/users/1/orders' },
      { method: 'GET', path: '/users?limit=5' },
      // order-service asks user-service (through its own discovery) before writing.
      { method: 'POST', path: '/orders', body: JSON.stringify({ userId: 2, item: 'Cable', price: 9.99 }) },
    ]
    const load = startLoad({
      origins: () => [gateway.url],
      ratePerSecond: RATE,
      durationMs: 70_000,
      request: (n) => mix[n % mix.length]!,
    })

    await sleep(STOP_AT_MS)
    await consul.pause()
    const stoppedAt = performance.now()
    const beforeOutage = load.snapshot()
    await sleep(OUTAGE_MS)
    const duringOutage = load.snapshot()
    await consul.resume()
    const backAt = performance.now()

    // Every original instance registers again by itself and passes its check.
    const original = topology.alive()
    await eventually(
      async () => {
        const ports = new Set([
          ...(await consul.passingPorts('user-service')),
          ...(await consul.passingPorts('order-service')),
          ...(await consul.passingPorts('gateway')),
        ])
        return original.every((service) => ports.has(service.port)) ? true : undefined
      },
      'every instance registered again and passing',
      30_000,
      100,
    )
    const reregisteredAfterMs = Math.round(performance.now() - backAt)

    // A new instance, started now, gets some of the gateway's /users/:id traffic.
    const fresh = await topology.start('user-service', { DATABASE_URL: usersDb })
    await eventually(
      async () => (metric(await scrape(fresh.url), 'http_request_duration_seconds_count', { route: '/users/:id' }) > 0 ? true : undefined),
      'the new instance serving gateway traffic',
      30_000,
      50,
    )
    const trafficAt = performance.now()
    const newTrafficAfterReadyMs = Math.round(trafficAt - fresh.readyAt)
    const newTrafficAfterBackMs = Math.round(trafficAt - backAt)

    // A little more load with the new instance in rotation, then stop.
    await sleep(3_000)
    load.stop()
    const result = await load.done

    report('consul outage', {
      ...figures(result),
      outageMs: Math.round(backAt - stoppedAt),
      sentDuringOutage: duringOutage.sent - beforeOutage.sent,
      failedDuringOutage: duringOutage.errorCount + duringOutage.non2xx - beforeOutage.errorCount - beforeOutage.non2xx,
      reregisteredAfterMs,
      newInstanceTrafficAfterReadyMs: newTrafficAfterReadyMs,
      newInstanceTrafficAfterConsulBackMs: newTrafficAfterBackMs,
    })

    expect(result.failures).toEqual([])
    expect(result.errorCount).toBe(0)
    expect(result.non2xx).toBe(0)
    expect(backAt - stoppedAt).toBeGreaterThanOrEqual(OUTAGE_MS)
    expect(newTrafficAfterReadyMs).toBeLessThanOrEqual(NEW_INSTANCE_TRAFFIC_MS)
  })
})
