import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import type { Resolver, ServiceInstance } from './resolver.ts'

/** The part of a pino (or Fastify) logger this module writes to. */
export interface ConsulLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ConsulOptions {
  /** The agent's HTTP API, e.g. `http://127.0.0.1:8500` (CONSUL_HTTP_ADDR). */
  readonly address: string
  /** ACL token (CONSUL_HTTP_TOKEN), sent as `X-Consul-Token` on every call. */
  readonly token?: string
  readonly logger?: ConsulLogger
}

export interface Registration {
  /** Unique per instance; see `instanceId`. */
  readonly id: string
  readonly name: string
  /** Address other services and the agent's HTTP check use to reach this instance. */
  readonly address: string
  readonly port: number
  readonly tags?: readonly string[]
  readonly meta?: Readonly<Record<string, string>>
  readonly check: {
    /** Path probed with GET on `http://address:port`, e.g. `/health/ready`. */
    readonly path: string
    /** Consul durations: `'5s'`, `'1m'`. */
    readonly interval: string
    readonly timeout: string
    readonly deregisterCriticalServiceAfter: string
  }
}

export interface ConsulResolverOptions {
  /** How long one blocking query may wait for a change (default 30, Consul caps it at 600). */
  readonly waitSeconds?: number
  /** First retry delay after Consul fails to answer (default 250). */
  readonly retryMinMs?: number
  /** Cap of the exponential retry delay (default 10000). */
  readonly retryMaxMs?: number
  /**
   * After Consul was unreachable or its index went backwards (a restarted agent, whose catalog
   * fills up again as instances re-register), how long an answer listing no instance is not
   * believed over a non-empty last known list (default 30000).
   */
  readonly emptyGraceMs?: number
  /**
   * Envoy's panic threshold, in percent (default 50; 0 turns it off): while fewer than this share
   * of the known instances pass their checks, route over all of them rather than over the few
   * (or none) left. When every instance fails at once the likely cause is shared (a slow
   * database, a check timing out under load), and spreading the traffic beats refusing it; the
   * balancer's retries and ejection then skip the instances that really are down.
   */
  readonly panicThresholdPercent?: number
}

export interface KeepRegisteredOptions {
  /** How often to check that the agent still has the registration (default 10000). */
  readonly intervalMs?: number
  /** The next check after one failed, e.g. while the agent is down (default 1000). */
  readonly retryMs?: number
}

/** A registration kept in the agent by `keepRegistered`, until stopped. */
export interface KeptRegistration {
  /** Stops checking, aborting a check or registration in flight; resolves when nothing runs. */
  stop(): Promise<void>
}

const CALL_TIMEOUT_MS = 10_000
const EMPTY: readonly ServiceInstance[] = Object.freeze([])
const silent: ConsulLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** The shape of one `/v1/health/service/<name>` entry, as far as it is read here. */
interface HealthEntry {
  readonly Node?: { readonly Address?: string }
  readonly Service?: { readonly ID?: string; readonly Address?: string; readonly Port?: number }
  /** The node's checks (serfHealth) and the instance's own. */
  readonly Checks?: readonly { readonly CheckID?: string; readonly Status?: string }[]
}

/** An id unique per running instance, so two replicas on one host never overwrite each other. */
export function instanceId(name: string, host: string, port: number): string {
  const safeHost = host.replace(/[^A-Za-z0-9.-]/g, '-')
  return `${name}-${safeHost}-${port}-${randomBytes(4).toString('hex')}`
}

/** Client of one Consul agent: registers this process and watches the instances of others. */
export class ConsulClient {
  readonly #pool: Pool
  readonly #headers: Readonly<Record<string, string>>
  readonly #logger: ConsulLogger
  readonly #resolvers = new Set<ConsulResolver>()
  #closing: Promise<void> | undefined

  constructor(options: ConsulOptions) {
    let url: URL | undefined
    try {
      url = new URL(options.address)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new TypeError(`invalid Consul address "${options.address}": expected a URL like http://127.0.0.1:8500`)
    }
    const origin = url.origin
    // A dedicated pool: blocking queries hold a connection each and must not starve other traffic.
    this.#pool = new Pool(origin, { keepAliveTimeout: 4_000, connect: { timeout: 5_000 } })
    this.#headers = options.token === undefined ? {} : { 'x-consul-token': options.token }
    this.#logger = options.logger ?? silent
  }

