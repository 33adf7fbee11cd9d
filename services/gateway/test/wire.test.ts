// What reaches the gateway as bytes on a socket: malformed HTTP that Node's parser refuses,
// oversized headers and paths, each answered in the common error format with an x-request-id.
import { connect, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import type { App } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.ts'
import { readConfig } from '../src/config.ts'
import { echoServer, type Running } from './support.ts'

let upstream: Running
let app: App
let port: number
const lines: { level: number; msg: string; [key: string]: unknown }[] = []

beforeAll(async () => {
  upstream = await echoServer('any')
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  const env = { USER_SERVICE_URLS: upstream.url, ORDER_SERVICE_URLS: upstream.url, RATE_LIMIT_MAX: '2' }
  app = await buildApp({ config: readConfig(env), logger: { level: 'info', stream } })
  port = new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port as unknown as number
})

afterAll(async () => {
  await app?.close()
  await upstream?.close()
})

/** Writes `text` on a new connection and returns everything read until the server closes it. */
function exchange(text: string, onConnect?: (socket: Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      onConnect?.(socket)
      if (text !== '') socket.write(text)
    })
    let received = ''
    socket.setEncoding('latin1')
    socket.on('data', (data) => (received += data))
    socket.on('close', () => resolve(received))
    socket.on('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error(`no close within 5 s; received ${JSON.stringify(received)}`)))
  })
}

/** The last HTTP answer in what a connection received: status, headers by lower-case name, body. */
function lastAnswer(received: string) {
  const start = received.lastIndexOf('HTTP/1.1 ')
  const [head = '', body = ''] = received.slice(start).split('\r\n\r\n')
  const [statusLine = '', ...headerLines] = head.split('\r\n')
  const headers = Object.fromEntries(
    headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  )
  return { status: Number(statusLine.split(' ')[1]), headers, body }
}

function expectCommonError(received: string, status: number) {
  const answer = lastAnswer(received)
  expect(answer.status).toBe(status)
  expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  const body = JSON.parse(answer.body) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'statusCode'])
  expect(body.statusCode).toBe(status)
  return { ...answer, json: body }
}

describe('gateway answers to what Node refuses on the wire', () => {
  it('answers a malformed chunked body with 400, logs no error, and still counts the request against the rate limit', async () => {
    lines.length = 0
    const valid = 'GET /users HTTP/1.1\r\nHost: x\r\n\r\n'
    const malformed = 'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
    // Pipelined: Node destroys the socket before the second request's hooks run.
    const received = await exchange(valid + malformed)
    expectCommonError(received, 400)
    expect(lines.filter((line) => line.level >= 50)).toEqual([])

    // RATE_LIMIT_MAX is 2: both requests above counted, so the third is refused.
    const third = await exchange('GET /users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(lastAnswer(third).status).toBe(429)
  })

  it('answers a malformed request line or header with 400 in the common format', async () => {
    expectCommonError(await exchange('GET /users HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'), 400)
  })

  it('answers oversized headers with 431 in the common format', async () => {
    expectCommonError(await exchange(`GET /users HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`), 431)
  })

  it('answers a request that does not arrive in time with 408 in the common format', async () => {
    const timeout = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })
    // Node raises this after requestTimeout (30 s); raised here at once on the server's side of the socket.
    const served = new Promise<Socket>((resolve) => app.server.once('connection', resolve))
    const received = exchange('', () => void served.then((socket) => app.server.emit('clientError', timeout, socket)))
    expectCommonError(await received, 408)
  })

  it.each(['/users/%E0%A4%A', '/users/1%zz/orders'])(
    'answers a path that is not valid percent-encoding (%s) with 400 in the common format, without echoing it',
    async (path) => {
      const answer = expectCommonError(await exchange(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), 400)
      expect(answer.body).not.toContain('%')
    },
  )
})
