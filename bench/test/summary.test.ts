import { describe, expect, it } from 'vitest'
import type { ScenarioId } from '../lib/scenarios.ts'
import { median, percentile } from '../lib/stats.ts'
import { summarizeRate, summarizeSaturation, worst, type RateRun, type SaturationRun } from '../lib/summary.ts'

/** What every run has: one second, 1,000 answers, no failure, a quiet machine. */
const base = (scenario: ScenarioId, round: number) => ({
  scenario,
  round,
  ok: 1000,
  non2xx: 0,
  errors: 0,
  seconds: 1,
  foreign: 0,
  steal: 0,
})

function saturationRun(scenario: ScenarioId, round: number, proxyCpu: number, extra: Partial<SaturationRun> = {}): SaturationRun {
  return {
    ...base(scenario, round),
    rps: 1000 * round,
    p50: round,
    p99: 10 * round,
    max: 20 * round,
    cpuPerRequest: { proxy: proxyCpu, upstream: 100 + round, postgres: Number.NaN, loader: 5 },
    serverCoreBusy: 1,
    logLinesPerRequest: 1,
    spansPerRequest: Number.NaN,
    ...extra,
  }
}

function rateRun(scenario: ScenarioId, round: number, p99: number, extra: Partial<RateRun> = {}): RateRun {
  return {
    ...base(scenario, round),
    rps: 1000,
    p50: p99 / 2,
    p99,
    max: p99 * 2,
    maxInFlight: 3,
    cpuPerRequest: { proxy: Number.NaN, upstream: 100, postgres: 50, loader: 5 },
    pauses: undefined,
    ...extra,
  }
}

describe('summarizeSaturation', () => {
  it('takes the median of each figure over the rounds', () => {
    const runs = [saturationRun('gateway/light', 1, 90), saturationRun('gateway/light', 2, 60), saturationRun('gateway/light', 3, 70)]
    const summary = summarizeSaturation(runs)['gateway/light']!
    expect(summary).toMatchObject({ rps: 2000, p50: 2, p99: 20, failures: 0, worstOtherLoad: 0 })
    expect(summary.cpuPerRequest.proxy).toBe(70)
    expect(summary.cpuPerRequest.upstream).toBe(102)
  })

  it('keeps a figure that does not apply as NaN rather than 0', () => {
    const summary = summarizeSaturation([saturationRun('direct/light', 1, Number.NaN)])['direct/light']!
    expect(Number.isNaN(summary.cpuPerRequest.proxy)).toBe(true)
    expect(Number.isNaN(summary.cpuPerRequest.postgres)).toBe(true)
  })

  it('adds up failures and keeps the worst other load of every round', () => {
    const runs = [
      saturationRun('nginx/light', 1, 30, { non2xx: 2, foreign: 0.05, steal: 0.01 }),
      saturationRun('nginx/light', 2, 30, { errors: 3, foreign: 0.2 }),
    ]
    expect(summarizeSaturation(runs)['nginx/light']).toMatchObject({ failures: 5, worstOtherLoad: 0.2 })
  })

  it('summarizes each scenario apart', () => {
    const summaries = summarizeSaturation([saturationRun('gateway/light', 1, 60), saturationRun('nginx/light', 1, 25)])
    expect(Object.keys(summaries)).toEqual(['gateway/light', 'nginx/light'])
  })
})

describe('summarizeRate', () => {
  it('pairs each proxy run with the direct run of the same upstream and round before taking the median', () => {
    const runs = [
      rateRun('direct/postgres', 1, 3),
      rateRun('gateway/postgres', 1, 4),
      rateRun('direct/postgres', 2, 10),
      rateRun('gateway/postgres', 2, 12),
      rateRun('direct/postgres', 3, 2),
      rateRun('gateway/postgres', 3, 5),
    ]
    const summary = summarizeRate(runs)
    // Added p99 by round: 1, 2, 3; the median of the gateway's own p99s is 5.
    expect(summary['gateway/postgres']).toMatchObject({ p99: 5, addedP99: 2 })
    expect(Number.isNaN(summary['direct/postgres']!.addedP99)).toBe(true)
  })

  it('leaves the added latency unknown when no direct run shares the round', () => {
    const summary = summarizeRate([rateRun('direct/postgres', 1, 3), rateRun('nginx/postgres', 2, 4)])
    expect(Number.isNaN(summary['nginx/postgres']!.addedP99)).toBe(true)
  })
})

describe('worst', () => {
  it('adds steal to other processes and takes the worst run, 0 for none', () => {
    expect(
      worst([
        { foreign: 0.1, steal: 0.05 },
        { foreign: 0.12, steal: 0 },
      ]),
    ).toBeCloseTo(0.15)
    expect(worst([])).toBe(0)
  })
})

describe('median and percentile', () => {
  it('ignore NaN in a median and average the middle two of an even count', () => {
    expect(median([3, Number.NaN, 1, 2, 10])).toBe(2.5)
    expect(Number.isNaN(median([Number.NaN]))).toBe(true)
  })

  it('take the nearest rank', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, index) => index + 1)
    expect(percentile(sorted, 50)).toBe(50)
    expect(percentile(sorted, 99)).toBe(99)
    expect(Number.isNaN(percentile([], 99))).toBe(true)
  })
})
