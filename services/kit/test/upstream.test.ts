import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { freePort } from '../../../test/support/real-servers-helpers.ts'
import { staticResolver, type Resolver, type ServiceInstance } from '../src/discovery/index.ts'
import { Upstream, UpstreamUnavailableError, upstreamMetrics, type UpstreamAttempt, type UpstreamOptions } from '../src/upstream/index.ts'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void

/** A real HTTP instance on a random port; `handler` may be swapped during a test. */
async function backend(name: string, port = 0) {
  const state = {
    requests: [] as Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>,
    connections: 0,
    open: 0,
    handler: ((_, response) => response.end(name)) as Handler,
  }
  const server: Server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      state.requests.push({ method: request.method!, url: request.url!, headers: request.headers, body })
      state.handler(request, response, body)
    })
  })
  server.on('connection', (socket) => {
    state.connections += 1
    state.open += 1
    socket.once('close', () => (state.open -= 1))
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const stop = () => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  }
  cleanups.push(stop)
  return { url, state, stop }
}

/** A URL nothing listens on. */
async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`
}

function upstream(urls: string[] | Resolver, options: Partial<UpstreamOptions> = {}) {
  const attempts: UpstreamAttempt[] = []
  const ejected: string[] = []
  const client = new Upstream({
    service: 'user-service',
    resolver: Array.isArray(urls) ? staticResolver(urls) : urls,
    observer: { attempt: (event) => attempts.push(event), ejected: (event) => ejected.push(event.instance) },
    ...options,
  })
  cleanups.push(() => client.close())
  return { client, attempts, ejected }
}

async function get(client: Upstream, path = '/users') {
  const response = await client.request({ method: 'GET', path })
  return { statusCode: response.statusCode, text: await response.body.text(), instance: response.instance }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('Upstream', () => {
  it('request over two instances alternates them: 10 GETs give 5 each over one kept-alive socket each', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    const { client } = upstream([a.url, b.url])

    const bodies: string[] = []
    for (let i = 0; i < 10; i++) bodies.push((await get(client)).text)

    expect(bodies).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'])
    expect([a.state.requests.length, b.state.requests.length]).toEqual([5, 5])
    expect([a.state.connections, b.state.connections]).toEqual([1, 1])
  })

  it('request passes headers, query and body through, dropping hop-by-hop headers both ways', async () => {
    const a = await backend('a')
    a.state.handler = (_, response) => {
      response.setHeader('x-upstream', 'yes')
      response.setHeader('connection', 'keep-alive')
      response.end('ok')
    }
    const { client } = upstream([a.url])

    const response = await client.request({
      method: 'PUT',
      path: '/users/7?fields=name',
      headers: {
        host: 'gateway.example',
        connection: 'keep-alive, X-Hop',
        'x-hop': 'drop me',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'x-request-id': 'req-1',
        'content-type': 'application/json',
        'x-multi': ['1', '2'],
        'x-absent': undefined,
      },
      body: '{"name":"Ada"}',
    })
    await response.body.dump()

    const seen = a.state.requests[0]!
    expect(seen).toMatchObject({ method: 'PUT', url: '/users/7?fields=name', body: '{"name":"Ada"}' })
    expect(seen.headers).toMatchObject({ 'x-request-id': 'req-1', 'content-type': 'application/json', 'x-multi': '1, 2' })
    expect(seen.headers.host).toBe(new URL(a.url).host)
    expect(seen.headers).not.toHaveProperty('x-hop')
    expect(seen.headers).not.toHaveProperty('te')
    expect(seen.headers).not.toHaveProperty('x-absent')
    expect(response.headers['x-upstream']).toBe('yes')
    expect(response.headers).not.toHaveProperty('connection')
    expect(response.headers).not.toHaveProperty('keep-alive')
  })

  it('with one instance stopped, every GET succeeds; the instance is ejected after 3 failures and readmitted after ejectionMs', async () => {
    const port = await freePort()
    const b = await backend('b')
    const { client, attempts, ejected } = upstream([`http://127.0.0.1:${port}`, b.url], {
      ejectAfterFailures: 3,
      ejectionMs: 300,
    })
    const deadId = `http://127.0.0.1:${port}`

    const first: number[] = []
    for (let i = 0; i < 8; i++) first.push((await get(client)).statusCode)

    expect(first).toEqual(Array(8).fill(200))
    expect(attempts.filter((event) => event.instance === deadId).map((event) => event.outcome)).toEqual(Array(3).fill('connect_error'))
    expect(ejected).toEqual([deadId])

    const revived = await backend('a', port)
    await sleep(350)
    const second: string[] = []
    for (let i = 0; i < 4; i++) second.push((await get(client)).text)

    expect(second.sort()).toEqual(['a', 'a', 'b', 'b'])
    expect(revived.state.requests).toHaveLength(2)
  })

  it('with every instance ejected, requests still go to them (panic mode) rather than failing outright', async () => {
    const a = await backend('a')
    a.state.handler = (_, response) => {
      response.statusCode = 502
      response.end()
    }
    const { client, ejected } = upstream([a.url], { ejectAfterFailures: 1, ejectionMs: 60_000 })

    expect((await get(client)).statusCode).toBe(502)
    expect(ejected).toHaveLength(1)
    a.state.handler = (_, response) => response.end('back')

    expect((await get(client)).text).toBe('back')
  })

  it('a 503 from one instance: the GET is retried on the other and answered 200', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    a.state.handler = (_, response) => {
      response.statusCode = 503
      response.end('busy '.repeat(1000))
    }
    const { client, attempts } = upstream([a.url, b.url])

    const result = await get(client)

    expect(result).toMatchObject({ statusCode: 200, text: 'b' })
    expect(attempts.map((event) => [event.outcome, event.retried])).toEqual([
      ['server_error', false],
      ['ok', true],
    ])
  })

  it('a 503 from every instance is returned as the response, and a POST answered 503 is not retried', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    for (const server of [a, b]) {
      server.state.handler = (_, response) => {
        response.statusCode = 503
        response.end('down')
      }
    }
    const { client } = upstream([a.url, b.url])

    expect(await get(client)).toMatchObject({ statusCode: 503, text: 'down' })
    const post = await client.request({ method: 'POST', path: '/orders', body: '{}' })
    await post.body.dump()

    expect(post.statusCode).toBe(503)
    expect(a.state.requests.length + b.state.requests.length).toBe(3)
  })

  it('a POST whose connection resets after it was sent is not retried and rejects UpstreamUnavailableError', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    a.state.handler = (request) => request.socket.destroy()
    const { client, attempts } = upstream([a.url, b.url])

    await expect(client.request({ method: 'POST', path: '/orders', body: '{"item":1}' })).rejects.toBeInstanceOf(UpstreamUnavailableError)
    expect(a.state.requests).toHaveLength(1)
    expect(b.state.requests).toHaveLength(0)
    expect(attempts.map((event) => event.outcome)).toEqual(['connect_error'])
  })

  it('a GET whose connection resets after it was sent is retried on the other instance', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    a.state.handler = (request) => request.socket.destroy()
    const { client } = upstream([a.url, b.url])

    expect(await get(client)).toMatchObject({ statusCode: 200, text: 'b' })
  })

  it('a POST to an instance refusing connections is retried on the other, which gets the body once', async () => {
    const b = await backend('b')
    const { client } = upstream([await deadUrl(), b.url])

    const response = await client.request({ method: 'POST', path: '/orders', body: '{"item":1}' })

    expect(await response.body.text()).toBe('b')
    expect(b.state.requests.map((request) => request.body)).toEqual(['{"item":1}'])
  })

  it('a POST with a stream body is not retried even when the connection is refused', async () => {
    const b = await backend('b')
    const { client } = upstream([await deadUrl(), b.url])

    await expect(client.request({ method: 'POST', path: '/orders', body: Readable.from(['{"item":1}']) })).rejects.toBeInstanceOf(
      UpstreamUnavailableError,
    )
    expect(b.state.requests).toHaveLength(0)
  })

  it('a try slower than tryTimeoutMs times out and the GET is answered by the other instance', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    a.state.handler = (_, response) => {
      setTimeout(() => response.end('late'), 4_000).unref()
    }
    const { client, attempts } = upstream([a.url, b.url], { tryTimeoutMs: 150 })

    const started = performance.now()
    const result = await get(client)

    expect(result.text).toBe('b')
    // undici's timers tick every ~0.5 s: the try ends within a second or so, far before 4 s.
    expect(performance.now() - started).toBeLessThan(2_000)
    expect(attempts.map((event) => event.outcome)).toEqual(['timeout', 'ok'])
    expect(attempts[0]!.seconds).toBeGreaterThanOrEqual(0.14)
  })

  it('a request with timeoutMs gives each try at most what is left and no try beyond it: two hanging instances, two tries, one timeout', async () => {
    const [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c')])
    for (const hanging of [a, b, c]) {
      hanging.state.handler = (_, response) => {
        setTimeout(() => response.end('late'), 4_000).unref()
      }
    }
    const { client, attempts } = upstream([a.url, b.url, c.url], { tryTimeoutMs: 5_000, maxTries: 3 })

    const started = performance.now()
    const error = await client.request({ method: 'GET', path: '/', timeoutMs: 400, tryTimeoutMs: 200 }).catch((caught: unknown) => caught)
    const elapsed = performance.now() - started

    expect(error).toBeInstanceOf(UpstreamUnavailableError)
    expect((error as Error).cause).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' })
    expect(attempts.map((event) => event.outcome)).toEqual(['timeout', 'timeout'])
    // Precise to the timer, not to undici's coarse clock; the third try had no time left.
    expect(elapsed).toBeGreaterThanOrEqual(380)
    expect(elapsed).toBeLessThan(400 + 300)
  })

  it("a request with tryTimeoutMs below the Upstream's times its try out on time and the other instance answers", async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    a.state.handler = (_, response) => {
      setTimeout(() => response.end('late'), 4_000).unref()
    }
    const { client, attempts } = upstream([a.url, b.url], { tryTimeoutMs: 5_000 })

    const response = await client.request({ method: 'GET', path: '/', tryTimeoutMs: 100 })

    expect(await response.body.text()).toBe('b')
    expect(attempts.map((event) => event.outcome)).toEqual(['timeout', 'ok'])
    expect(attempts[0]!.seconds).toBeGreaterThanOrEqual(0.09)
    expect(attempts[0]!.seconds).toBeLessThan(0.5)
  })

  it('with every instance down, request rejects UpstreamUnavailableError: status 503, message safe for clients', async () => {
    const { client, attempts } = upstream([await deadUrl(), await deadUrl()])

    const error = await client.request({ method: 'GET', path: '/users' }).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(UpstreamUnavailableError)
    expect(error).toMatchObject({ statusCode: 503, service: 'user-service', message: 'user-service is unavailable' })
    expect(attempts).toHaveLength(3)
  })

  it('with no instance known, request rejects UpstreamUnavailableError and reports no_instance', async () => {
    const empty: Resolver = { instances: () => [], ready: async () => {}, close: async () => {} }
    const { client, attempts } = upstream(empty)

    await expect(client.request({ method: 'GET', path: '/' })).rejects.toBeInstanceOf(UpstreamUnavailableError)
    expect(attempts.map((event) => event.outcome)).toEqual(['no_instance'])
  })

  it('an instance leaving the resolver list gets no more requests and its connections are closed', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    const both: ServiceInstance[] = [
      { id: 'a', url: a.url },
      { id: 'b', url: b.url },
    ]
    let list: readonly ServiceInstance[] = both
    const resolver: Resolver = { instances: () => list, ready: async () => {}, close: async () => {} }
    const { client } = upstream(resolver)
    await get(client)
    await get(client)

    list = [both[1]!]
    for (let i = 0; i < 4; i++) await get(client)

    expect([a.state.requests.length, b.state.requests.length]).toEqual([1, 5])
    await vi.waitFor(() => expect(a.state.open).toBe(0), { timeout: 1_000, interval: 10 })
    expect(b.state.open).toBeGreaterThan(0)
  })

  it('a request aborted by the caller rejects with the abort and is not retried', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')])
    a.state.handler = (_, response) => {
      setTimeout(() => response.end('late'), 1_000).unref()
    }
    const { client } = upstream([a.url, b.url])

    await expect(client.request({ method: 'GET', path: '/', signal: AbortSignal.timeout(50) })).rejects.not.toBeInstanceOf(
      UpstreamUnavailableError,
    )
    expect(b.state.requests).toHaveLength(0)
  })

  it('upstreamMetrics counts tries by outcome, retries, ejections and instances by state', async () => {
    const registry = new Registry()
    const b = await backend('b')
    const client = new Upstream({
      service: 'user-service',
      resolver: staticResolver([await deadUrl(), b.url]),
      ejectAfterFailures: 1,
      observer: upstreamMetrics(registry),
    })
    cleanups.push(() => client.close())

    await get(client)
    await get(client)

    const value = async (name: string, labels: Record<string, string>, sample = name) => {
      const metric = await registry.getSingleMetric(name)!.get()
      return metric.values.find(
        (entry) =>
          ((entry as { metricName?: string }).metricName ?? name) === sample &&
          Object.entries(labels).every(([key, v]) => entry.labels[key] === v),
      )?.value
    }
    expect(await value('upstream_requests_total', { upstream: 'user-service', outcome: 'ok' })).toBe(2)
    expect(await value('upstream_requests_total', { upstream: 'user-service', outcome: 'connect_error' })).toBe(1)
    expect(await value('upstream_retries_total', { upstream: 'user-service' })).toBe(1)
    expect(await value('upstream_ejections_total', { upstream: 'user-service' })).toBe(1)
    expect(await value('upstream_instances', { upstream: 'user-service', state: 'healthy' })).toBe(1)
    expect(await value('upstream_instances', { upstream: 'user-service', state: 'ejected' })).toBe(1)
    const duration = 'upstream_request_duration_seconds'
    expect(await value(duration, { upstream: 'user-service' }, `${duration}_count`)).toBe(3)
    // A second observer on the same registry reuses the metrics instead of throwing.
    expect(() => upstreamMetrics(registry)).not.toThrow()
  })
})

