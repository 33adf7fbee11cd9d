import { join } from 'node:path'
import type { ProfileSummary } from './profile.ts'
import type { Settings } from './settings.ts'
import type { SinkPath } from './sink.ts'
import type { ServerId } from './scenarios.ts'
import type { RateRun, RateSummary, SaturationRun, SaturationSummary, ServerSummary, Summaries } from './summary.ts'
import { formatValue, type TargetResult } from './targets.ts'

/** Version of the results' shape, so a comparison can refuse a file it cannot read. */
export const RESULT_FORMAT = 2

/** The name under bench/results/ of the committed reference run (every other run is gitignored). */
export const REFERENCE_FILE = 'reference.json'

export interface Machine {
  readonly cpus: number
  readonly model: string
  readonly kernel: string
  readonly node: string
  readonly postgres: string
  readonly nginx: string
}

/** Everything one run of `npm run bench` measured, as written to bench/results/. NaN is written as null. */
export interface BenchResult {
  readonly format: typeof RESULT_FORMAT
  readonly startedAt: string
  readonly header: readonly string[]
  readonly settings: Settings
  readonly machine: Machine
  /** Each process's allowed CPUs at the end (taskset list). */
  readonly pinned: Readonly<Record<string, string>>
  readonly servers: Partial<Record<ServerId, ServerSummary>>
  readonly saturation: Summaries<SaturationSummary>
  readonly fixedRate: Summaries<RateSummary>
  readonly targets: readonly TargetResult[]
  /** Share of the machine used by other processes and stolen by the hypervisor: median and worst run, and during the timed starts. */
  readonly otherLoad: { readonly median: number; readonly worst: number; readonly starts: number }
  readonly notes: readonly string[]
  /** What the OTLP sink received, by path. */
  readonly sink: Readonly<Record<string, SinkPath>>
  readonly saturationRuns: readonly SaturationRun[]
  readonly rateRuns: readonly RateRun[]
  readonly profile: (ProfileSummary & { readonly file: string; readonly cpuPerRequest: number }) | undefined
}

/** `2026-12-02T18-11-01-765Z`: a timestamp that sorts and is a valid file name. */
export function stampOf(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-')
}

/** Where a run's results go: a timestamped file, and the reference too when asked. */
export function resultFiles(dir: string, stamp: string, saveReference: boolean): string[] {
  return [join(dir, `${stamp}.json`), ...(saveReference ? [join(dir, REFERENCE_FILE)] : [])]
}

export function serialize(result: BenchResult): string {
  return `${JSON.stringify(result, null, 2)}\n`
}

/** The settings whose difference makes two runs' figures incomparable. */
const COMPARABLE = [
  'rounds',
  'duration',
  'warmup',
  'connections',
  'loadTool',
  'rate',
  'rateDuration',
  'rateTool',
  'starts',
  'logging',
  'tracing',
  'gatewayEnv',
  'userEnv',
  'pin',
] as const

export interface Comparison {
  readonly rows: readonly (readonly [label: string, before: string, after: string, change: string, result: string])[]
  /** Why the two runs may not be comparable, one line each. */
  readonly warnings: readonly string[]
}

/** An earlier run's results as read back: JSON, so NaN figures are null. */
export type EarlierResult = Partial<Omit<BenchResult, 'targets'>> & { readonly targets: readonly TargetResult[] }

/** Checks that parsed JSON is a results file this version can compare with; throws otherwise. */
export function asEarlierResult(json: unknown): EarlierResult {
  const candidate = json as Partial<BenchResult> | null
  if (typeof candidate !== 'object' || candidate === null || candidate.format !== RESULT_FORMAT || !Array.isArray(candidate.targets)) {
    throw new Error(`not a bench results file of format ${RESULT_FORMAT}`)
  }
  return candidate as EarlierResult
}

/** Before → after for every target of `after`. */
export function compareResults(earlier: EarlierResult, after: BenchResult): Comparison {
  const warnings: string[] = []
  for (const key of COMPARABLE) {
    const [was, is] = [JSON.stringify(earlier.settings?.[key]), JSON.stringify(after.settings[key])]
    if (was !== is) warnings.push(`settings differ: ${key} ${was ?? 'unset'} → ${is}`)
  }
  const machine = (of: Partial<Machine> | undefined) => `${of?.cpus ?? '?'} × ${of?.model ?? '?'}`
  if (machine(earlier.machine) !== machine(after.machine))
    warnings.push(`machines differ: ${machine(earlier.machine)} → ${machine(after.machine)}`)

  const rows = after.targets.map((target) => {
    const old = earlier.targets.find((candidate) => candidate.id === target.id)
    // JSON has null where the run had NaN.
    const was = typeof old?.value === 'number' ? old.value : Number.NaN
    return [
      target.label,
      formatValue(was, target.unit),
      formatValue(target.value, target.unit),
      change(was, target.value),
      `${old === undefined ? '–' : verdict(old.pass)} → ${verdict(target.pass)}`,
    ] as const
  })
  return { rows, warnings }
}

const verdict = (pass: boolean) => (pass ? 'PASS' : 'MISS')

/** The relative change, `-12%`; `–` when either side is missing. */
function change(before: number, after: number): string {
  if (!Number.isFinite(before) || !Number.isFinite(after) || before === 0) return '–'
  const percent = (100 * (after - before)) / Math.abs(before)
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(0)}%`
}
