import { Readable } from 'node:stream'
import { Pool, type Dispatcher } from 'undici'
import type { Resolver, ServiceInstance } from '../discovery/resolver.ts'

export type UpstreamOutcome = 'ok' | 'server_error' | 'connect_error' | 'timeout' | 'no_instance'

export interface UpstreamAttempt {
  readonly service: string
  /** The instance id; empty for `no_instance`. */
  readonly instance: string
  readonly outcome: UpstreamOutcome
  /** Until the response headers arrived or the try failed. */
  readonly seconds: number
  /** True for every try after the first of a request. */
  readonly retried: boolean
}

/** One try of an upstream call as tracing sees it (plugins/tracing.ts makes a client span of it). */
export interface TryTrace {
  /** Trace-context headers for this try, flat: name, value, … */
  readonly headers: readonly string[]
  end(outcome: { readonly statusCode?: number; readonly error?: string }): void
}

/** Starts a trace of each try under the caller's trace context; set by the tracing plugin. */
export interface TryTracer {
  start(
    parent: unknown,
    attempt: { readonly method: string; readonly origin: string; readonly path: string; readonly service: string; readonly resend: number },
  ): TryTrace
}

export interface UpstreamObserver {
  attempt?(event: UpstreamAttempt): void
  ejected?(event: { readonly service: string; readonly instance: string }): void
  instances?(event: { readonly service: string; readonly healthy: number; readonly ejected: number }): void
}

export interface UpstreamOptions {
  /** Logical name, used in errors and metric labels. */
  readonly service: string
  readonly resolver: Resolver
  /**
   * Per try: connecting, then waiting for the response headers, then for each body chunk
   * (default 2000). Fits request/response APIs, not streams that idle longer than this.
   * undici enforces the header and body parts with coarse timers (no timer per request), so
   * they fire up to about a second late.
   */
  readonly tryTimeoutMs?: number
  /** Default 3, each on a different instance when there are several. */
  readonly maxTries?: number
  /** Consecutive failures before an instance is ejected (default 3). */
  readonly ejectAfterFailures?: number
  /** How long an ejected instance sits out (default 10000; 0 disables ejection). */
  readonly ejectionMs?: number
  /** undici Pool size per instance (default 64). */
  readonly connectionsPerInstance?: number
  /** Idle keep-alive sockets live this long (default 10000); keep it below the server's keepAliveTimeout. */
  readonly keepAliveTimeoutMs?: number
  readonly observer?: UpstreamObserver
  /** Traces each try of a request that carries a trace context (plugins/tracing.ts); none when tracing is off. */
  readonly tracer?: TryTracer
}

export interface UpstreamRequest {
  readonly method: string
  /** Path with its query string. */
  readonly path: string
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>
  /** A stream is sent once: requests with one are never retried. */
  readonly body?: string | Buffer | Readable
  readonly signal?: AbortSignal
  /**
   * Bound of the whole request, every try included: a try starts only while time is left and
   * waits no longer than what is left. Unset: `maxTries` × the try timeout at most.
   */
  readonly timeoutMs?: number
  /** This request's try timeout, below the Upstream's `tryTimeoutMs` (e.g. to fit a retry in `timeoutMs`). */
  readonly tryTimeoutMs?: number
  /** The calling request's trace context (`request.traceContext`): each try joins its trace. */
  readonly trace?: unknown
}

export interface UpstreamResponse {
  readonly statusCode: number
  /** Response headers without hop-by-hop ones. */
  readonly headers: Record<string, string | string[] | undefined>
  /** undici's body: a Readable with `.json()`, `.text()`, `.dump()`. Consume or dump it to free the socket. */
  readonly body: Dispatcher.ResponseData['body']
  readonly instance: ServiceInstance
}

/** An answer as `Upstream.forward` hands it on: small sized bodies read whole, others streamed. */
export interface ForwardedResponse {
  readonly statusCode: number
  /** Response headers without hop-by-hop ones. */
  readonly headers: Record<string, string | string[] | undefined>
  /**
   * The whole body when its Content-Length was within the limit (read inside the try, so bounded
   * by its timeout); otherwise a stream of it, started when the headers arrived. Consume,
   * `resume()` or `destroy()` a stream to free its socket.
   */
  readonly body: Buffer | Readable
  readonly instance: ServiceInstance
}

