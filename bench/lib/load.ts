import { execFile } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import autocannon from 'autocannon'
import { percentile } from './stats.ts'

/** One load run against one target. Latencies are in milliseconds, measured per response (µs precision). */
export interface LoadResult {
  /** 2xx responses completed during the run. */
  readonly ok: number
  readonly non2xx: number
  readonly errors: number
  readonly seconds: number
  /** 2xx responses per second. */
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export interface SaturationOptions {
  readonly connections: number
  /** Whole seconds (wrk's unit). */
  readonly seconds: number
}

const run = promisify(execFile)
const WRK_SCRIPT = fileURLToPath(new URL('./wrk-summary.lua', import.meta.url))

/**
 * Closed-loop load with wrk, one thread: C with an event loop of its own, it costs the loader
 * core a fraction of what autocannon does per request, so even nginx in front of the light
 * upstream saturates the server core before the load generator saturates its own.
 */
export async function wrkRun(url: string, options: SaturationOptions): Promise<LoadResult> {
  const { stdout } = await run('wrk', [
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--timeout',
    '10s',
    '-s',
    WRK_SCRIPT,
    url,
  ])
  return parseWrkSummary(stdout)
}

/** Reads the JSON line of wrk-summary.lua from wrk's output. */
export function parseWrkSummary(stdout: string): LoadResult {
  const line = stdout.split('\n').findLast((candidate) => candidate.startsWith('{'))
  if (line === undefined) throw new Error(`wrk printed no summary:\n${stdout}`)
  const summary = JSON.parse(line) as Record<
    'requests' | 'durationMicros' | 'connect' | 'read' | 'write' | 'status' | 'timeout' | 'p50' | 'p99' | 'max',
    number
  >
  // `status` counts answers of 400 and above; the others are socket errors.
  const ok = summary.requests - summary.status
  const seconds = summary.durationMicros / 1e6
  return {
    ok,
    non2xx: summary.status,
    errors: summary.connect + summary.read + summary.write + summary.timeout,
    seconds,
    rps: ok / seconds,
    p50: summary.p50 / 1000,
    p99: summary.p99 / 1000,
    max: summary.max / 1000,
  }
}

export interface AutocannonOptions {
  readonly connections: number
  readonly seconds: number
  /** autocannon's `overallRate`: a per-connection budget per second, see `paced` for the difference. */
  readonly overallRate?: number
}

/**
 * Closed-loop load with autocannon: each connection sends its next request as soon as the
 * previous answer arrived. Latencies are taken from autocannon's per-response event (hrtime,
 * µs precision) rather than its histogram, which stores whole milliseconds.
 */
export async function autocannonRun(url: string, options: AutocannonOptions): Promise<LoadResult> {
  const latencies: number[] = []
  let non2xx = 0
  const instance = autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
  })
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
    else non2xx += 1
  })
  const result = await instance
  return summarize(latencies, non2xx, result.errors, result.duration)
}

export interface PacedOptions {
  /** Requests per second, offered on a fixed schedule whatever the answers do (open loop). */
  readonly rate: number
  readonly seconds: number
  /** Keep-alive connections; a request finding none idle waits for one, and that wait counts. */
  readonly connections: number
}

export interface PacedResult extends LoadResult {
  /** Most requests in flight or waiting at once. */
  readonly maxInFlight: number
}

/**
 * Open-loop load at a fixed offered rate: requests are issued on a clock (every millisecond,
 * as many as are due), not when earlier answers arrive, so a stall in the target delays every
 * request due during it and shows in the percentiles. Latency runs from the moment a request
 * is issued, including any wait for a free connection, to its last response byte.
 *
 * autocannon's `overallRate` is not that: each connection gets a per-second quota that it sends
 * back to back from the start of every second, then idles. That is a closed-loop burst at the
 * top of each second, which hides stalls (coordinated omission) and measures queueing inside
 * the burst rather than latency at the offered rate.
 *
 * A minimal HTTP/1.1 client over raw sockets (GET, responses sized by Content-Length or
 * chunked), as cheap as autocannon's, so the client adds the same small, constant time to
 * every target.
 */
