// The Consul client against the real agent the global setup starts (test/support/real-servers.ts).
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { describe, expect, inject, it, vi } from 'vitest'
import { ConsulClient } from '../src/discovery/index.ts'
import { fixtures, registration } from './discovery-support.ts'

const consulAddr = inject('consulAddr')

const { cleanups, listen, client } = fixtures()

/** A stand-in service instance whose /health/ready answers `status`. */
async function fakeInstance() {
  const state = { status: 200 }
  const server = createServer((request, response) => {
    response.statusCode = request.url === '/health/ready' ? state.status : 404
    response.end()
  })
  const port = await listen(server)
  return { port, state }
}

describe.skipIf(consulAddr === undefined)('ConsulClient against a real Consul agent', () => {
  const address = consulAddr!

  it('resolver lists two registered instances, sorted by id, once their HTTP checks pass', async () => {
    const name = `kit-test-${randomBytes(3).toString('hex')}`
    const consul = client(address)
    const [a, b] = await Promise.all([fakeInstance(), fakeInstance()])
    const regA = registration(name, a.port)
    const regB = registration(name, b.port)
    await consul.register(regA)
    await consul.register(regB)
    cleanups.push(() => Promise.all([consul.deregister(regA.id), consul.deregister(regB.id)]))

    const resolver = consul.resolver(name, { waitSeconds: 5 })
    await resolver.ready(2_000)

    const expected = [regA, regB].sort((x, y) => (x.id < y.id ? -1 : 1)).map((reg) => ({ id: reg.id, url: `http://127.0.0.1:${reg.port}` }))
    await vi.waitFor(() => expect(resolver.instances()).toEqual(expected), { timeout: 8_000, interval: 50 })
  })

  it('resolver drops an instance whose check answers 503, then one that deregisters; with none passing it routes over the failing one unless the panic threshold is 0', async () => {
    const name = `kit-test-${randomBytes(3).toString('hex')}`
    const consul = client(address)
    const [a, b] = await Promise.all([fakeInstance(), fakeInstance()])
    const regA = registration(name, a.port)
    const regB = registration(name, b.port)
    await consul.register(regA)
    await consul.register(regB)
    cleanups.push(() => consul.deregister(regA.id))
    const resolver = consul.resolver(name, { waitSeconds: 5 })
    const strict = consul.resolver(name, { waitSeconds: 5, panicThresholdPercent: 0 })
    await vi.waitFor(() => expect(resolver.instances()).toHaveLength(2), { timeout: 8_000, interval: 50 })

    a.state.status = 503
    // One of two passing is not below the default 50 % threshold: only the passing one serves.
    await vi.waitFor(() => expect(resolver.instances().map((i) => i.id)).toEqual([regB.id]), { timeout: 8_000, interval: 50 })
    await vi.waitFor(() => expect(strict.instances().map((i) => i.id)).toEqual([regB.id]), { timeout: 8_000, interval: 50 })

    await consul.deregister(regB.id)
    await vi.waitFor(() => expect(strict.instances()).toEqual([]), { timeout: 5_000, interval: 50 })
    // Below the panic threshold (none of the one known instance passes): all known ones serve.
    await vi.waitFor(() => expect(resolver.instances().map((i) => i.id)).toEqual([regA.id]), { timeout: 5_000, interval: 50 })
  })

  it('close() returns within 1 s while a 30 s blocking query is in flight', async () => {
    const consul = new ConsulClient({ address })
    const resolver = consul.resolver(`kit-test-${randomBytes(3).toString('hex')}`, { waitSeconds: 30 })
    await resolver.ready(2_000)
    // Give the loop time to send the blocking query that follows the first answer.
    await new Promise((resolve) => setTimeout(resolve, 100))

    const started = performance.now()
    await consul.close()

    expect(performance.now() - started).toBeLessThan(1_000)
    expect(() => consul.resolver('anything')).toThrow(/closed/)
  })

  it('register with an invalid check interval rejects naming the Consul status and its reason', async () => {
    const consul = client(address)
    const bad = registration('kit-test-bad', 1)

    await expect(consul.register({ ...bad, check: { ...bad.check, interval: 'soon' } })).rejects.toThrow(
      /^Consul register kit-test-bad-.* failed: 400 .*soon/,
    )
  })

  it('deregister of an id Consul does not know resolves, so shutdown never fails on it', async () => {
    await expect(client(address).deregister(`kit-test-unknown-${randomBytes(3).toString('hex')}`)).resolves.toBeUndefined()
  })

  it('keepRegistered registers an instance again once the agent has lost it, and not after stop()', async () => {
    const consul = client(address)
    const { port } = await fakeInstance()
    const reg = registration(`kit-test-${randomBytes(3).toString('hex')}`, port)
    await consul.register(reg)
    cleanups.push(() => consul.deregister(reg.id))
    const kept = consul.keepRegistered(reg, { intervalMs: 50, retryMs: 50 })
    cleanups.push(() => kept.stop())

    // What a restarted dev agent looks like to the instance: its registration is gone.
    await client(address).deregister(reg.id)
    await vi.waitFor(async () => expect(await consul.isRegistered(reg.id)).toBe(true), { timeout: 3_000, interval: 20 })

    await kept.stop()
    await consul.deregister(reg.id)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await consul.isRegistered(reg.id)).toBe(false)
  })
})