/** No instance could answer. The message is safe to show clients. */
export class UpstreamUnavailableError extends Error {
  readonly statusCode = 503
  readonly service: string

  constructor(service: string, options?: ErrorOptions) {
    super(`${service} is unavailable`, options)
    this.name = 'UpstreamUnavailableError'
    this.service = service
  }
}

/** One instance as the balancer sees it. */
class Member {
  instance: ServiceInstance
  pool: Pool | undefined
  failures = 0
  ejected = false
  /** Left the resolver's list (or the Upstream closed) while requests may still hold it. */
  retired = false
  timer: NodeJS.Timeout | undefined

  constructor(instance: ServiceInstance) {
    this.instance = instance
  }
}

// How a failed try ended, which decides whether it may be retried.
const FATAL = 0 // not the instance's fault (caller aborted, invalid request): rethrow
const NOT_SENT = 1 // no connection: nothing reached the instance, any request may be retried
const SOCKET = 2 // the connection broke: the instance may have acted on the request
const TIMEOUT = 3

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  // Node's server already answered `100-continue`; undici refuses to send the header.
  'expect',
])

const noop = () => {}

/**
 * Client-side load balancer for one service: round robin over the resolver's instances,
 * keep-alive pools, retries on another instance, and ejection of failing instances.
 */
export class Upstream {
  readonly #service: string
  readonly #resolver: Resolver
  readonly #maxTries: number
  readonly #ejectAfter: number
  readonly #ejectionMs: number
  readonly #poolOptions: Pool.Options
  readonly #tryTimeoutMs: number
  readonly #observer: UpstreamObserver | undefined
  readonly #observeAttempts: boolean
  readonly #tracer: TryTracer | undefined
  readonly #readmit = (member: Member) => this.#endEjection(member)
  #source: readonly ServiceInstance[] | undefined
  #members: Member[] = []
  #byUrl = new Map<string, Member>()
  #cursor = 0
  #ejectedCount = 0
  #closed = false

  constructor(options: UpstreamOptions) {
    this.#service = options.service
    this.#resolver = options.resolver
    this.#maxTries = positive('maxTries', options.maxTries ?? 3)
    this.#ejectAfter = positive('ejectAfterFailures', options.ejectAfterFailures ?? 3)
    this.#ejectionMs = options.ejectionMs ?? 10_000
    const tryTimeoutMs = positive('tryTimeoutMs', options.tryTimeoutMs ?? 2_000)
    this.#tryTimeoutMs = tryTimeoutMs
    const keepAliveTimeoutMs = positive('keepAliveTimeoutMs', options.keepAliveTimeoutMs ?? 10_000)
    this.#poolOptions = {
      connections: positive('connectionsPerInstance', options.connectionsPerInstance ?? 64),
      keepAliveTimeout: keepAliveTimeoutMs,
      // Also caps the server's `Keep-Alive: timeout=` hint, so we always close idle sockets first.
      keepAliveMaxTimeout: keepAliveTimeoutMs,
      headersTimeout: tryTimeoutMs,
      bodyTimeout: tryTimeoutMs,
      connect: { timeout: tryTimeoutMs },
    }
    this.#observer = options.observer
    this.#observeAttempts = options.observer?.attempt !== undefined
    this.#tracer = options.tracer
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    return (await this.#call(req, undefined)) as UpstreamResponse
  }

