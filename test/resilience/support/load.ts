// A small, bounded, open-loop load generator on undici pools: requests are issued at a fixed
// rate (not as fast as answers come back), so a slow or failing instance cannot hide behind a
// lower request rate, and every outcome is counted exactly: status codes, and errors by code.
// It never retries: a request that fails is a failure the client would have seen.
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'

export interface LoadRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT'
  readonly path: string
  readonly body?: string
  readonly headers?: Record<string, string>
}

export interface LoadOptions {
  /** Origins to spread requests over, round robin; read before every request, so it may change. */
  readonly origins: () => readonly string[]
  readonly ratePerSecond: number
  /** Stops issuing after this long... */
  readonly durationMs: number
  /** ...or after this many requests, whichever comes first (default: rate × duration). */
  readonly maxRequests?: number
  /** In-flight cap; a request due while it is reached waits (counted as `delayed`). Default 256. */
  readonly maxInFlight?: number
  /** Per request, until the whole answer is read (default 10000). */
  readonly timeoutMs?: number
  /** The n-th request (0-based). */
  readonly request: (n: number) => LoadRequest
  /** Called with every answer (status and body text), e.g. to check content. */
  readonly onResponse?: (request: LoadRequest, status: number, headers: Record<string, string | string[] | undefined>, body: string) => void
}

export interface Failure {
  /** Milliseconds since the load started. */
  readonly atMs: number
  readonly origin: string
  readonly method: string
  readonly path: string
  readonly status?: number
  readonly error?: string
  readonly body?: string
}

export interface LoadResult {
  readonly sent: number
  readonly completed: number
  readonly elapsedMs: number
  /** Achieved rate of issued requests. */
  readonly ratePerSecond: number
  readonly statuses: Readonly<Record<number, number>>
  readonly ok2xx: number
  readonly non2xx: number
  /** Requests without an answer, by error code (ECONNRESET, UND_ERR_SOCKET, ECONNREFUSED, …). */
  readonly errors: Readonly<Record<string, number>>
  readonly errorCount: number
  /** Connection resets among the errors: ECONNRESET, EPIPE, UND_ERR_SOCKET (other side closed). */
  readonly resets: number
  /** Requests that were due while `maxInFlight` was reached. */
  readonly delayed: number
  readonly byOrigin: Readonly<Record<string, number>>
  /** The first 50 non-2xx answers and errors, with when they happened. */
  readonly failures: readonly Failure[]
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

export interface LoadRun {
  /** Resolves when the load has ended and every request has completed or timed out. */
  readonly done: Promise<LoadResult>
  /** Ends the load early (no new requests). */
  stop(): void
  /** Counts so far. */
  snapshot(): LoadResult
}

/** Starts a load loop; it stops by itself after `durationMs` or `maxRequests`. */
export function startLoad(options: LoadOptions): LoadRun {
  const timeoutMs = options.timeoutMs ?? 10_000
  const maxInFlight = options.maxInFlight ?? 256
  const maxRequests = options.maxRequests ?? Math.ceil((options.ratePerSecond * options.durationMs) / 1000)
  const pools = new Map<string, Pool>()
  const statuses: Record<number, number> = {}
  const errors: Record<string, number> = {}
  const byOrigin: Record<string, number> = {}
  const failures: Failure[] = []
  const latencies: number[] = []
  const start = performance.now()
  let sent = 0
  let completed = 0
  let inFlight = 0
  let delayed = 0
  let cursor = 0
  let stopped = false
  let endedAt: number | undefined

  const pool = (origin: string) => {
    let found = pools.get(origin)
    if (found === undefined) {
      // Closes idle sockets well before the services' 75 s keep-alive timeout, like any proxy.
      found = new Pool(origin, { connections: 128, keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000 })
      pools.set(origin, found)
    }
    return found
  }

  const fail = (failure: Omit<Failure, 'atMs'>) => {
    if (failures.length < 50) failures.push({ atMs: Math.round(performance.now() - start), ...failure })
  }

  const fire = async (n: number, origin: string) => {
    const request = options.request(n)
    const began = performance.now()
    byOrigin[origin] = (byOrigin[origin] ?? 0) + 1
    try {
      const response = await pool(origin).request({
        method: request.method,
        path: request.path,
        body: request.body,
        headers: request.body === undefined ? request.headers : { 'content-type': 'application/json', ...request.headers },
        signal: AbortSignal.timeout(timeoutMs),
      })
      const body = await response.body.text()
      latencies.push(performance.now() - began)
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1
      if (response.statusCode < 200 || response.statusCode >= 300) {
        fail({ origin, method: request.method, path: request.path, status: response.statusCode, body: body.slice(0, 200) })
      }
      options.onResponse?.(request, response.statusCode, response.headers, body)
    } catch (error) {
      const code = errorCode(error)
      errors[code] = (errors[code] ?? 0) + 1
      fail({ origin, method: request.method, path: request.path, error: `${code} ${(error as Error).message}` })
    } finally {
      completed += 1
      inFlight -= 1
    }
  }

  const snapshot = (): LoadResult => {
    const elapsedMs = (endedAt ?? performance.now()) - start
    const sorted = [...latencies].sort((a, b) => a - b)
    const at = (q: number) =>
      sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10
    const ok2xx = Object.entries(statuses).reduce(
      (sum, [status, count]) => (Number(status) < 300 && Number(status) >= 200 ? sum + count : sum),
      0,
    )
    const answered = Object.values(statuses).reduce((sum, count) => sum + count, 0)
    return {
      sent,
      completed,
      elapsedMs: Math.round(elapsedMs),
      ratePerSecond: Math.round((sent / elapsedMs) * 1000),
      statuses: { ...statuses },
      ok2xx,
      non2xx: answered - ok2xx,
      errors: { ...errors },
      errorCount: Object.values(errors).reduce((sum, count) => sum + count, 0),
      resets: Object.entries(errors).reduce((sum, [code, count]) => (RESET_CODES.has(code) ? sum + count : sum), 0),
      delayed,
      byOrigin: { ...byOrigin },
      failures: [...failures],
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted.length === 0 ? 0 : Math.round(sorted[sorted.length - 1]!),
    }
  }

  const loop = async () => {
    while (!stopped) {
      const elapsed = performance.now() - start
      if (elapsed >= options.durationMs || sent >= maxRequests) break
      const due = Math.min(maxRequests, Math.floor((elapsed * options.ratePerSecond) / 1000) + 1)
      while (sent < due && !stopped) {
        if (inFlight >= maxInFlight) {
          delayed += 1
          break
        }
        const origins = options.origins()
        if (origins.length === 0) {
          // Nothing to send to is a failure the client sees, too.
          errors.NO_TARGET = (errors.NO_TARGET ?? 0) + 1
          fail({ origin: '', method: '', path: '', error: 'NO_TARGET no origin to send to' })
          sent += 1
          completed += 1
          continue
        }
        const origin = origins[cursor++ % origins.length]!
        inFlight += 1
        sent += 1
        void fire(sent - 1, origin)
      }
      await sleep(2)
    }
    endedAt = performance.now()
    // Bounded: every request has its own timeout, so in-flight ones end within timeoutMs.
    while (inFlight > 0) await sleep(10)
    await Promise.all([...pools.values()].map((found) => found.close().catch(() => {})))
    return snapshot()
  }

  return {
    done: loop(),
    stop: () => void (stopped = true),
    snapshot,
  }
}

function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'UNKNOWN'
  const { code, name, cause } = error as { code?: unknown; name?: unknown; cause?: { code?: unknown } }
  if (typeof code === 'string') return code
  if (typeof cause?.code === 'string') return cause.code
  if (name === 'TimeoutError' || name === 'AbortError') return 'TIMEOUT'
  return typeof name === 'string' ? name : 'UNKNOWN'
}

