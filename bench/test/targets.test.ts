import { describe, expect, it } from 'vitest'
import { evaluateTargets, formatLimit, formatValue, type Measured } from '../lib/targets.ts'
import { passingRun, rateSummary, saturationSummary, withoutScenario } from './fixtures.ts'

const byId = (measured: Measured) => Object.fromEntries(evaluateTargets(measured).map((target) => [target.id, target]))

describe('evaluateTargets', () => {
  it('evaluates every target of issue #11, in its order, from a run that meets them all', () => {
    const targets = evaluateTargets(passingRun())
    expect(targets.map((target) => [target.id, target.value, target.pass])).toEqual([
      ['gateway-cpu-vs-reply-from', 0.8, true],
      ['gateway-cpu-vs-nginx', 2, true],
      ['gateway-cpu-light', 60, true],
      ['gateway-rss', 130, true],
      ['user-service-rss-postgres', 120, true],
      ['user-service-rss-pglite', 200, true],
      ['user-service-cpu-postgres', 100, true],
      ['gateway-start-vs-reply-from', 600 / 550, true],
      ['user-service-start-postgres', 1, true],
      ['user-service-start-pglite', 3.5, true],
      ['user-service-p99-postgres', 3, true],
      ['gateway-added-p99', 1, true],
    ])
    expect(targets.some((target) => target.noisy)).toBe(false)
  })

  it('misses a target just above its limit', () => {
    const run = passingRun()
    const measured: Measured = {
      ...run,
      saturation: { ...run.saturation, 'gateway/light': saturationSummary({ proxy: 70.5, upstream: 30 }) },
    }
    expect(byId(measured)['gateway-cpu-light']).toMatchObject({ value: 70.5, limit: 70, pass: false })
  })

  it('takes the larger RSS of the two production-default gateways', () => {
    const run = passingRun()
    const measured: Measured = {
      ...run,
      servers: { ...run.servers, 'gateway/postgres': { startsMs: [600], startToReadyMs: 600, rssMb: 160 } },
    }
    expect(byId(measured)['gateway-rss']).toMatchObject({ value: 160, pass: false, detail: 'PostgreSQL upstream 160 MiB, light 130 MiB' })
  })

  it('misses a target whose scenario was not measured, showing no value', () => {
    const target = byId(withoutScenario(passingRun(), 'nginx/light'))['gateway-cpu-vs-nginx']!
    expect(target.pass).toBe(false)
    expect(Number.isNaN(target.value)).toBe(true)
    expect(formatValue(target.value, target.unit)).toBe('–')
  })

  it('keeps the moonshot of the reply-from ratio beside its limit', () => {
    expect(byId(passingRun())['gateway-cpu-vs-reply-from']).toMatchObject({ limit: 1, moonshot: 0.6 })
  })

  it('marks the latency targets noisy when other load was high during the fixed-rate runs, and nothing else', () => {
    const run = passingRun()
    const measured: Measured = { ...run, fixedRate: { ...run.fixedRate, 'gateway/postgres': rateSummary(4, 1, 0.3) } }
    const noisy = evaluateTargets(measured)
      .filter((target) => target.noisy)
      .map((target) => target.id)
    expect(noisy).toEqual(['gateway-added-p99'])
  })

  it('marks the start targets noisy when other load was high during the starts', () => {
    const noisy = evaluateTargets({ ...passingRun(), startsOtherLoad: 0.2 }).filter((target) => target.noisy)
    expect(noisy.map((target) => target.id)).toEqual([
      'gateway-start-vs-reply-from',
      'user-service-start-postgres',
      'user-service-start-pglite',
    ])
  })

  it('never marks CPU per request or RSS noisy: per-process counters hold under load', () => {
    const run = passingRun()
    const saturation = Object.fromEntries(Object.entries(run.saturation).map(([id, summary]) => [id, { ...summary, worstOtherLoad: 0.9 }]))
    expect(evaluateTargets({ ...run, saturation }).some((target) => target.noisy)).toBe(false)
  })

  it('names the fixed rate in the latency targets', () => {
    expect(byId({ ...passingRun(), rate: 500 })['gateway-added-p99']!.label).toBe('p99 the gateway adds at 500 req/s')
  })
})

describe('formatValue', () => {
  it.each([
    [0.8, '×', '0.80×'],
    [61.6, 'µs', '62 µs'],
    [130.2, 'MiB', '130 MiB'],
    [1.234, 's', '1.23 s'],
    [3.456, 'ms', '3.46 ms'],
    [15.14, 'ms', '15.1 ms'],
    [Number.NaN, 'µs', '–'],
  ] as const)('shows %d %s as %s', (value, unit, shown) => {
    expect(formatValue(value, unit)).toBe(shown)
  })

  it('shows more digits when the usual ones would round a value across its limit', () => {
    expect(formatValue(1.004, '×', 1)).toBe('1.0040×')
    expect(formatValue(70.4, 'µs', 70)).toBe('70.40 µs')
    expect(formatValue(0.8, '×', 1)).toBe('0.80×')
  })
})

describe('formatLimit', () => {
  it('shows the moonshot beside the limit when there is one', () => {
    expect(formatLimit({ limit: 1, unit: '×', moonshot: 0.6 })).toBe('≤ 1.00× (moonshot 0.60×)')
    expect(formatLimit({ limit: 150, unit: 'MiB' })).toBe('≤ 150 MiB')
  })
})