  /**
   * `request` for a proxy that sends the answer on as it is: an answer whose Content-Length is at
   * most `wholeUpTo` bytes is read whole within the try and returned as a Buffer, any other one
   * as a stream. Dispatched through undici's handler interface rather than its request API,
   * which wraps every answer in a body stream, an async resource and a promise of its own: in the
   * gateway, about a quarter of its CPU per proxied request (169 → 129 µs, light upstream).
   */
  async forward(req: UpstreamRequest, wholeUpTo: number): Promise<ForwardedResponse> {
    return (await this.#call(req, wholeUpTo)) as ForwardedResponse
  }

  async #call(req: UpstreamRequest, wholeUpTo: number | undefined): Promise<UpstreamResponse | ForwardedResponse> {
    if (this.#closed) throw new UpstreamUnavailableError(this.#service, { cause: new Error('upstream closed') })
    const list = this.#resolver.instances()
    if (list !== this.#source) this.#sync(list)
    const members = this.#members
    if (members.length === 0) {
      if (this.#observeAttempts) this.#attempt('', 'no_instance', 0, false)
      throw new UpstreamUnavailableError(this.#service)
    }

    const body = req.body
    const replayable = body === undefined || typeof body === 'string' || Buffer.isBuffer(body)
    const idempotent = replayable && isIdempotent(req.method)
    const headers = req.headers === undefined ? undefined : forwardHeaders(req.headers)
    const options: Dispatcher.RequestOptions = {
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      headers,
      body,
      signal: req.signal,
    }
    // A request with its own bounds gets a timer of its own per try: undici's header timeout
    // runs on a coarse clock that may fire up to a second late, too coarse for a sub-second try.
    const ownTimer = req.timeoutMs !== undefined || req.tryTimeoutMs !== undefined
    const tryTimeoutMs = Math.min(this.#tryTimeoutMs, req.tryTimeoutMs ?? Infinity)
    const deadline = req.timeoutMs === undefined ? undefined : performance.now() + req.timeoutMs

    let index = this.#pick(members, 0, false)
    let tried = 0
    for (let attempt = 1; ; attempt++) {
      const member = members[index]!
      // A bit per instance tried; beyond 31 instances round robin alone keeps retries apart.
      if (index < 31) tried |= 1 << index
      const started = this.#observeAttempts ? performance.now() : 0
      const retried = attempt > 1
      const traced =
        req.trace === undefined
          ? undefined
          : this.#tracer?.start(req.trace, {
              method: req.method,
              origin: member.instance.url,
              path: req.path,
              service: this.#service,
              resend: attempt - 1,
            })
      if (traced !== undefined) options.headers = headers === undefined ? [...traced.headers] : [...headers, ...traced.headers]
      const bound = ownTimer
        ? tryBound(options, req.signal, deadline === undefined ? tryTimeoutMs : Math.min(tryTimeoutMs, deadline - performance.now()))
        : undefined
      let response: {
        statusCode: number
        headers: Dispatcher.ResponseData['headers']
        body: Dispatcher.ResponseData['body'] | Buffer | Readable
      }
      try {
        const pool = member.pool ?? this.#openPool(member)
        response = await (wholeUpTo === undefined ? pool.request(options) : forwardTry(pool, options, wholeUpTo))
      } catch (error) {
        const kind = bound?.timedOut() === true ? TIMEOUT : req.signal?.aborted === true ? FATAL : classify(error)
        traced?.end({ error: kind === TIMEOUT ? 'timeout' : String(errorCode(error) ?? 'error') })
        if (kind === FATAL) throw error
        this.#failed(member)
        if (this.#observeAttempts) {
          this.#attempt(member.instance.id, kind === TIMEOUT ? 'timeout' : 'connect_error', started, retried)
        }
        if (attempt < this.#maxTries && (idempotent || (kind === NOT_SENT && replayable)) && timeLeft(deadline)) {
          // A broken connection is worth one more try even on an instance already tried
          // (a stale keep-alive socket); a timeout is not.
          const next = this.#pick(members, tried, kind !== TIMEOUT)
          if (next >= 0) {
            index = next
            continue
          }
        }
        throw new UpstreamUnavailableError(this.#service, { cause: error })
      } finally {
        bound?.clear()
      }

      const status = response.statusCode
      traced?.end({ statusCode: status })
      if (status === 502 || status === 503 || status === 504) this.#failed(member)
      else if (member.failures !== 0) member.failures = 0
      if (this.#observeAttempts) {
        this.#attempt(member.instance.id, status >= 500 ? 'server_error' : 'ok', started, retried)
      }
      if (status === 503 && idempotent && attempt < this.#maxTries && timeLeft(deadline)) {
        const next = this.#pick(members, tried, false)
        if (next >= 0) {
          // Free the socket for reuse before going elsewhere.
          await discard(response.body)
          index = next
          continue
        }
      }
      stripHopByHop(response.headers)
      return {
        statusCode: status,
        headers: response.headers as Record<string, string | string[] | undefined>,
        body: response.body,
        instance: member.instance,
      } as UpstreamResponse | ForwardedResponse
    }
  }

  /** Closes every connection; in-flight requests finish first. The resolver stays open (its owner closes it). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const pools: Promise<void>[] = []
    for (const member of this.#members) {
      this.#retire(member)
      if (member.pool !== undefined) pools.push(member.pool.close())
    }
    this.#members = []
    this.#byUrl.clear()
    await Promise.all(pools)
  }

  /**
   * Next instance in round-robin order: one not yet tried and not ejected; else, on a retry, an
   * ejected one not yet tried; else, if `allowTried`, one already tried. On the first try
   * (`tried` 0) with every instance ejected, the ejected ones serve: better than failing all.
   * Returns -1 when none fits.
   */
  #pick(members: Member[], tried: number, allowTried: boolean): number {
    const count = members.length
    const start = this.#cursor % count
    let ejectedUntried = -1
    let triedHealthy = -1
    let triedEjected = -1
    for (let i = 0; i < count; i++) {
      const index = start + i < count ? start + i : start + i - count
      const member = members[index]!
      if (index < 31 && (tried & (1 << index)) !== 0) {
        if (member.ejected) {
          if (triedEjected < 0) triedEjected = index
        } else if (triedHealthy < 0) triedHealthy = index
        continue
      }
      if (member.ejected) {
        if (ejectedUntried < 0) ejectedUntried = index
        continue
      }
      this.#cursor = index + 1
      return index
    }
    let chosen = ejectedUntried
    if (chosen < 0 && allowTried) chosen = triedHealthy >= 0 ? triedHealthy : triedEjected
    if (chosen >= 0) this.#cursor = chosen + 1
    return chosen
  }

  /** Follows the resolver's list: new instances join, gone ones have their pool closed. */
  #sync(list: readonly ServiceInstance[]): void {
    this.#source = list
    const byUrl = new Map<string, Member>()
    const members: Member[] = []
    for (const instance of list) {
      if (byUrl.has(instance.url)) continue
      let member = this.#byUrl.get(instance.url)
      if (member === undefined) member = new Member(instance)
      else member.instance = instance
      byUrl.set(instance.url, member)
      members.push(member)
    }
    for (const [url, member] of this.#byUrl) {
      if (byUrl.has(url)) continue
      this.#retire(member)
      // Requests still running on it finish; new ones go to the remaining instances.
      member.pool?.close().catch(noop)
    }
    this.#byUrl = byUrl
    this.#members = members
    this.#reportInstances()
  }

  #openPool(member: Member): Pool {
    const pool = new Pool(member.instance.url, this.#poolOptions)
    if (member.retired) {
      // A request still holding a gone instance: it fails as not sent (UND_ERR_CLOSED) and is
      // retried elsewhere, and no pool is left open behind our back.
      pool.close().catch(noop)
      return pool
    }
    member.pool = pool
    return pool
  }

  #retire(member: Member): void {
    member.retired = true
    if (member.ejected) {
      clearTimeout(member.timer)
      member.ejected = false
      this.#ejectedCount -= 1
    }
  }

  #failed(member: Member): void {
    member.failures += 1
    if (member.ejected || this.#ejectionMs <= 0 || member.failures < this.#ejectAfter) return
    member.ejected = true
    // On probation when it returns: one more failure ejects it again.
    member.failures = this.#ejectAfter - 1
    this.#ejectedCount += 1
    member.timer = setTimeout(this.#readmit, this.#ejectionMs, member)
    member.timer.unref()
    this.#observer?.ejected?.({ service: this.#service, instance: member.instance.id })
    this.#reportInstances()
  }

  #endEjection(member: Member): void {
    if (!member.ejected) return
    member.ejected = false
    this.#ejectedCount -= 1
    this.#reportInstances()
  }

  #reportInstances(): void {
    const ejected = this.#ejectedCount
    this.#observer?.instances?.({ service: this.#service, healthy: this.#members.length - ejected, ejected })
  }

