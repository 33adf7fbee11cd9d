import { deltaMs, fixed, ms, percent, table } from './format.ts'
import type { BenchResult, Comparison } from './results.ts'
import { FIXED_RATE, SATURATION, scenarioLabel, serverLabel, SERVERS } from './scenarios.ts'
import { formatLimit, formatValue, type TargetResult } from './targets.ts'

/** The saturation table: one row per scenario, medians over the rounds. */
export function renderSaturation(result: Pick<BenchResult, 'saturation'>): string {
  const rows = SATURATION.flatMap((scenario) => {
    const s = result.saturation[scenario.id]
    if (s === undefined) return []
    return [
      [
        scenarioLabel(scenario),
        fixed(s.rps),
        ms(s.p50),
        ms(s.p99),
        fixed(s.cpuPerRequest.proxy),
        fixed(s.cpuPerRequest.upstream),
        fixed(s.cpuPerRequest.postgres),
        fixed(s.cpuPerRequest.loader),
        percent(s.serverCoreBusy),
        percent(s.worstOtherLoad),
        String(s.failures),
      ],
    ]
  })
  return table(
    [
      'saturation',
      'req/s',
      'p50 ms',
      'p99 ms',
      'proxy µs/req',
      'upstream µs/req',
      'postgres µs/req',
      'loader µs/req',
      'server core',
      'other load',
      'failures',
    ],
    rows,
  )
}

/** The fixed-rate table: latency direct and through each proxy, and what each proxy adds. */
export function renderFixedRate(result: Pick<BenchResult, 'fixedRate' | 'settings'>): string {
  const rows = FIXED_RATE.flatMap((scenario) => {
    const r = result.fixedRate[scenario.id]
    if (r === undefined) return []
    return [
      [
        scenarioLabel(scenario),
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        deltaMs(r.addedP50),
        deltaMs(r.addedP99),
        fixed(r.cpuPerRequest.proxy),
        fixed(r.cpuPerRequest.upstream),
        percent(r.worstOtherLoad),
        String(r.failures),
      ],
    ]
  })
  return table(
    [
      `at ${result.settings.rate} req/s`,
      'p50 ms',
      'p99 ms',
      'max ms',
      'added p50',
      'added p99',
      'proxy µs/req',
      'upstream µs/req',
      'other load',
      'failures',
    ],
    rows,
  )
}

/** Start to ready and memory of every server process. */
export function renderServers(result: Pick<BenchResult, 'servers'>): string {
  const rows = SERVERS.flatMap((id) => {
    const s = result.servers[id]
    if (s === undefined) return []
    return [[serverLabel(id), fixed(s.startToReadyMs), s.startsMs.map((value) => fixed(value)).join(', '), fixed(s.rssMb)]]
  })
  return table(['server', 'start→ready ms', 'starts ms', 'RSS MiB'], rows, [0, 2])
}

/** PASS/MISS per target, with the measured value, the limit and the figures beside it. */
export function renderTargets(targets: readonly TargetResult[]): string {
  const rows = targets.map((target) => [
    `${target.pass ? 'PASS' : 'MISS'}${target.noisy ? ' (noisy)' : ''}`,
    target.label,
    formatValue(target.value, target.unit, target.limit),
    `${formatLimit(target)}${target.moonshot !== undefined && target.value <= target.moonshot ? ' ✓ moonshot' : ''}`,
    target.detail,
  ])
  return table(['result', 'target (issue #11)', 'measured', 'limit', 'beside'], rows, [0, 1, 3, 4])
}

export function renderComparison(comparison: Comparison, file: string): string {
  const lines = [table([`against ${file}`, 'before', 'after', 'change', 'result'], comparison.rows, [0, 4])]
  for (const warning of comparison.warnings) lines.push(`! ${warning}`)
  return lines.join('\n')
}

export function renderProfile(profile: NonNullable<BenchResult['profile']>): string {
  const shares = (list: readonly { name: string; percent: number }[]) =>
    list.map((share) => `    ${fixed(share.percent, 1).padStart(5)}%  ${share.name}`)
  return [
    `gateway CPU profile (light upstream): ${profile.samples} busy samples, ${fixed(profile.cpuPerRequest)} µs/req with the profiler on (${profile.file})`,
    '  self time by area (approximate):',
    ...shares(profile.areas),
    '  self time by component (natives charged to their JavaScript caller):',
    ...shares(profile.components),
    '  self time by function:',
    ...shares(profile.functions),
  ].join('\n')
}