  async register(registration: Registration, signal?: AbortSignal): Promise<void> {
    const { id, name, address, port, check } = registration
    if (address === '') throw new TypeError(`cannot register ${id}: address is empty`)
    const path = check.path.startsWith('/') ? check.path : `/${check.path}`
    const body = JSON.stringify({
      ID: id,
      Name: name,
      Address: address,
      Port: port,
      Tags: registration.tags ?? [],
      Meta: registration.meta ?? {},
      Check: {
        HTTP: `http://${urlHost(address)}:${port}${path}`,
        Method: 'GET',
        Interval: check.interval,
        Timeout: check.timeout,
        DeregisterCriticalServiceAfter: check.deregisterCriticalServiceAfter,
      },
    })
    await this.#call('PUT', '/v1/agent/service/register', body, `register ${id}`, false, signal)
    this.#logger.info({ serviceId: id, service: name, address, port }, 'registered in Consul')
  }

  /** Whether the local agent has service `id` registered (GET /v1/agent/service/<id>: 200 or 404). */
  async isRegistered(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.#call('GET', `/v1/agent/service/${encodeURIComponent(id)}`, undefined, `look up ${id}`, true, signal)
  }

  /**
   * Keeps `registration` in the agent: every `intervalMs` it checks the agent still has it and
   * registers it again when not. An agent that restarts without its state (dev mode, a replaced
   * node agent) forgets the services registered through its API, and an instance nobody
   * re-registers never gets traffic again. While the agent cannot be reached it checks every
   * `retryMs`, so the registration is back about that long after the agent answers again.
   */
  keepRegistered(registration: Registration, options: KeepRegisteredOptions = {}): KeptRegistration {
    const intervalMs = options.intervalMs ?? 10_000
    const retryMs = options.retryMs ?? 1_000
    const abort = new AbortController()
    const { signal } = abort
    const loop = (async () => {
      let delay = intervalMs
      let failing = false
      for (;;) {
        try {
          await sleep(delay, undefined, { signal })
        } catch {
          return
        }
        try {
          if (!(await this.isRegistered(registration.id, signal))) {
            await this.register(registration, signal)
            this.#logger.warn({ serviceId: registration.id }, 'the Consul agent had lost this instance (restarted?); registered it again')
          } else if (failing) {
            this.#logger.info({ serviceId: registration.id }, 'the Consul agent answers again; still registered')
          }
          failing = false
          delay = intervalMs
        } catch (error) {
          if (signal.aborted) return
          // One warning per outage; the retries after it would only repeat it.
          if (!failing)
            this.#logger.warn({ serviceId: registration.id, err: describe(error) }, 'cannot check the Consul registration; retrying')
          failing = true
          delay = retryMs
        }
      }
    })()
    return {
      stop: async () => {
        abort.abort()
        await loop
      },
    }
  }

  async deregister(id: string): Promise<void> {
    // An id Consul no longer knows is already deregistered: shutdown must not fail on it.
    await this.#call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`, undefined, `deregister ${id}`, true)
    this.#logger.info({ serviceId: id }, 'deregistered from Consul')
  }

  /** Watches the passing instances of `service` with blocking queries until closed. */
  resolver(service: string, options: ConsulResolverOptions = {}): Resolver {
    if (this.#closing !== undefined) throw new Error('ConsulClient is closed')
    const waitSeconds = options.waitSeconds ?? 30
    if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 600) {
      throw new RangeError(`waitSeconds must be an integer from 1 to 600, got ${waitSeconds}`)
    }
    const panicThresholdPercent = options.panicThresholdPercent ?? 50
    if (!(panicThresholdPercent >= 0 && panicThresholdPercent <= 100)) {
      throw new RangeError(`panicThresholdPercent must be from 0 to 100, got ${panicThresholdPercent}`)
    }
    const resolver = new ConsulResolver({
      pool: this.#pool,
      headers: this.#headers,
      logger: this.#logger,
      service,
      waitSeconds,
      retryMinMs: options.retryMinMs ?? 250,
      retryMaxMs: options.retryMaxMs ?? 10_000,
      emptyGraceMs: options.emptyGraceMs ?? 30_000,
      panicThresholdPercent,
      onClose: (closed) => this.#resolvers.delete(closed),
    })
    this.#resolvers.add(resolver)
    return resolver
  }