export async function paced(url: string, options: PacedOptions): Promise<PacedResult> {
  const target = new URL(url)
  const request = Buffer.from(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`, 'latin1')
  const total = Math.round(options.rate * options.seconds)
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  let done = 0
  let inFlight = 0
  let maxInFlight = 0
  let closing = false
  let running = false
  const waiting: number[] = []
  const idle: Connection[] = []
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))

  class Connection {
    socket: Socket
    issuedAt = -1
    buffer: Buffer | undefined

    constructor() {
      this.socket = this.#open()
    }

    #open(): Socket {
      const socket = connect(Number(target.port), target.hostname)
      socket.setNoDelay(true)
      socket.on('data', (chunk: Buffer) => this.#data(chunk))
      socket.on('error', () => {})
      socket.on('close', () => {
        // Before the run starts a refused connection fails the run (below), not a reconnect loop.
        if (closing || !running) return
        if (this.issuedAt >= 0) complete(this, -1)
        else if (idle.includes(this)) idle.splice(idle.indexOf(this), 1)
        if (done < total) {
          this.socket = this.#open()
          this.socket.once('connect', () => release(this))
        }
      })
      return socket
    }

    send(issuedAt: number): void {
      this.issuedAt = issuedAt
      this.socket.write(request)
    }

    #data(chunk: Buffer): void {
      const buffer = this.buffer === undefined ? chunk : Buffer.concat([this.buffer, chunk])
      const headEnd = buffer.indexOf('\r\n\r\n')
      if (headEnd === -1) {
        this.buffer = buffer
        return
      }
      const head = buffer.toString('latin1', 0, headEnd)
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
      let whole: boolean
      if (length !== null) whole = buffer.length >= headEnd + 4 + Number(length[1])
      else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) whole = buffer.subarray(-5).toString('latin1') === '0\r\n\r\n'
      else whole = true // no body framing: the status line and headers are the answer
      if (!whole) {
        this.buffer = buffer
        return
      }
      this.buffer = undefined
      complete(this, Number(head.slice(9, 12)))
    }
  }

  function complete(connection: Connection, status: number): void {
    const latency = performance.now() - connection.issuedAt
    connection.issuedAt = -1
    inFlight -= 1
    done += 1
    if (status >= 200 && status < 300) latencies.push(latency)
    else if (status < 0) errors += 1
    else non2xx += 1
    if (done === total) finish()
    else if (status >= 0) release(connection)
  }

  function release(connection: Connection): void {
    const next = waiting.shift()
    if (next === undefined) idle.push(connection)
    else connection.send(next)
  }

  function issue(at: number): void {
    inFlight += 1
    if (inFlight > maxInFlight) maxInFlight = inFlight
    const connection = idle.pop()
    if (connection === undefined) waiting.push(at)
    else connection.send(at)
  }

  const connections = Array.from({ length: options.connections }, () => new Connection())
  try {
    await Promise.all(
      connections.map(
        (connection) =>
          new Promise((resolve, reject) => {
            connection.socket.once('connect', resolve)
            connection.socket.once('error', reject)
          }),
      ),
    )
  } catch (error) {
    closing = true
    for (const connection of connections) connection.socket.destroy()
    throw new Error(`paced load: cannot connect to ${target.host}: ${(error as Error).message}`, { cause: error })
  }
  running = true
  idle.push(...connections)

  const started = performance.now()
  let issued = 0
  const clock = setInterval(() => {
    const now = performance.now()
    const due = Math.min(total, Math.floor(((now - started) * options.rate) / 1000))
    while (issued < due) {
      issue(now)
      issued += 1
    }
    if (issued === total) clearInterval(clock)
  }, 1)
  const deadline = setTimeout(finish, (options.seconds + 10) * 1000)
  await finished
  clearInterval(clock)
  clearTimeout(deadline)
  const seconds = (performance.now() - started) / 1000
  errors += total - done
  closing = true
  for (const connection of connections) connection.socket.destroy()
  return { ...summarize(latencies, non2xx, errors, seconds), maxInFlight }
}

function summarize(latencies: number[], non2xx: number, errors: number, seconds: number): LoadResult {
  const sorted = Float64Array.from(latencies).sort()
  return {
    ok: sorted.length,
    non2xx,
    errors,
    seconds,
    rps: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
  }
}
