import { describe, expect, it } from 'vitest'
import {
  asEarlierResult,
  compareResults,
  REFERENCE_FILE,
  RESULT_FORMAT,
  resultFiles,
  serialize,
  stampOf,
  type BenchResult,
} from '../lib/results.ts'
import { parseSettings } from '../lib/settings.ts'
import { evaluateTargets, type Measured } from '../lib/targets.ts'
import { passingRun, saturationSummary, withoutScenario } from './fixtures.ts'

function result(measured: Measured, argv: string[] = []): BenchResult {
  const parsed = parseSettings(argv, true)
  if (parsed.help) throw new Error('unexpected help')
  return {
    format: RESULT_FORMAT,
    startedAt: '2026-12-02T18:00:00.000Z',
    header: [],
    settings: parsed.settings,
    machine: { cpus: 2, model: 'AMD EPYC', kernel: '6.1', node: 'v24.21.0', postgres: 'PostgreSQL 15.18', nginx: '1.22.1' },
    pinned: {},
    servers: measured.servers,
    saturation: measured.saturation,
    fixedRate: measured.fixedRate,
    targets: evaluateTargets(measured),
    otherLoad: { median: 0, worst: 0, starts: 0 },
    notes: [],
    sink: {},
    saturationRuns: [],
    rateRuns: [],
    profile: undefined,
  }
}

/** What --compare reads back: the file as JSON (NaN written as null). */
const roundTrip = (run: BenchResult) => asEarlierResult(JSON.parse(serialize(run)))

describe('result files', () => {
  it('names a run by a timestamp that is a valid file name and sorts', () => {
    expect(stampOf(new Date('2026-12-02T18:11:01.765Z'))).toBe('2026-12-02T18-11-01-765Z')
  })

  it('writes the timestamped file, and the committed reference only when asked', () => {
    expect(resultFiles('/r', 'S', false)).toEqual(['/r/S.json'])
    expect(resultFiles('/r', 'S', true)).toEqual(['/r/S.json', `/r/${REFERENCE_FILE}`])
  })

  it('serializes to JSON with a final newline, NaN as null', () => {
    const text = serialize(result(passingRun()))
    expect(text.endsWith('}\n')).toBe(true)
    const parsed = JSON.parse(text) as { saturation: Record<string, { cpuPerRequest: { proxy: unknown } }> }
    expect(parsed.saturation['direct/postgres']!.cpuPerRequest.proxy).toBeNull()
  })
})

describe('asEarlierResult', () => {
  it.each([[null], [{}], [{ format: 1, targets: [] }], [{ format: RESULT_FORMAT }]])('refuses %o', (json) => {
    expect(() => asEarlierResult(json)).toThrow(`not a bench results file of format ${RESULT_FORMAT}`)
  })
})

describe('compareResults', () => {
  it('shows before → after for every target with the relative change', () => {
    const before = passingRun()
    const after: Measured = {
      ...before,
      saturation: { ...before.saturation, 'gateway/light': saturationSummary({ proxy: 45, upstream: 30 }) },
    }
    const comparison = compareResults(roundTrip(result(before)), result(after))
    expect(comparison.warnings).toEqual([])
    expect(comparison.rows).toHaveLength(12)
    expect(comparison.rows.find(([label]) => label === 'gateway CPU/req, light upstream, production defaults')).toEqual([
      'gateway CPU/req, light upstream, production defaults',
      '60 µs',
      '45 µs',
      '-25%',
      'PASS → PASS',
    ])
  })

  it('shows a target the earlier run could not measure as missing', () => {
    const comparison = compareResults(roundTrip(result(withoutScenario(passingRun(), 'nginx/light'))), result(passingRun()))
    expect(comparison.rows.find(([label]) => label.startsWith('gateway CPU/req ÷ nginx'))!.slice(1)).toEqual([
      '–',
      '2.00×',
      '–',
      'MISS → PASS',
    ])
  })

  it('warns when the two runs used different settings', () => {
    const comparison = compareResults(roundTrip(result(passingRun(), ['--quick'])), result(passingRun(), ['--gateway-env', 'A=1']))
    expect(comparison.warnings).toEqual([
      'settings differ: rounds 1 → 3',
      'settings differ: duration 2 → 6',
      'settings differ: warmup 1 → 3',
      'settings differ: rateDuration 2 → 5',
      'settings differ: starts 1 → 3',
      'settings differ: gatewayEnv {} → {"A":"1"}',
    ])
  })
})
