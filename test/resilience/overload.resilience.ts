// Scenario: overload past the under-pressure threshold. A user-service with a low
// MAX_EVENT_LOOP_DELAY_MS gets requests that are expensive to refuse: bodies just under the 1 MiB
// limit holding tens of thousands of keys, which the service must scan and parse before its
// schema turns them down. That blocks its event loop for milliseconds per request, as any real
// burst of heavy requests would; no production code path is changed. The service must shed load
// with 503 + Retry-After instead of queueing it, stay alive, and answer 200 again once the
// burst is over.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { Pool } from 'undici'
import { createDatabase, dropDatabase } from '../support/real-servers-helpers.ts'
import { report, Topology, type StartedService, untilAnswers } from './support/topology.ts'

const postgresUrl = inject('postgresUrl')
const MAX_EVENT_LOOP_DELAY_MS = 5
const BURST_MS = 8_000
const BURST_MAX_REQUESTS = 4_000
const CONCURRENCY = 12

/** About 1000 KiB of JSON with ~70,000 keys: valid JSON, under the body limit, refused by the schema. */
function heavyBody(): string {
  const keys: string[] = ['"name":"Heavy"', '"email":"heavy@example.com"']
  for (let i = 0, length = 50; length < 1_000_000; i++) {
    const key = `"k${i}":${i}`
    keys.push(key)
    length += key.length + 1
  }
  return `{${keys.join(',')}}`
}

describe.skipIf(!postgresUrl)('overload past the under-pressure threshold', () => {
  let topology: Topology
  let user: StartedService

  beforeAll(async () => {
    // No Consul: one instance, called directly; the threshold is the only thing under test.
    topology = new Topology({ ...Topology.env(undefined), MAX_EVENT_LOOP_DELAY_MS: String(MAX_EVENT_LOOP_DELAY_MS) })
    const usersDb = await createDatabase(postgresUrl!, 'resilience_overload_users')
    user = await topology.start('user-service', { DATABASE_URL: usersDb })
  })

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(topology.tails())
  })

  afterAll(async () => {
    await topology?.killAll()
    await dropDatabase(postgresUrl!, 'resilience_overload_users')
  })

  it('sheds a burst with 503 + Retry-After, stays alive, and answers 200 again once the burst is over', async () => {
    // Calm before: the threshold alone does not shed anything.
    for (let i = 0; i < 20; i++) expect((await fetch(`${user.url}/users/1`)).status).toBe(200)

    const body = heavyBody()
    const pool = new Pool(user.url, { connections: CONCURRENCY + 2 })
    const statuses: Record<number, number> = {}
    const errors: Record<string, number> = {}
    let withRetryAfter = 0
    let sheddingJson = 0
    let sent = 0
    const started = performance.now()
    const burst = async () => {
      while (performance.now() - started < BURST_MS && sent < BURST_MAX_REQUESTS) {
        sent += 1
        try {
          const response = await pool.request({
            method: 'POST',
            path: '/users',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(10_000),
          })
          const text = await response.body.text()
          statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1
          if (response.statusCode === 503) {
            if (Number(response.headers['retry-after']) > 0) withRetryAfter += 1
            if ((JSON.parse(text) as { statusCode?: number }).statusCode === 503) sheddingJson += 1
          }
        } catch (error) {
          const code = (error as { code?: string }).code ?? (error as Error).name
          errors[code] = (errors[code] ?? 0) + 1
        }
      }
    }
    // Light GETs alongside the burst, as other clients would send, and the readiness probe, as
    // Consul or Kubernetes would: overloaded, it must say 503 (with Retry-After), never 500.
    const probes: number[] = []
    const readiness: string[] = []
    const probe = async () => {
      while (performance.now() - started < BURST_MS) {
        const response = await fetch(`${user.url}/users/1`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
        probes.push(response?.status ?? 0)
        await response?.arrayBuffer()
        const ready = await fetch(`${user.url}/health/ready`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
        readiness.push(`${ready?.status ?? 0}${ready?.headers.get('retry-after') === null ? '' : '+retry-after'}`)
        await ready?.arrayBuffer()
        await sleep(100)
      }
    }
    await Promise.all([...Array.from({ length: CONCURRENCY }, burst), probe()])
    await pool.close()
    const burstEnded = performance.now()

    // Once the burst is over the next samples are calm again.
    await untilAnswers(`${user.url}/users/1`, 'a 200 after the burst')
    const recoveredAfterMs = Math.round(performance.now() - burstEnded)
    const calm: number[] = []
    for (let i = 0; i < 20; i++) calm.push((await fetch(`${user.url}/users/1`)).status)
    const live = (await fetch(`${user.url}/health/live`)).status

    report('overload', {
      sent,
      statuses,
      errors: Object.values(errors).reduce((sum, n) => sum + n, 0),
      shed503: statuses[503] ?? 0,
      withRetryAfter,
      probe503: probes.filter((status) => status === 503).length,
      probes: probes.length,
      readiness: Object.fromEntries([...new Set(readiness)].map((answer) => [answer, readiness.filter((seen) => seen === answer).length])),
      recoveredAfterMs,
      alive: user.child.exitCode === null,
    })

    expect(statuses[503] ?? 0).toBeGreaterThan(0)
    expect(withRetryAfter).toBe(statuses[503])
    expect(sheddingJson).toBe(statuses[503])
    // Everything else was the schema's 400: nothing crashed, nothing else failed.
    expect(
      Object.keys(statuses)
        .map(Number)
        .filter((status) => status !== 400 && status !== 503),
    ).toEqual([])
    expect(errors).toEqual({})
    expect(readiness.filter((answer) => answer !== '200' && answer !== '503+retry-after')).toEqual([])
    expect(user.child.exitCode).toBeNull()
    expect(live).toBe(200)
    expect(calm).toEqual(Array.from({ length: 20 }, () => 200))
    expect(recoveredAfterMs).toBeLessThan(10_000)
  })
})
