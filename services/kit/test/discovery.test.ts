import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { describe, expect, it, vi } from 'vitest'
import { freePort } from '../../../test/support/real-servers-helpers.ts'
import { ConsulClient, instanceId, staticResolver } from '../src/discovery/index.ts'
import { fixtures, registration } from './discovery-support.ts'

const { cleanups, listen, client } = fixtures()

describe('staticResolver', () => {
  it('staticResolver with two URLs lists their origins in order, ids equal to the URLs, ready at once', async () => {
    const resolver = staticResolver(['http://10.0.0.5:3001/', 'http://10.0.0.6:3001'])

    await resolver.ready(0)

    expect(resolver.instances()).toEqual([
      { id: 'http://10.0.0.5:3001', url: 'http://10.0.0.5:3001' },
      { id: 'http://10.0.0.6:3001', url: 'http://10.0.0.6:3001' },
    ])
    expect(resolver.instances()).toBe(resolver.instances())
  })

  it('staticResolver with a URL that has a path or is not a URL throws naming that URL', () => {
    expect(() => staticResolver(['http://ok:1', 'http://10.0.0.5:3001/users'])).toThrow(/"http:\/\/10\.0\.0\.5:3001\/users"/)
    expect(() => staticResolver(['10.0.0.5:3001'])).toThrow(/"10\.0\.0\.5:3001"/)
    expect(() => staticResolver([])).toThrow(/at least one/)
  })
})

describe('ConsulClient', () => {
  it('ConsulClient with an address that is not an http(s) URL throws naming it', () => {
    expect(() => new ConsulClient({ address: 'localhost:8500' })).toThrow(/"localhost:8500"/)
  })
})

describe('instanceId', () => {
  it('instanceId for the same name, host and port twice gives two different ids naming all three', () => {
    const first = instanceId('user-service', 'fe80::1', 3001)
    const second = instanceId('user-service', 'fe80::1', 3001)

    expect(first).toMatch(/^user-service-fe80--1-3001-[0-9a-f]{8}$/)
    expect(second).not.toBe(first)
  })
})

/** A scripted stand-in for the Consul HTTP API, recording what it was asked. */
async function fakeConsul(answer: (request: { url: string; count: number }, response: ServerResponse) => void, port = 0) {
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = []
  const server = createServer((request, response) => {
    seen.push({ method: request.method!, url: request.url!, headers: request.headers })
    request.resume()
    request.once('end', () => answer({ url: request.url!, count: seen.length }, response))
  })
  const boundPort = await listen(server, port)
  return { seen, server, port: boundPort, address: `http://127.0.0.1:${boundPort}` }
}

function health(response: ServerResponse, index: number, entries: unknown[]) {
  response.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': String(index) })
  response.end(JSON.stringify(entries))
}

const entryA = { Node: { Address: '10.0.0.1' }, Service: { ID: 'a', Address: '', Port: 3001 } }
const entryB = { Node: { Address: '10.0.0.1' }, Service: { ID: 'b', Address: '10.0.0.2', Port: 3002 } }
const entryC = {
  Node: { Address: '10.0.0.3' },
  Service: { ID: 'c', Address: '', Port: 3001 },
  Checks: [
    { CheckID: 'serfHealth', Status: 'passing' },
    { CheckID: 'service:c', Status: 'passing' },
  ],
}

/** The entry with its own check critical, as Consul lists an instance whose /health/ready fails. */
function failing<T extends { Service: { ID: string } }>(entry: T) {
  return {
    ...entry,
    Checks: [
      { CheckID: 'serfHealth', Status: 'passing' },
      { CheckID: `service:${entry.Service.ID}`, Status: 'critical' },
    ],
  }
}

/** The entry in maintenance mode (`consul maint -enable -service <id>`). */
function maintenance<T extends { Service: { ID: string } }>(entry: T) {
  return {
    ...entry,
    Checks: [
      { CheckID: `_service_maintenance:${entry.Service.ID}`, Status: 'critical' },
      { CheckID: `service:${entry.Service.ID}`, Status: 'passing' },
    ],
  }
}