  #attempt(instance: string, outcome: UpstreamOutcome, started: number, retried: boolean): void {
    const seconds = started === 0 ? 0 : (performance.now() - started) / 1000
    this.#observer!.attempt!({ service: this.#service, instance, outcome, seconds, retried })
  }
}

/**
 * One try's own timeout: the request's options with a signal that aborts, with an error undici
 * would give for a header timeout, after `ms` unless cleared (when the headers have arrived).
 */
function tryBound(options: Dispatcher.RequestOptions, callerSignal: AbortSignal | undefined, ms: number) {
  const controller = new AbortController()
  let fired = false
  const timer = setTimeout(
    () => {
      fired = true
      controller.abort(Object.assign(new Error(`no response headers within ${Math.round(ms)} ms`), { code: 'UND_ERR_HEADERS_TIMEOUT' }))
    },
    Math.max(1, ms),
  )
  // The caller's abort is passed on by one listener, removed when the try ends: cheaper than
  // AbortSignal.any, whose composite signals are tracked through weak references until collected.
  const passOn = callerSignal === undefined ? undefined : () => controller.abort(callerSignal.reason)
  if (passOn !== undefined) {
    if (callerSignal!.aborted) passOn()
    else callerSignal!.addEventListener('abort', passOn, { once: true })
  }
  options.signal = controller.signal
  return {
    timedOut: () => fired,
    clear() {
      clearTimeout(timer)
      if (passOn !== undefined) callerSignal!.removeEventListener('abort', passOn)
    },
  }
}

