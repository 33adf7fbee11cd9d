// Summaries of an imaginary run for the tests of the pure parts: round figures so that the
// expected values can be read off.
import type { ScenarioId } from '../lib/scenarios.ts'
import type { RateSummary, SaturationSummary, ServerSummary } from '../lib/summary.ts'
import type { Measured } from '../lib/targets.ts'

export function saturationSummary(cpu: { proxy?: number; upstream: number; postgres?: number }, worstOtherLoad = 0): SaturationSummary {
  return {
    rps: 1000,
    p50: 1,
    p99: 2,
    cpuPerRequest: { proxy: cpu.proxy ?? Number.NaN, upstream: cpu.upstream, postgres: cpu.postgres ?? Number.NaN, loader: 10 },
    serverCoreBusy: 1,
    logLinesPerRequest: 1,
    spansPerRequest: Number.NaN,
    failures: 0,
    worstOtherLoad,
  }
}

export function rateSummary(p99: number, addedP99: number, worstOtherLoad = 0): RateSummary {
  return {
    p50: 1,
    p99,
    max: p99 + 1,
    addedP50: Number.isNaN(addedP99) ? Number.NaN : 0.1,
    addedP99,
    cpuPerRequest: { proxy: Number.NaN, upstream: 100, postgres: 50, loader: 5 },
    failures: 0,
    worstOtherLoad,
  }
}

export function serverSummary(startsMs: number[], rssMb: number): ServerSummary {
  const sorted = [...startsMs].sort((a, b) => a - b)
  return { startsMs, startToReadyMs: sorted[sorted.length >> 1]!, rssMb }
}

/** A run that meets every target of issue #11. */
export function passingRun(): Measured {
  return {
    saturation: {
      'direct/postgres': saturationSummary({ upstream: 100, postgres: 60 }),
      'gateway/postgres': saturationSummary({ proxy: 80, upstream: 100, postgres: 60 }),
      'reply-from/postgres': saturationSummary({ proxy: 100, upstream: 100, postgres: 60 }),
      'nginx/postgres': saturationSummary({ proxy: 30, upstream: 100, postgres: 60 }),
      'direct/pglite': saturationSummary({ upstream: 200 }),
      'direct/light': saturationSummary({ upstream: 30 }),
      'gateway/light': saturationSummary({ proxy: 60, upstream: 30 }),
      'gateway-untraced/light': saturationSummary({ proxy: 50, upstream: 30 }),
      'reply-from/light': saturationSummary({ proxy: 95, upstream: 30 }),
      'nginx/light': saturationSummary({ proxy: 25, upstream: 30 }),
    },
    fixedRate: {
      'direct/postgres': rateSummary(3, Number.NaN),
      'gateway/postgres': rateSummary(4, 1),
      'reply-from/postgres': rateSummary(4.5, 1.5),
      'nginx/postgres': rateSummary(3.5, 0.5),
    },
    servers: {
      postgres: serverSummary([1200, 900, 1000], 120),
      pglite: serverSummary([3500], 200),
      light: serverSummary([300], 60),
      'gateway/postgres': serverSummary([600], 110),
      'gateway/light': serverSummary([650], 130),
      'reply-from/postgres': serverSummary([550], 90),
    },
    rate: 1000,
    startsOtherLoad: 0,
  }
}

/** `measured` as if saturation scenario `id` had not been run. */
export function withoutScenario(measured: Measured, id: ScenarioId): Measured {
  const saturation = { ...measured.saturation }
  delete saturation[id]
  return { ...measured, saturation }
}
