import { fixed, ms } from './format.ts'
import type { ServerId } from './scenarios.ts'
import type { RateSummary, SaturationSummary, ServerSummary, Summaries } from './summary.ts'

/** What the targets are evaluated on: the summaries of one run. */
export interface Measured {
  readonly saturation: Summaries<SaturationSummary>
  readonly fixedRate: Summaries<RateSummary>
  readonly servers: Partial<Record<ServerId, ServerSummary>>
  /** The fixed rate of the latency runs, requests/s. */
  readonly rate: number
  /** The worst other load while the starts were timed (share of the machine). */
  readonly startsOtherLoad: number
}

export type Unit = '×' | 'µs' | 'MiB' | 's' | 'ms'

/** One row of issue #11's targets, evaluated. Every target is an upper bound. */
export interface TargetResult {
  readonly id: string
  readonly label: string
  /** NaN when it could not be measured (it is then a MISS). */
  readonly value: number
  readonly unit: Unit
  readonly limit: number
  readonly moonshot?: number
  readonly pass: boolean
  /**
   * Whether other load was high enough during the runs behind a timing figure (throughput,
   * latency, start time) to make it unreliable. CPU per request and RSS come from per-process
   * counters and are never marked.
   */
  readonly noisy: boolean
  /** The figures beside it, e.g. both sides of a ratio. */
  readonly detail: string
}

/** Other load (share of the machine) from which timing figures are marked noisy. */
export const NOISY_OTHER_LOAD = 0.1

interface Definition {
  readonly id: string
  readonly label: string | ((measured: Measured) => string)
  readonly unit: Unit
  readonly limit: number
  readonly moonshot?: number
  /** The worst other load behind the figure, or undefined for a figure that does not depend on it. */
  readonly otherLoad?: (measured: Measured) => number
  readonly value: (measured: Measured) => number
  readonly detail: (measured: Measured) => string
}

const proxyCpu = (measured: Measured, scenario: keyof Measured['saturation']) =>
  measured.saturation[scenario]?.cpuPerRequest.proxy ?? Number.NaN
const micros = (value: number) => `${fixed(value)} µs`
const mib = (value: number) => `${fixed(value)} MiB`
const start = (measured: Measured, server: ServerId) => measured.servers[server]?.startToReadyMs ?? Number.NaN
const rss = (measured: Measured, server: ServerId) => measured.servers[server]?.rssMb ?? Number.NaN
const rateOtherLoad = (measured: Measured, ...scenarios: (keyof Measured['fixedRate'])[]) =>
  Math.max(...scenarios.map((scenario) => measured.fixedRate[scenario]?.worstOtherLoad ?? 0))