  /** Stops every resolver (aborting their blocking queries) and closes the connections. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#resolvers].map((resolver) => resolver.close()))
      await this.#pool.close()
    })()
    return this.#closing
  }

  /** True on 200, false on 404 when `notFoundIsOk`; throws on anything else. */
  async #call(
    method: 'PUT' | 'GET',
    path: string,
    body: string | undefined,
    what: string,
    notFoundIsOk: boolean,
    signal?: AbortSignal,
  ): Promise<boolean> {
    let statusCode: number
    let text: string
    try {
      const response = await this.#pool.request({
        method,
        path,
        headers: body === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' },
        body,
        signal,
        headersTimeout: CALL_TIMEOUT_MS,
        bodyTimeout: CALL_TIMEOUT_MS,
      })
      statusCode = response.statusCode
      text = await response.body.text()
    } catch (error) {
      throw new Error(`Consul ${what} failed: ${describe(error)}`, { cause: error })
    }
    if (statusCode === 200) return true
    if (notFoundIsOk && statusCode === 404) return false
    throw new Error(`Consul ${what} failed: ${statusCode} ${text.trim().slice(0, 200)}`)
  }
}

interface ConsulResolverSettings {
  readonly pool: Pool
  readonly headers: Readonly<Record<string, string>>
  readonly logger: ConsulLogger
  readonly service: string
  readonly waitSeconds: number
  readonly retryMinMs: number
  readonly retryMaxMs: number
  readonly emptyGraceMs: number
  readonly panicThresholdPercent: number
  readonly onClose: (resolver: ConsulResolver) => void
}

class ConsulResolver implements Resolver {
  readonly #settings: ConsulResolverSettings
  readonly #abort = new AbortController()
  readonly #first = Promise.withResolvers<void>()
  readonly #pathPrefix: string
  /** Consul adds up to wait/16 of jitter; the margin covers it and a slow network. */
  readonly #timeoutMs: number
  readonly #loop: Promise<void>
  #list: readonly ServiceInstance[] = EMPTY
  #known = false
  #index = 0
  /** Consul failed to answer since the last answer. */
  #lost = false
  /** Until then (performance.now()), an empty answer does not replace a non-empty list. */
  #holdEmptyUntil = 0
  /** Fewer instances pass than the panic threshold: routing over all of them. */
  #panic = false
  #closing: Promise<void> | undefined

  constructor(settings: ConsulResolverSettings) {
    this.#settings = settings
    // Every instance with its checks, not only the passing ones: the panic rule needs both counts.
    this.#pathPrefix = `/v1/health/service/${encodeURIComponent(settings.service)}?wait=${settings.waitSeconds}s&index=`
    this.#timeoutMs = Math.ceil(settings.waitSeconds * 1000 * (17 / 16)) + 5_000
    // Nobody may be waiting on ready(); a rejection on close must not be reported as unhandled.
    this.#first.promise.catch(() => {})
    this.#loop = this.#run()
  }

