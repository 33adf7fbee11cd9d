// Scenario: 1,000 malformed requests straight to each data service and 1,000 through the gateway.
// Every answer must be a 4xx with the kit's JSON error body (statusCode, error, message), never a
// 5xx or a dropped connection; not one row may be written; every service stays ready.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { Pool } from 'undici'
import { createDatabase, dropDatabase } from '../support/real-servers-helpers.ts'
import { PrivateConsul } from './support/consul.ts'
import { gatewayOnlyRequests, malformedRequests, type MalformedRequest } from './support/malformed.ts'
import { eventually, report, tableFingerprint, Topology, type StartedService, untilAnswers } from './support/topology.ts'

const postgresUrl = inject('postgresUrl')
const COUNT = 1_000
const CONCURRENCY = 8

interface Outcome {
  readonly sent: number
  readonly statuses: Record<number, number>
  /** Answers that break the contract, and requests without an answer. */
  readonly violations: string[]
  readonly violationCount: number
}

/** Sends every request (CONCURRENCY at a time) and checks each answer against the error contract. */
async function send(origin: string, requests: readonly MalformedRequest[]): Promise<Outcome> {
  const pool = new Pool(origin, { connections: CONCURRENCY, keepAliveTimeout: 4_000 })
  const statuses: Record<number, number> = {}
  const violations: string[] = []
  let violationCount = 0
  const violation = (request: MalformedRequest, problem: string) => {
    violationCount += 1
    if (violations.length < 20) violations.push(`${request.method} ${request.path.slice(0, 80)} (${request.what}): ${problem}`)
  }
  let next = 0
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++]!
      try {
        const response = await pool.request({
          method: request.method,
          path: request.path,
          headers: request.headers,
          body: typeof request.body === 'function' ? request.body() : request.body,
          signal: AbortSignal.timeout(10_000),
        })
        const text = await response.body.text()
        const status = response.statusCode
        statuses[status] = (statuses[status] ?? 0) + 1
        if (status < 400 || status >= 500) {
          violation(request, `status ${status}: ${text.slice(0, 120)}`)
          continue
        }
        if (!String(response.headers['content-type']).startsWith('application/json')) {
          violation(request, `content-type ${String(response.headers['content-type'])}`)
          continue
        }
        let body: { statusCode?: unknown; error?: unknown; message?: unknown }
        try {
          body = JSON.parse(text) as typeof body
        } catch {
          violation(request, `not JSON: ${text.slice(0, 120)}`)
          continue
        }
        if (body.statusCode !== status || typeof body.error !== 'string' || typeof body.message !== 'string' || body.message === '') {
          violation(request, `not the error body: ${text.slice(0, 120)}`)
        }
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name
        violation(request, `no answer: ${code} ${(error as Error).message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await pool.close()
  return { sent: requests.length, statuses, violations, violationCount }
}

function summary(outcome: Outcome): Record<string, unknown> {
  const count = (test: (status: number) => boolean) =>
    Object.entries(outcome.statuses).reduce((sum, [status, n]) => (test(Number(status)) ? sum + n : sum), 0)
  return {
    sent: outcome.sent,
    '4xx': count((status) => status >= 400 && status < 500),
    '5xx': count((status) => status >= 500),
    other: count((status) => status < 400 || status >= 600),
    violations: outcome.violationCount,
    statuses: outcome.statuses,
  }
}

describe.skipIf(!postgresUrl)('malformed requests to each service and through the gateway', () => {
  let consul: PrivateConsul
  let topology: Topology
  let user: StartedService
  let order: StartedService
  let gateway: StartedService
  let usersDb: string
  let ordersDb: string

  beforeAll(async () => {
    consul = await PrivateConsul.start()
    topology = new Topology(Topology.env(consul.url))
    ;[usersDb, ordersDb] = await Promise.all([
      createDatabase(postgresUrl!, 'resilience_malformed_users'),
      createDatabase(postgresUrl!, 'resilience_malformed_orders'),
    ])
    user = await topology.start('user-service', { DATABASE_URL: usersDb })
    order = await topology.start('order-service', { DATABASE_URL: ordersDb })
    gateway = await topology.start('gateway')
    await untilAnswers(`${gateway.url}/users/1/orders`, 'the gateway routing')
    await eventually(
      async () =>
        (
          await fetch(`${order.url}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ userId: 1999999999, item: 'probe', price: 1 }),
          })
        ).status === 422
          ? true
          : undefined,
      'order-service reaching user-service',
    )
  })

  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(topology.tails())
  })

  afterAll(async () => {
    await topology?.killAll()
    await consul?.close()
    await Promise.all([dropDatabase(postgresUrl!, 'resilience_malformed_users'), dropDatabase(postgresUrl!, 'resilience_malformed_orders')])
  })

  it('answers 3 × 1,000 malformed requests with 4xx JSON errors only, writes no row, and stays ready', async () => {
    const before = await Promise.all([tableFingerprint(usersDb, 'users'), tableFingerprint(ordersDb, 'orders')])

    const toUsers = await send(user.url, malformedRequests('user-service', COUNT, 1))
    const toOrders = await send(order.url, malformedRequests('order-service', COUNT, 2))
    const viaGateway = malformedRequests('user-service', COUNT / 2, 3).flatMap((request, i) => [
      request,
      malformedRequests('order-service', COUNT / 2, 4)[i]!,
    ])
    viaGateway.splice(0, gatewayOnlyRequests().length * 2, ...gatewayOnlyRequests(), ...gatewayOnlyRequests())
    const throughGateway = await send(gateway.url, viaGateway.slice(0, COUNT))

    const after = await Promise.all([tableFingerprint(usersDb, 'users'), tableFingerprint(ordersDb, 'orders')])
    const ready = await Promise.all([user, order, gateway].map(async (service) => (await fetch(`${service.url}/health/ready`)).status))
    const working = (await fetch(`${gateway.url}/users/1/orders`)).status

    report('malformed user-service', summary(toUsers))
    report('malformed order-service', summary(toOrders))
    report('malformed via gateway', summary(throughGateway))
    report('malformed rows', {
      usersBefore: before[0].rows,
      usersAfter: after[0].rows,
      ordersBefore: before[1].rows,
      ordersAfter: after[1].rows,
    })

    for (const outcome of [toUsers, toOrders, throughGateway]) {
      expect(outcome.sent).toBe(COUNT)
      expect(outcome.violations).toEqual([])
      expect(Object.keys(outcome.statuses).filter((status) => Number(status) >= 500)).toEqual([])
    }
    expect(after).toEqual(before)
    expect(ready).toEqual([200, 200, 200])
    expect(working).toBe(200)
    expect(topology.alive()).toHaveLength(3)
  })
})