/** Issue #11's targets, in its order. */
const DEFINITIONS: readonly Definition[] = [
  {
    id: 'gateway-cpu-vs-reply-from',
    label: 'gateway CPU/req ÷ reply-from (logging), PostgreSQL upstream',
    unit: '×',
    limit: 1,
    moonshot: 0.6,
    value: (m) => proxyCpu(m, 'gateway/postgres') / proxyCpu(m, 'reply-from/postgres'),
    detail: (m) =>
      `${micros(proxyCpu(m, 'gateway/postgres'))} vs ${micros(proxyCpu(m, 'reply-from/postgres'))}; light upstream ${ratio(proxyCpu(m, 'gateway/light') / proxyCpu(m, 'reply-from/light'))}`,
  },
  {
    id: 'gateway-cpu-vs-nginx',
    label: 'gateway CPU/req ÷ nginx, tracing off, light upstream',
    unit: '×',
    limit: 2.5,
    value: (m) => proxyCpu(m, 'gateway-untraced/light') / proxyCpu(m, 'nginx/light'),
    detail: (m) => `${micros(proxyCpu(m, 'gateway-untraced/light'))} vs ${micros(proxyCpu(m, 'nginx/light'))}`,
  },
  {
    id: 'gateway-cpu-light',
    label: 'gateway CPU/req, light upstream, production defaults',
    unit: 'µs',
    limit: 70,
    value: (m) => proxyCpu(m, 'gateway/light'),
    detail: (m) => `reply-from ${micros(proxyCpu(m, 'reply-from/light'))}, nginx ${micros(proxyCpu(m, 'nginx/light'))}`,
  },
  {
    id: 'gateway-rss',
    label: 'gateway RSS after the saturation runs',
    unit: 'MiB',
    limit: 150,
    // The larger of the production-default gateways: the one in front of the light upstream served the most requests.
    value: (m) => Math.max(rss(m, 'gateway/postgres'), rss(m, 'gateway/light')),
    detail: (m) => `PostgreSQL upstream ${mib(rss(m, 'gateway/postgres'))}, light ${mib(rss(m, 'gateway/light'))}`,
  },
  {
    id: 'user-service-rss-postgres',
    label: 'user-service RSS on PostgreSQL',
    unit: 'MiB',
    limit: 150,
    value: (m) => rss(m, 'postgres'),
    detail: () => 'after the saturation runs',
  },
  {
    id: 'user-service-rss-pglite',
    label: 'user-service RSS on PGlite',
    unit: 'MiB',
    limit: 250,
    value: (m) => rss(m, 'pglite'),
    detail: () => 'after the saturation runs',
  },
  {
    id: 'user-service-cpu-postgres',
    label: 'user-service CPU per GET /users/1 on PostgreSQL',
    unit: 'µs',
    limit: 120,
    value: (m) => m.saturation['direct/postgres']?.cpuPerRequest.upstream ?? Number.NaN,
    detail: (m) =>
      `PGlite ${micros(m.saturation['direct/pglite']?.cpuPerRequest.upstream ?? Number.NaN)}; PostgreSQL server ${micros(m.saturation['direct/postgres']?.cpuPerRequest.postgres ?? Number.NaN)}`,
  },
  {
    id: 'gateway-start-vs-reply-from',
    label: 'gateway start→ready ÷ reply-from',
    unit: '×',
    limit: 1.2,
    otherLoad: (m) => m.startsOtherLoad,
    value: (m) => start(m, 'gateway/postgres') / start(m, 'reply-from/postgres'),
    detail: (m) => `${fixed(start(m, 'gateway/postgres'))} ms vs ${fixed(start(m, 'reply-from/postgres'))} ms`,
  },
  {
    id: 'user-service-start-postgres',
    label: 'user-service start→ready on PostgreSQL',
    unit: 's',
    limit: 1.5,
    otherLoad: (m) => m.startsOtherLoad,
    value: (m) => start(m, 'postgres') / 1000,
    detail: (m) => `starts: ${(m.servers.postgres?.startsMs ?? []).map((value) => fixed(value)).join(', ')} ms`,
  },
  {
    id: 'user-service-start-pglite',
    label: 'user-service start→ready on PGlite',
    unit: 's',
    limit: 4,
    otherLoad: (m) => m.startsOtherLoad,
    value: (m) => start(m, 'pglite') / 1000,
    detail: (m) => `starts: ${(m.servers.pglite?.startsMs ?? []).map((value) => fixed(value)).join(', ')} ms`,
  },
  {
    id: 'user-service-p99-postgres',
    label: (m) => `p99 at ${m.rate} req/s, direct to user-service on PostgreSQL`,
    unit: 'ms',
    limit: 5,
    otherLoad: (m) => rateOtherLoad(m, 'direct/postgres'),
    value: (m) => m.fixedRate['direct/postgres']?.p99 ?? Number.NaN,
    detail: (m) => `p50 ${ms(m.fixedRate['direct/postgres']?.p50)} ms`,
  },
  {
    id: 'gateway-added-p99',
    label: (m) => `p99 the gateway adds at ${m.rate} req/s`,
    unit: 'ms',
    limit: 2,
    otherLoad: (m) => rateOtherLoad(m, 'direct/postgres', 'gateway/postgres'),
    value: (m) => m.fixedRate['gateway/postgres']?.addedP99 ?? Number.NaN,
    detail: (m) =>
      `reply-from adds ${ms(m.fixedRate['reply-from/postgres']?.addedP99)} ms, nginx ${ms(m.fixedRate['nginx/postgres']?.addedP99)} ms`,
  },
]

export function evaluateTargets(measured: Measured): TargetResult[] {
  return DEFINITIONS.map((definition) => {
    const value = definition.value(measured)
    return {
      id: definition.id,
      label: typeof definition.label === 'string' ? definition.label : definition.label(measured),
      value,
      unit: definition.unit,
      limit: definition.limit,
      ...(definition.moonshot === undefined ? {} : { moonshot: definition.moonshot }),
      pass: value <= definition.limit,
      noisy: (definition.otherLoad?.(measured) ?? 0) >= NOISY_OTHER_LOAD,
      detail: definition.detail(measured),
    }
  })
}

/**
 * A target's value in its unit, with more digits when the usual ones would round it across
 * `limit` (1.004× shown as 1.00× would read as a pass of `≤ 1.00×`).
 */
export function formatValue(value: number, unit: Unit, limit = Number.NaN): string {
  if (!Number.isFinite(value)) return '–'
  // Milliseconds of latency: 2 decimals below 10, 1 above, as in the tables.
  const digits = unit === '×' || unit === 's' || (unit === 'ms' && Math.abs(value) < 10) ? 2 : unit === 'ms' ? 1 : 0
  const short = value.toFixed(digits)
  const shown = Number.isNaN(limit) || Number(short) <= limit === value <= limit ? short : value.toFixed(digits + 2)
  return unit === '×' ? `${shown}×` : `${shown} ${unit}`
}

/** `≤ 1.00× (moonshot 0.60×)`. */
export function formatLimit(target: Pick<TargetResult, 'limit' | 'unit' | 'moonshot'>): string {
  const limit = `≤ ${formatValue(target.limit, target.unit)}`
  return target.moonshot === undefined ? limit : `${limit} (moonshot ${formatValue(target.moonshot, target.unit)})`
}

function ratio(value: number): string {
  return formatValue(value, '×')
}