describe('Upstream.forward', () => {
  const text = async (body: Buffer | Readable) => (Buffer.isBuffer(body) ? body : Buffer.concat(await body.toArray())).toString()

  it('reads an answer sized within the limit whole, and streams a larger or unsized one byte for byte', async () => {
    const big = 'x'.repeat(100_000)
    const server = await backend('a')
    server.state.handler = (request, response) => {
      if (request.url === '/small') response.end('{"id":1}')
      else if (request.url === '/big') response.end(big)
      else {
        // No Content-Length: chunked.
        response.write('chunk one, ')
        setTimeout(() => response.end('chunk two'), 20)
      }
    }
    const { client } = upstream([server.url])

    const small = await client.forward({ method: 'GET', path: '/small' }, 64 * 1024)
    expect(Buffer.isBuffer(small.body)).toBe(true)
    expect(small.body.toString()).toBe('{"id":1}')
    expect(small.headers['content-length']).toBe('8')

    const large = await client.forward({ method: 'GET', path: '/big' }, 64 * 1024)
    expect(large.body).toBeInstanceOf(Readable)
    expect(await text(large.body)).toBe(big)

    const chunked = await client.forward({ method: 'GET', path: '/chunked' }, 64 * 1024)
    expect(chunked.body).toBeInstanceOf(Readable)
    expect(chunked.headers['transfer-encoding']).toBeUndefined()
    expect(await text(chunked.body)).toBe('chunk one, chunk two')
  })

  it('retries a GET whose connection breaks before the whole body came, and fails after maxTries', async () => {
    const server = await backend('a')
    server.state.handler = (_request, response) => {
      response.writeHead(200, { 'content-length': '100' })
      response.write('only part of it')
      setTimeout(() => response.socket?.destroy(), 10)
    }
    const { client, attempts } = upstream([server.url])
    const failure = await client.forward({ method: 'GET', path: '/users/1' }, 1024).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(UpstreamUnavailableError)
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['connect_error', 'connect_error', 'connect_error'])
  })

  it('stops reading a whole body when the caller aborts, failing with its reason', async () => {
    const server = await backend('a')
    let closed = false
    server.state.handler = (_request, response) => {
      response.writeHead(200, { 'content-length': '100' })
      response.write('never finished')
      response.socket?.once('close', () => (closed = true))
    }
    const { client } = upstream([server.url])
    const controller = new AbortController()
    const reason = new Error('the client went away')
    setTimeout(() => controller.abort(reason), 50)
    await expect(client.forward({ method: 'GET', path: '/users/1', signal: controller.signal }, 1024)).rejects.toBe(reason)
    await vi.waitFor(() => expect(closed).toBe(true))
  })

  it('bounds a whole read by the request timeout: a body that stalls after its headers times out', async () => {
    const server = await backend('a')
    server.state.handler = (_request, response) => {
      response.writeHead(200, { 'content-length': '100' })
      response.write('stalled')
    }
    const { client, attempts } = upstream([server.url], { maxTries: 1 })
    const started = performance.now()
    const failure = await client.forward({ method: 'GET', path: '/users/1', timeoutMs: 150 }, 1024).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(UpstreamUnavailableError)
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['timeout'])
    expect(performance.now() - started).toBeLessThan(1_500)
  })

  it('closes the upstream connection when a streamed body is destroyed before its end', async () => {
    const server = await backend('a')
    let closed = false
    server.state.handler = (_request, response) => {
      response.writeHead(200, { 'content-length': String(1_000_000) })
      response.write('x'.repeat(10_000))
      response.socket?.once('close', () => (closed = true))
    }
    const { client } = upstream([server.url])
    const answer = await client.forward({ method: 'GET', path: '/download' }, 1024)
    expect(answer.body).toBeInstanceOf(Readable)
    ;(answer.body as Readable).destroy()
    await vi.waitFor(() => expect(closed).toBe(true))
  })
})