/** A compact summary of a load result for the log. */
export function figures(result: LoadResult): Record<string, unknown> {
  return {
    sent: result.sent,
    rate: `${result.ratePerSecond}/s`,
    '2xx': result.ok2xx,
    non2xx: result.non2xx,
    errors: result.errorCount,
    resets: result.resets,
    ...(result.errorCount > 0 ? { errorCodes: result.errors } : {}),
    ...(result.non2xx > 0 ? { statuses: result.statuses } : {}),
    ...(result.delayed > 0 ? { delayed: result.delayed } : {}),
    ...(result.failures.length > 0
      ? {
          firstFailures: result.failures
            .slice(0, 3)
            .map((f) => `${f.atMs}ms ${f.method} ${f.path} ${f.status ?? f.error ?? ''} ${f.body?.slice(0, 100) ?? ''}`),
        }
      : {}),
    p50: `${result.p50Ms}ms`,
    p99: `${result.p99Ms}ms`,
  }
}

/**
 * The passing instances of a service in Consul as origins, refreshed every 200 ms: how a proxy
 * reading Consul's catalog (Traefik) spreads clients over several gateways. Keeps the last list
 * when Consul does not answer.
 */
export function consulOrigins(
  consulUrl: string,
  service: string,
): { readonly origins: () => readonly string[]; ready(): Promise<void>; close(): void } {
  let list: readonly string[] = []
  let closed = false
  const first = Promise.withResolvers<void>()
  const refresh = async () => {
    while (!closed) {
      try {
        const response = await fetch(`${consulUrl}/v1/health/service/${service}?passing=true`, { signal: AbortSignal.timeout(1_000) })
        if (response.status === 200) {
          const entries = (await response.json()) as { Service: { Address: string; Port: number } }[]
          list = entries.map((entry) => `http://${entry.Service.Address}:${entry.Service.Port}`).sort()
          if (list.length > 0) first.resolve()
        }
      } catch {
        // keep the last list
      }
      await sleep(200)
    }
  }
  void refresh()
  return {
    origins: () => list,
    ready: () => first.promise,
    close: () => void (closed = true),
  }
}