  instances(): readonly ServiceInstance[] {
    return this.#list
  }

  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.#known) return
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no instance list for ${this.#settings.service} from Consul within ${timeoutMs} ms`)),
        timeoutMs,
      )
    })
    try {
      await Promise.race([this.#first.promise, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort()
      await this.#loop
      this.#first.reject(new Error(`resolver for ${this.#settings.service} was closed`))
      this.#settings.onClose(this)
    })()
    return this.#closing
  }

  async #run(): Promise<void> {
    const { signal } = this.#abort
    const { logger, service, retryMinMs, retryMaxMs } = this.#settings
    let failures = 0
    while (!signal.aborted) {
      try {
        await this.#poll(signal)
        if (failures > 0) logger.info({ service, failures }, 'Consul answers again')
        failures = 0
      } catch (error) {
        if (signal.aborted) break
        failures += 1
        // The agent may come back restarted, with a lower index: a blocking query on the old
        // index would then sit out its whole wait while instances re-register. Read afresh.
        this.#index = 0
        this.#lost = true
        // Capped exponential backoff with jitter, so restarted agents are not hit by every replica at once.
        const ceiling = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures - 1, 30))
        const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
        const fields = { service, failures, retryInMs: delay, err: describe(error), instances: this.#list.length }
        // One warning per outage; the retries after it would only repeat it.
        if (failures === 1) logger.warn(fields, 'Consul query failed; keeping the last known instances')
        else logger.debug(fields, 'Consul query failed again')
        try {
          await sleep(delay, undefined, { signal })
        } catch {
          break
        }
      }
    }
  }

  async #poll(signal: AbortSignal): Promise<void> {
    const { statusCode, headers, body } = await this.#settings.pool.request({
      method: 'GET',
      path: this.#pathPrefix + this.#index,
      headers: this.#settings.headers,
      signal,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    })
    if (statusCode !== 200) {
      const text = await body.text()
      throw new Error(`Consul answered ${statusCode}: ${text.trim().slice(0, 200)}`)
    }
    const entries = (await body.json()) as unknown
    if (!Array.isArray(entries)) throw new Error('Consul answered with something other than a list')

    // Consul's rules for blocking queries: start over when the index goes backwards (agent
    // restarted, snapshot restored); never send 0 again after a response, it would not block.
    const raw = headers['x-consul-index']
    const index = Number(Array.isArray(raw) ? raw[0] : raw)
    const backwards = Number.isSafeInteger(index) && index > 0 && index < this.#index
    if (this.#lost || backwards) {
      // A restarted agent lists instances only as they register again and pass their first
      // check: for a while, "none" means "not yet", not "gone".
      this.#holdEmptyUntil = performance.now() + this.#settings.emptyGraceMs
      this.#lost = false
    }
    this.#apply(entries as readonly HealthEntry[])
    if (!Number.isSafeInteger(index) || index <= 0) this.#index = 1
    else if (backwards) this.#index = 0
    else this.#index = index
  }

  #apply(entries: readonly HealthEntry[]): void {
    const passing: ServiceInstance[] = []
    const known: ServiceInstance[] = []
    for (const entry of entries) {
      const id = entry.Service?.ID
      const port = entry.Service?.Port
      const address = entry.Service?.Address ?? ''
      const host = address === '' ? (entry.Node?.Address ?? '') : address
      if (id === undefined || port === undefined || host === '') continue
      const checks = entry.Checks ?? []
      // An instance (or node) an operator put in maintenance is out, panic or not.
      if (checks.some((check) => check.CheckID === '_node_maintenance' || check.CheckID?.startsWith('_service_maintenance:'))) continue
      const instance = Object.freeze({ id, url: `http://${urlHost(host)}:${port}` })
      known.push(instance)
      // What `?passing` means: every check of the instance and of its node passes.
      if (checks.every((check) => check.Status === 'passing')) passing.push(instance)
    }
    const { logger, service, panicThresholdPercent } = this.#settings
    const panic = known.length > 0 && passing.length * 100 < panicThresholdPercent * known.length
    if (panic !== this.#panic) {
      this.#panic = panic
      const fields = { service, passing: passing.length, known: known.length, panicThresholdPercent }
      if (panic) logger.warn(fields, 'too few instances pass their checks; routing over all of them (panic)')
      else logger.info(fields, 'enough instances pass their checks again; routing over the passing ones')
    }
    const next = panic ? known : passing
    next.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

    if (next.length === 0 && this.#list.length > 0 && performance.now() < this.#holdEmptyUntil) {
      logger.debug(
        { service, instances: this.#list.length },
        'Consul lists no instance right after it came back; keeping the last known ones while they re-register',
      )
      return
    }

    // Keep the same array when nothing changed: readers (the balancer) compare references.
    if (!sameInstances(this.#list, next)) {
      this.#list = Object.freeze(next)
      logger.info({ service, instances: next.map((instance) => instance.url) }, 'instances changed')
    }
    if (!this.#known) {
      this.#known = true
      this.#first.resolve()
    }
  }
}

function sameInstances(a: readonly ServiceInstance[], b: readonly ServiceInstance[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.id !== b[i]!.id || a[i]!.url !== b[i]!.url) return false
  }
  return true
}

/** IPv6 literals need brackets inside a URL. */
function urlHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code} ${error.message}` : error.message
  }
  return String(error)
}
