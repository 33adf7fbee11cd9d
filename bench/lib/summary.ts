import type { LoadResult } from './load.ts'
import type { Pauses } from './measure.ts'
import type { ProxyKind, ScenarioId, UpstreamKind } from './scenarios.ts'
import { median } from './stats.ts'

/**
 * CPU µs per response of each process involved: the proxy (NaN direct), the upstream
 * (user-service or the light one), PostgreSQL (NaN unless it is the upstream's database) and,
 * in saturation runs, the load generator with the OTLP sink and the log drains.
 */
export interface CpuPerRequest {
  readonly proxy: number
  readonly upstream: number
  readonly postgres: number
  readonly loader: number
}

/** Share of the machine used by processes outside the benchmark and stolen by the hypervisor. */
export interface OtherLoad {
  readonly foreign: number
  readonly steal: number
}

export interface SaturationRun extends LoadResult, OtherLoad {
  readonly scenario: ScenarioId
  readonly round: number
  readonly cpuPerRequest: CpuPerRequest
  /** CPU of every server ÷ wall time ÷ the cores they may use (1 = their core was saturated). */
  readonly serverCoreBusy: number
  /** Lines the proxy wrote to stdout (its access log) per response; NaN when not counted. */
  readonly logLinesPerRequest: number
  /** Spans the OTLP sink received per response; NaN for everything but the gateway. */
  readonly spansPerRequest: number
}

export interface RateRun extends LoadResult, OtherLoad {
  readonly scenario: ScenarioId
  readonly round: number
  readonly maxInFlight: number
  readonly cpuPerRequest: CpuPerRequest
  /** The target's own event-loop lag maximum and GC during the run (kit services only). */
  readonly pauses: Pauses | undefined
}

export interface SaturationSummary {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuPerRequest: CpuPerRequest
  readonly serverCoreBusy: number
  readonly logLinesPerRequest: number
  readonly spansPerRequest: number
  /** Non-2xx answers and errors over every round. */
  readonly failures: number
  /** The worst other load (foreign + steal) of its rounds. */
  readonly worstOtherLoad: number
}

export interface RateSummary {
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** This scenario minus direct to the same upstream, paired within each round, then the median; NaN direct. */
  readonly addedP50: number
  readonly addedP99: number
  readonly cpuPerRequest: CpuPerRequest
  readonly failures: number
  readonly worstOtherLoad: number
}

export type Summaries<T> = Partial<Record<ScenarioId, T>>

/** Medians over the rounds, per scenario, in the order the scenarios were first run. */
export function summarizeSaturation(runs: readonly SaturationRun[]): Summaries<SaturationSummary> {
  const summaries: Summaries<SaturationSummary> = {}
  for (const [scenario, of] of byScenario(runs)) {
    summaries[scenario] = {
      rps: med(of, (run) => run.rps),
      p50: med(of, (run) => run.p50),
      p99: med(of, (run) => run.p99),
      cpuPerRequest: medianCpu(of),
      serverCoreBusy: med(of, (run) => run.serverCoreBusy),
      logLinesPerRequest: med(of, (run) => run.logLinesPerRequest),
      spansPerRequest: med(of, (run) => run.spansPerRequest),
      failures: failures(of),
      worstOtherLoad: worst(of),
    }
  }
  return summaries
}

export function summarizeRate(runs: readonly RateRun[]): Summaries<RateSummary> {
  const summaries: Summaries<RateSummary> = {}
  for (const [scenario, of] of byScenario(runs)) {
    const [proxy, upstream] = scenario.split('/') as [ProxyKind, UpstreamKind]
    const direct = runs.filter((run) => run.scenario === `direct/${upstream}`)
    const added = (pick: (run: RateRun) => number) =>
      proxy === 'direct'
        ? Number.NaN
        : median(
            of.map((run) => {
              const base = direct.find((candidate) => candidate.round === run.round)
              return base === undefined ? Number.NaN : pick(run) - pick(base)
            }),
          )
    summaries[scenario] = {
      p50: med(of, (run) => run.p50),
      p99: med(of, (run) => run.p99),
      max: med(of, (run) => run.max),
      addedP50: added((run) => run.p50),
      addedP99: added((run) => run.p99),
      cpuPerRequest: medianCpu(of),
      failures: failures(of),
      worstOtherLoad: worst(of),
    }
  }
  return summaries
}

/** The worst other load (foreign + steal) of `runs`; 0 when there are none. */
export function worst(runs: readonly OtherLoad[]): number {
  return runs.reduce((most, run) => Math.max(most, run.foreign + run.steal), 0)
}

function byScenario<T extends { readonly scenario: ScenarioId }>(runs: readonly T[]): Map<ScenarioId, T[]> {
  const groups = new Map<ScenarioId, T[]>()
  for (const run of runs) {
    const group = groups.get(run.scenario)
    if (group === undefined) groups.set(run.scenario, [run])
    else group.push(run)
  }
  return groups
}

const med = <T>(runs: readonly T[], pick: (run: T) => number) => median(runs.map(pick))

function medianCpu(runs: readonly { readonly cpuPerRequest: CpuPerRequest }[]): CpuPerRequest {
  return {
    proxy: med(runs, (run) => run.cpuPerRequest.proxy),
    upstream: med(runs, (run) => run.cpuPerRequest.upstream),
    postgres: med(runs, (run) => run.cpuPerRequest.postgres),
    loader: med(runs, (run) => run.cpuPerRequest.loader),
  }
}

function failures(runs: readonly LoadResult[]): number {
  return runs.reduce((sum, run) => sum + run.non2xx + run.errors, 0)
}

export interface ServerSummary {
  /** Spawn to first 200 on /health/ready of every timed start, in milliseconds. */
  readonly startsMs: readonly number[]
  /** Their median. */
  readonly startToReadyMs: number
  /** Resident set after the saturation runs, MiB. */
  readonly rssMb: number
}
