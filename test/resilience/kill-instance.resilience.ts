// Scenario: one user-service instance is killed with SIGKILL (no drain, no deregistration) while
// the gateway serves GET load. The gateway must hide it completely: GETs are retried on the other
// instance after a refused or reset connection, the dead instance is ejected after a few
// failures, and Consul's 1 s HTTP check takes it out of the passing list for good.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDatabase, dropDatabase } from '../support/real-servers-helpers.ts'
import { PrivateConsul } from './support/consul.ts'
import { figures, startLoad } from './support/load.ts'
import { eventually, metric, report, scrape, Topology, type StartedService } from './support/topology.ts'

const postgresUrl = inject('postgresUrl')
const RATE = 250
const LOAD_MS = 20_000
const KILL_AT_MS = 4_000
const OUT_OF_ROTATION_MS = 10_000

describe.skipIf(!postgresUrl)('kill -9 of one user-service instance under load', () => {
  let consul: PrivateConsul
  let topology: Topology
  let gateway: StartedService
  let users: StartedService[]

  beforeAll(async () => {
    consul = await PrivateConsul.start()
    topology = new Topology(Topology.env(consul.url))
    const [usersDb, ordersDb] = await Promise.all([
      createDatabase(postgresUrl!, 'resilience_kill_users'),
      createDatabase(postgresUrl!, 'resilience_kill_orders'),
    ])
    users = await Promise.all([0, 1].map(() => topology.start('user-service', { DATABASE_URL: usersDb })))
    await Promise.all([0, 1].map(() => topology.start('order-service', { DATABASE_URL: ordersDb })))
    gateway = await topology.start('gateway')
    await eventually(async (seen) => {
      const passing = await consul.passingPorts('user-service')
      seen(`passing: ${passing.join(', ') || 'none'}`)
      return passing.length === 2 ? true : undefined
    }, 'both user-service instances passing')
    // Warm the gateway's pools to both instances.
    await eventually(async () => {
      for (let i = 0; i < 10; i++) await (await fetch(`${gateway.url}/users/1`)).arrayBuffer()
      const values = await scrape(gateway.url)
      return metric(values, 'upstream_instances', { upstream: 'user-service', state: 'healthy' }) === 2 ? true : undefined
    }, 'the gateway balancing over two user-service instances')
  })

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(topology.tails())
  })

  afterAll(async () => {
    await topology?.killAll()
    await consul?.close()
    await Promise.all([dropDatabase(postgresUrl!, 'resilience_kill_users'), dropDatabase(postgresUrl!, 'resilience_kill_orders')])
  })

  it(`serves ${LOAD_MS / 1000} s of GETs at ${RATE} req/s with 0 failures; the killed instance is out of rotation within ${OUT_OF_ROTATION_MS / 1000} s`, async () => {
    const paths = ['/users/1', '/users/2', '/users?limit=5']
    const load = startLoad({
      origins: () => [gateway.url],
      ratePerSecond: RATE,
      durationMs: LOAD_MS,
      request: (n) => ({ method: 'GET', path: paths[n % paths.length]! }),
    })

    await sleep(KILL_AT_MS)
    const victim = users[0]!
    const before = await scrape(gateway.url)
    const connectErrorsBefore = metric(before, 'upstream_requests_total', { upstream: 'user-service', outcome: 'connect_error' })
    const retriesBefore = metric(before, 'upstream_retries_total', { upstream: 'user-service' })
    const killedAt = performance.now()
    await victim.stop('SIGKILL')

    // Until the load ends: when Consul stops listing the victim as passing, and when the
    // gateway's connect_error count to user-service last increased.
    let criticalAfterMs: number | undefined
    let lastConnectErrorAfterMs = 0
    let connectErrors = connectErrorsBefore
    while (load.snapshot().sent < RATE * (LOAD_MS / 1000) && performance.now() - killedAt < LOAD_MS) {
      const now = performance.now() - killedAt
      if (criticalAfterMs === undefined && (await consul.statusOf('user-service', victim.port)) !== 'passing') criticalAfterMs = now
      const current = metric(await scrape(gateway.url), 'upstream_requests_total', { upstream: 'user-service', outcome: 'connect_error' })
      if (current > connectErrors) lastConnectErrorAfterMs = performance.now() - killedAt
      connectErrors = current
      await sleep(200)
    }
    const result = await load.done
    const values = await scrape(gateway.url)
    const healthy = metric(values, 'upstream_instances', { upstream: 'user-service', state: 'healthy' })
    const retries = metric(values, 'upstream_retries_total', { upstream: 'user-service' })
    const victimStatus = await consul.statusOf('user-service', victim.port)
    const loadAfterKillMs = result.elapsedMs - KILL_AT_MS

    report('kill -9 user-service', {
      ...figures(result),
      consulCriticalAfterMs: criticalAfterMs === undefined ? 'never' : Math.round(criticalAfterMs),
      connectErrors: connectErrors - connectErrorsBefore,
      lastConnectErrorAfterMs: Math.round(lastConnectErrorAfterMs),
      loadAfterKillMs,
      gatewayRetries: retries - retriesBefore,
      healthyUserInstances: healthy,
    })

    expect(result.failures).toEqual([])
    expect(result.errorCount).toBe(0)
    expect(result.non2xx).toBe(0)
    expect(result.ok2xx).toBe(result.sent)
    // The whole advertised load was sent, on schedule: RATE for LOAD_MS, every request answered 2xx.
    expect(result.sent).toBe((RATE * LOAD_MS) / 1000)
    expect(result.elapsedMs).toBeGreaterThanOrEqual(LOAD_MS - 100)
    // Out of rotation within 10 s: Consul has it critical, the gateway stopped trying it, and
    // the load went on for a while after that without another connect_error.
    expect(criticalAfterMs).toBeDefined()
    expect(criticalAfterMs!).toBeLessThanOrEqual(OUT_OF_ROTATION_MS)
    expect(victimStatus).not.toBe('passing')
    expect(lastConnectErrorAfterMs).toBeLessThanOrEqual(OUT_OF_ROTATION_MS)
    expect(loadAfterKillMs - lastConnectErrorAfterMs).toBeGreaterThanOrEqual(5_000)
    expect(healthy).toBe(1)
  })
})