describe('ConsulClient against a scripted agent', () => {
  it('register, deregister and the resolver send X-Consul-Token when a token is set, and none without', async () => {
    const fake = await fakeConsul(({ url }, response) => {
      if (url.startsWith('/v1/health/')) health(response, 7, [])
      else response.end()
    })
    const withToken = client(fake.address, 's3cret')
    await withToken.register(registration('svc', 3001))
    await withToken.deregister('svc-1')
    await withToken.resolver('svc', { waitSeconds: 1 }).ready(1_000)
    await client(fake.address).deregister('svc-2')

    const tokens = fake.seen.map((call) => [call.method, call.url.split('?')[0], call.headers['x-consul-token']])
    expect(tokens.slice(0, 3)).toEqual([
      ['PUT', '/v1/agent/service/register', 's3cret'],
      ['PUT', '/v1/agent/service/deregister/svc-1', 's3cret'],
      ['GET', '/v1/health/service/svc', 's3cret'],
    ])
    expect(tokens.find((call) => call[1] === '/v1/agent/service/deregister/svc-2')).toEqual([
      'PUT',
      '/v1/agent/service/deregister/svc-2',
      undefined,
    ])
  })

  it('register answered 500 rejects naming the status and the body', async () => {
    const fake = await fakeConsul((_, response) => {
      response.statusCode = 500
      response.end('rpc error: no leader')
    })

    await expect(client(fake.address).register(registration('svc', 3001))).rejects.toThrow(
      /^Consul register svc-.* failed: 500 rpc error: no leader$/,
    )
  })

  it('resolver builds URLs from Service.Address or else Node.Address, and follows Consul index rules', async () => {
    // Answers: index 10, then 3 (backwards), then 0 (bogus); later queries block until closed.
    const indexes = [10, 3, 0]
    const fake = await fakeConsul(({ count }, response) => {
      if (count <= indexes.length) health(response, indexes[count - 1]!, [entryB, entryA])
    })
    const resolver = client(fake.address).resolver('svc', { waitSeconds: 5 })

    await resolver.ready(1_000)
    await vi.waitFor(() => expect(fake.seen).toHaveLength(4), { timeout: 2_000, interval: 10 })

    expect(resolver.instances()).toEqual([
      { id: 'a', url: 'http://10.0.0.1:3001' },
      { id: 'b', url: 'http://10.0.0.2:3002' },
    ])
    const sent = fake.seen.map((call) => new URL(call.url, 'http://x').searchParams)
    expect(sent.map((params) => params.get('index'))).toEqual(['0', '10', '0', '1'])
    // All instances with their checks: the resolver filters (and applies the panic rule) itself.
    expect(sent[0]!.get('passing')).toBeNull()
    expect(sent[0]!.get('wait')).toBe('5s')
  })

  it('resolver keeps the last known list while Consul is unreachable, then follows it again', async () => {
    const fake = await fakeConsul(({ count }, response) => {
      if (count === 1) health(response, 5, [entryA])
      // Later queries block (no answer) until the agent "dies".
    })
    const resolver = client(fake.address).resolver('svc', { waitSeconds: 5, retryMinMs: 20, retryMaxMs: 50 })
    await resolver.ready(1_000)
    const known = resolver.instances()
    expect(known).toHaveLength(1)

    fake.server.closeAllConnections()
    await new Promise((resolve) => fake.server.close(resolve))
    await new Promise((resolve) => setTimeout(resolve, 300))

    expect(resolver.instances()).toBe(known)
    const back = await fakeConsul((_, response) => health(response, 9, [entryA, entryB]), fake.port)
    await vi.waitFor(() => expect(resolver.instances().map((i) => i.id)).toEqual(['a', 'b']), { timeout: 2_000, interval: 10 })
    expect(back.seen.length).toBeGreaterThan(0)
  })

  it('resolver reads afresh (index 0) after Consul failed, and keeps a non-empty list over an empty answer from a restarted agent', async () => {
    const fake = await fakeConsul(({ count }, response) => {
      if (count === 1) health(response, 500, [entryA, entryB])
      // Later queries block until the agent "dies".
    })
    const resolver = client(fake.address).resolver('svc', { waitSeconds: 5, retryMinMs: 20, retryMaxMs: 50, emptyGraceMs: 400 })
    await resolver.ready(1_000)
    await vi.waitFor(() => expect(fake.seen).toHaveLength(2), { timeout: 1_000, interval: 10 })
    fake.server.closeAllConnections()
    await new Promise((resolve) => fake.server.close(resolve))

    // The agent comes back empty, as a dev agent does, then the instances re-register.
    let answers = 0
    const back = await fakeConsul(({ url }, response) => {
      answers += 1
      const index = Number(new URL(url, 'http://x').searchParams.get('index'))
      if (answers === 1) health(response, 12, [])
      else if (index === 12) setTimeout(() => health(response, 13, [entryA]), 100)
    }, fake.port)
    await vi.waitFor(() => expect(answers).toBeGreaterThanOrEqual(1), { timeout: 2_000, interval: 10 })
    expect(new URL(back.seen[0]!.url, 'http://x').searchParams.get('index')).toBe('0')
    expect(resolver.instances().map((i) => i.id)).toEqual(['a', 'b'])
    await vi.waitFor(() => expect(resolver.instances().map((i) => i.id)).toEqual(['a']), { timeout: 2_000, interval: 10 })
  })

  it('resolver applies an empty answer from a restarted agent once emptyGraceMs has passed', async () => {
    const fake = await fakeConsul(({ count }, response) => {
      if (count === 1) health(response, 500, [entryA])
    })
    const resolver = client(fake.address).resolver('svc', { waitSeconds: 1, retryMinMs: 20, retryMaxMs: 50, emptyGraceMs: 300 })
    await resolver.ready(1_000)
    await vi.waitFor(() => expect(fake.seen).toHaveLength(2), { timeout: 1_000, interval: 10 })
    fake.server.closeAllConnections()
    await new Promise((resolve) => fake.server.close(resolve))

    // Nothing ever registers again: after the grace, "none" is believed.
    await fakeConsul((_, response) => setTimeout(() => health(response, 12, []), 50), fake.port)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(resolver.instances()).toHaveLength(1)
    await vi.waitFor(() => expect(resolver.instances()).toEqual([]), { timeout: 2_000, interval: 10 })
  })

  it('resolver routes over the passing instances only while at least panicThresholdPercent of them pass', async () => {
    const fake = await fakeConsul(({ count }, response) => {
      if (count === 1) health(response, 5, [failing(entryA), entryB, entryC])
    })
    const resolver = client(fake.address).resolver('svc', { waitSeconds: 5, panicThresholdPercent: 50 })
    await resolver.ready(1_000)

    expect(resolver.instances().map((i) => i.id)).toEqual(['b', 'c'])
  })

  it('resolver routes over every known instance when fewer than panicThresholdPercent pass (none: all), but never one in maintenance', async () => {
    const answers = [
      [failing(entryA), failing(entryB), entryC],
      [failing(entryA), failing(entryB), maintenance(entryC)],
      [entryA, entryB, entryC],
    ]
    const fake = await fakeConsul(({ count }, response) => {
      if (count <= answers.length) setTimeout(() => health(response, count + 10, answers[count - 1]!), count === 1 ? 0 : 150)
    })
    const resolver = client(fake.address).resolver('svc', { waitSeconds: 5, panicThresholdPercent: 50 })
    await resolver.ready(1_000)

    // 1 of 3 passing is below 50 %: all three serve.
    expect(resolver.instances().map((i) => i.id)).toEqual(['a', 'b', 'c'])
    // None passing, c in maintenance: a and b, failing as they are, serve.
    await vi.waitFor(() => expect(resolver.instances().map((i) => i.id)).toEqual(['a', 'b']), { timeout: 2_000, interval: 10 })
    await vi.waitFor(() => expect(resolver.instances().map((i) => i.id)).toEqual(['a', 'b', 'c']), { timeout: 2_000, interval: 10 })
  })

  it('resolver with panicThresholdPercent 0 lists no instance when none passes', async () => {
    const fake = await fakeConsul(({ count }, response) => {
      if (count === 1) health(response, 5, [failing(entryA), failing(entryB)])
    })
    const resolver = client(fake.address).resolver('svc', { waitSeconds: 5, panicThresholdPercent: 0 })
    await resolver.ready(1_000)

    expect(resolver.instances()).toEqual([])
    expect(() => client(fake.address).resolver('svc', { panicThresholdPercent: 101 })).toThrow(
      /panicThresholdPercent must be from 0 to 100/,
    )
  })

  it('keepRegistered retries while the agent is unreachable and registers as soon as it answers', async () => {
    const port = await freePort()
    const agent = client(`http://127.0.0.1:${port}`)
    const kept = agent.keepRegistered(registration('svc', 3001), { intervalMs: 30, retryMs: 30 })
    cleanups.push(() => kept.stop())
    await new Promise((resolve) => setTimeout(resolve, 150))

    const fake = await fakeConsul(({ url }, response) => {
      response.statusCode = url.startsWith('/v1/agent/service/svc-') ? 404 : 200
      response.end()
    }, port)
    await vi.waitFor(
      () =>
        expect(fake.seen.map((call) => call.method + ' ' + call.url.split('?')[0]!.replace(/svc-.*/, 'svc-…'))).toEqual(
          expect.arrayContaining(['GET /v1/agent/service/svc-…', 'PUT /v1/agent/service/register']),
        ),
      { timeout: 2_000, interval: 10 },
    )
    await kept.stop()
  })

  it('ready() rejects after timeoutMs when the agent cannot be reached', async () => {
    const port = await freePort()
    const resolver = client(`http://127.0.0.1:${port}`).resolver('svc', { retryMinMs: 20, retryMaxMs: 50 })

    await expect(resolver.ready(200)).rejects.toThrow(/no instance list for svc from Consul within 200 ms/)
    expect(resolver.instances()).toEqual([])
  })
})