/** Reads and drops what is left of a body, so its socket serves the next request. */
async function discard(body: Dispatcher.ResponseData['body'] | Buffer | Readable): Promise<void> {
  if (Buffer.isBuffer(body)) return
  if ('dump' in body) return body.dump().catch(noop)
  body.resume()
}

/**
 * One try of `Upstream.forward`: settles with the whole body when the answer is sized within
 * `wholeUpTo`, else with a stream at the headers. Aborts through the options' signal like
 * undici's request API: before the headers (or before the whole body) the try fails with the
 * signal's reason; after them a streamed body is destroyed with it.
 */
function forwardTry(
  pool: Pool,
  options: Dispatcher.RequestOptions,
  wholeUpTo: number,
): Promise<{ statusCode: number; headers: Dispatcher.ResponseData['headers']; body: Buffer | Readable }> {
  return new Promise((resolve, reject) => {
    const signal = options.signal as AbortSignal | undefined
    if (signal?.aborted === true) {
      reject(signal.reason)
      return
    }
    let controller: Dispatcher.DispatchController | undefined
    let reason: Error | undefined
    let settled = false
    let ended = false
    let statusCode = 0
    let headers: Dispatcher.ResponseData['headers'] = {}
    let chunks: Buffer[] | undefined
    let stream: Readable | undefined
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      reject(error)
    }
    const onAbort = () => {
      reason = (signal!.reason as Error | undefined) ?? new Error('aborted')
      if (stream !== undefined) stream.destroy(reason)
      else {
        // Still queued for a connection: the try fails now, and the request is aborted as
        // soon as it starts.
        controller?.abort(reason)
        fail(reason)
      }
    }
    const done = () => {
      ended = true
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        if (reason !== undefined) started.abort(reason)
        else controller = started
      },
      onResponseStart(started, status, answerHeaders) {
        // 1xx answers are informational: the final one follows.
        if (status < 200) return
        statusCode = status
        headers = answerHeaders
        // NaN when absent (chunked) or repeated: streamed.
        if (Number(answerHeaders['content-length']) <= wholeUpTo) {
          chunks = []
          return
        }
        stream = new Readable({
          read: () => started.resume(),
          destroy: (error, callback) => {
            if (!ended) started.abort(error ?? new Error('the stream was destroyed before its end'))
            done()
            callback(error)
          },
        })
        settled = true
        resolve({ statusCode, headers, body: stream })
      },
      onResponseData(started, chunk) {
        if (chunks !== undefined) chunks.push(chunk)
        else if (stream !== undefined && !stream.push(chunk)) started.pause()
      },
      onResponseEnd() {
        done()
        if (stream !== undefined) {
          stream.push(null)
          return
        }
        settled = true
        resolve({
          statusCode,
          headers,
          body: chunks === undefined || chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
        })
      },
      onResponseError(_started, error) {
        done()
        if (stream !== undefined) stream.destroy(error)
        else fail(error)
      },
    }
    try {
      // The signal is handled above; undici's dispatch takes none.
      pool.dispatch(
        { origin: options.origin, method: options.method, path: options.path, headers: options.headers, body: options.body },
        handler,
      )
    } catch (error) {
      done()
      fail(error as Error)
    }
  })
}

