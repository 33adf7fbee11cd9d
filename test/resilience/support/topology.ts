// Starting and tracking the real service processes of one resilience file.
import pg from 'pg'
import { startService, type ServiceName, type ServiceProcess } from '../../../scripts/lib/service-process.ts'

export { eventually, untilAnswers } from '../../support/wait.ts'

/** Short drain and shutdown bounds so a rolling restart fits the suite's time budget. */
export const DRAIN_DELAY_MS = 2_000
export const SHUTDOWN_TIMEOUT_MS = 10_000

/** Quiet by default (the per-request lines cost CPU the load needs); RESILIENCE_LOG_LEVEL=info for more. */
const LOG_LEVEL = process.env.RESILIENCE_LOG_LEVEL ?? 'warn'

export interface StartedService extends ServiceProcess {
  /** When the process was started and when it was ready (`performance.now()`). */
  readonly startedAt: number
  readonly readyAt: number
}

/** Every process a file started, so `afterAll` can SIGKILL what is left whatever happened. */
export class Topology {
  readonly processes: StartedService[] = []
  readonly #common: Record<string, string>
  /** If the test process dies before afterAll, no service process is left behind. */
  readonly #onExit = () => {
    for (const service of this.alive()) service.child.kill('SIGKILL')
  }

  constructor(common: Record<string, string | undefined>) {
    this.#common = Object.fromEntries(Object.entries(common).filter((entry): entry is [string, string] => entry[1] !== undefined))
    process.once('exit', this.#onExit)
  }

  /** Environment every process gets: Consul, short checks and drain bounds, quiet logs. */
  static env(consulAddr: string | undefined): Record<string, string | undefined> {
    return {
      CONSUL_HTTP_ADDR: consulAddr,
      SERVICE_ADDRESS: '127.0.0.1',
      CONSUL_CHECK_INTERVAL: '1s',
      DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      LOG_LEVEL,
      LOG_REQUESTS: 'false',
      // The suite drives every request from one address; the limit is not under test here.
      RATE_LIMIT_MAX: '10000000',
      // Nor is load shedding, outside overload.resilience.ts (which sets its own threshold): on a
      // machine busy beyond these scenarios' own load, shedding rightly answers a few 503s,
      // which would read as failures of the restart, failover or outage under test.
      MAX_EVENT_LOOP_DELAY_MS: '0',
    }
  }

  async start(name: ServiceName, env: Record<string, string | undefined> = {}, port?: number): Promise<StartedService> {
    const startedAt = performance.now()
    const service = await startService({ name, port, env: { ...this.#common, ...env } })
    const started: StartedService = Object.assign(service, { startedAt, readyAt: performance.now() })
    this.processes.push(started)
    return started
  }

  alive(): StartedService[] {
    return this.processes.filter((service) => service.child.exitCode === null && service.child.signalCode === null)
  }

  /** SIGKILLs every process still running (the fallback of `afterAll`). */
  async killAll(): Promise<void> {
    await Promise.all(this.alive().map((service) => service.stop('SIGKILL')))
    process.removeListener('exit', this.#onExit)
  }

  /** The last lines of every process, for a failed test's log. */
  tails(lines = 15): string {
    return this.processes
      .map(
        (service) =>
          `--- ${service.name} :${service.port} (exit ${service.child.exitCode ?? service.child.signalCode ?? 'running'})\n${service.lines.slice(-lines).join('\n')}`,
      )
      .join('\n')
  }
}

/** Parses Prometheus text into `name{labels}` → value (labels as written by prom-client). */
export async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) })
  const text = await response.text()
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    values.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return values
}

/** The value of one series: `metric(values, 'upstream_requests_total', {upstream: 'user-service', outcome: 'ok'})`. */
export function metric(values: Map<string, number>, name: string, labels: Record<string, string>): number {
  let sum = 0
  for (const [series, value] of values) {
    if (!series.startsWith(`${name}{`) && series !== name) continue
    if (Object.entries(labels).every(([key, expected]) => series.includes(`${key}="${expected}"`))) sum += value
  }
  return sum
}

/** A fingerprint of a table's whole content: row count and an md5 over every row in id order. */
export async function tableFingerprint(databaseUrl: string, table: 'users' | 'orders'): Promise<{ rows: number; md5: string }> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ rows: number; md5: string | null }>(
      `SELECT count(*)::integer AS rows, md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) AS md5 FROM ${table} t`,
    )
    return { rows: rows[0]!.rows, md5: rows[0]!.md5 ?? '' }
  } finally {
    await client.end()
  }
}

/** Prints one summary line the CI log keeps: `[resilience] scenario: key=value …`. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  const text = Object.entries(figures)
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(' ')
  console.log(`[resilience] ${scenario}: ${text}`)
}
