import { describe, expect, it } from 'vitest'
import { between, parsePauseMetrics, pausesBetween, type Snapshot } from '../lib/measure.ts'
import { ProcessTable } from '../lib/proc.ts'

const METRICS = `# HELP nodejs_eventloop_lag_max_seconds The maximum recorded event loop delay.
# TYPE nodejs_eventloop_lag_max_seconds gauge
nodejs_eventloop_lag_max_seconds{service="gateway"} 0.0123
nodejs_gc_duration_seconds_sum{service="gateway",kind="minor"} 0.5
nodejs_gc_duration_seconds_count{service="gateway",kind="minor"} 100
nodejs_gc_duration_seconds_sum{service="gateway",kind="major"} 0.2
nodejs_gc_duration_seconds_count{service="gateway",kind="major"} 2
`

describe('parsePauseMetrics', () => {
  it("reads prom-client's event-loop lag maximum and GC counters by kind", () => {
    expect(parsePauseMetrics(METRICS)).toEqual({
      lagMaxMs: 12.3,
      gc: { minor: { seconds: 0.5, count: 100 }, major: { seconds: 0.2, count: 2 } },
    })
  })

  it('answers NaN lag and no GC for a text without them', () => {
    const pauses = parsePauseMetrics('up 1\n')
    expect(Number.isNaN(pauses.lagMaxMs)).toBe(true)
    expect(pauses.gc).toEqual({})
  })
})

describe('pausesBetween', () => {
  it('counts GC during the run, including a kind first seen after it began', () => {
    const before = { lagMaxMs: 50, gc: { minor: { seconds: 0.4, count: 90 } } }
    const during = pausesBetween(before, parsePauseMetrics(METRICS))
    expect(during.lagMaxMs).toBe(12.3)
    expect(during.gc.minor!.count).toBe(10)
    expect(during.gc.minor!.ms).toBeCloseTo(100)
    expect(during.gc.major).toEqual({ count: 2, ms: 200 })
  })
})

describe('between', () => {
  const at = (micros: number, bench: number, postgres: number, other: number, busy: number): Snapshot => ({
    at: micros,
    processes: new ProcessTable(
      new Map([
        [10, { ppid: 1, own: bench, reaped: 0 }],
        [20, { ppid: 1, own: postgres, reaped: 0 }],
        [30, { ppid: 1, own: other, reaped: 0 }],
      ]),
    ),
    machineBusy: busy,
    machineSteal: micros / 100,
  })

  it('charges the busy time nobody of ours used to other load, as a share of every CPU', () => {
    // One second on 2 CPUs: ours used 0.8 s, the machine was busy 1.2 s.
    const window = between(at(0, 0, 0, 0, 0), at(1_000_000, 600_000, 200_000, 400_000, 1_200_000), [10, 20], 2)
    expect(window.wallMicros).toBe(1_000_000)
    expect(window.cpu(10)).toBe(600_000)
    expect(window.foreign).toBeCloseTo(0.2)
    expect(window.steal).toBeCloseTo(0.005)
  })

  it('never reports negative other load (counters tick at different moments)', () => {
    expect(between(at(0, 0, 0, 0, 0), at(1_000_000, 600_000, 0, 0, 500_000), [10, 20], 2).foreign).toBe(0)
  })
})