const EMPTY = Buffer.alloc(0)

/** A try shorter than this is not worth starting. */
const MIN_TRY_MS = 20

/** Whether a request with this deadline (performance.now() based) still has time for a try. */
function timeLeft(deadline: number | undefined): boolean {
  return deadline === undefined || deadline - performance.now() >= MIN_TRY_MS
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`)
  return value
}

function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
      return true
    default:
      return false
  }
}

function classify(error: unknown): number {
  switch (errorCode(error)) {
    case 'ECONNREFUSED':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'UND_ERR_CLOSED': // the pool was closed under us: the instance left the list
    case 'UND_ERR_DESTROYED':
      return NOT_SENT
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ETIMEDOUT':
    case 'UND_ERR_SOCKET':
      return SOCKET
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return TIMEOUT
    default:
      return FATAL
  }
}

function errorCode(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return undefined
  const { code, cause } = error as { code?: unknown; cause?: unknown }
  if (code !== undefined) return code
  return typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined
}

/**
 * The names a hop-by-hop header set means: the standard ones and those listed in its
 * `Connection` header (RFC 9110 §7.6.1). A proxy applies this to what its client sent, before
 * adding headers of its own, so a client cannot strip those by listing them.
 */
export function hopByHop(headers: Readonly<Record<string, string | string[] | undefined>>): (lowerCaseName: string) => boolean {
  const connection = headers.connection
  const tokens = typeof connection === 'string' ? connection : Array.isArray(connection) ? connection.join(',') : ''
  // keep-alive and close, by far the usual values, list nothing beyond the standard set.
  if (tokens === '' || tokens === 'keep-alive' || tokens === 'close') return isStandardHopByHop
  const listed = new Set(
    tokens
      .toLowerCase()
      .split(',')
      .map((token) => token.trim()),
  )
  return (name) => HOP_BY_HOP.has(name) || listed.has(name)
}

const isStandardHopByHop = (name: string) => HOP_BY_HOP.has(name)

/** The caller's headers as undici's flat [name, value, …] list, minus hop-by-hop ones. */
function forwardHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): string[] {
  const out: string[] = []
  const isHopByHop = hopByHop(headers)
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || isHopByHop(name.toLowerCase())) continue
    if (typeof value === 'string') out.push(name, value)
    else for (const item of value) out.push(name, item)
  }
  return out
}

function stripHopByHop(headers: Record<string, string | string[] | undefined>): void {
  // undici lower-cases response header names.
  if (headers.connection !== undefined) delete headers.connection
  if (headers['keep-alive'] !== undefined) delete headers['keep-alive']
  if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding']
  if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection']
  if (headers.upgrade !== undefined) delete headers.upgrade
  if (headers.trailer !== undefined) delete headers.trailer
}
