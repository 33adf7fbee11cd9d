import { describe, expect, it } from 'vitest'
import {
  containerLimits,
  cpuOver,
  GATEWAY_TARGET_RPS,
  limitArgs,
  oneOfEach,
  parseCpuCounters,
  parseInspect,
  parseOomKills,
  verdict,
  type ContainerState,
} from '../scripts/lib/capacity.ts'

const model = oneOfEach()
const gateway = model.find((service) => service.name === 'gateway')!

const healthy: ContainerState = {
  name: 'gateway',
  running: true,
  restarts: 0,
  oomKilled: false,
  cgroupOomKills: 0,
  peakMiB: 120,
  limitMiB: 256,
}
const load = { ok: 130_000, non2xx: 0, errors: 0, rps: 130_000 / 60 }

describe('capacity check limits', () => {
  it('takes the gateway container limits and V8 sizing from the service model', () => {
    const limits = containerLimits(gateway)

    expect(limits).toEqual({
      cpus: 0.5,
      memoryMiB: 256,
      runtimeEnv: { NODE_OPTIONS: '--max-old-space-size=160 --max-semi-space-size=8', MALLOC_ARENA_MAX: '2' },
    })
    expect(limitArgs(limits)).toEqual([
      '--cpus',
      '0.5',
      '--memory',
      '256m',
      '--memory-swap',
      '256m',
      '--env',
      'NODE_OPTIONS=--max-old-space-size=160 --max-semi-space-size=8',
      '--env',
      'MALLOC_ARENA_MAX=2',
    ])
  })

  it('follows a change of the model limits', () => {
    const bigger = { ...gateway, resources: { ...gateway.resources, limits: { cpu: '2', memory: '1Gi' } } }

    expect(containerLimits(bigger)).toMatchObject({ cpus: 2, memoryMiB: 1024 })
  })
})

describe('capacity check verdict', () => {
  it('passes a healthy run above the target', () => {
    expect(verdict([healthy], load, 1)).toEqual({ failures: [], target: 'PASS' })
  })

  it('reports a run below the target per replica as MISS without failing it', () => {
    expect(verdict([healthy], { ...load, rps: 2 * GATEWAY_TARGET_RPS - 1 }, 2)).toEqual({ failures: [], target: 'MISS' })
  })

  it('fails on an OOM kill seen by Docker or only by the memory cgroup', () => {
    expect(verdict([{ ...healthy, oomKilled: true }], load, 1).failures).toEqual(['gateway was OOM-killed'])
    expect(verdict([{ ...healthy, cgroupOomKills: 1 }], load, 1).failures).toEqual(['gateway was OOM-killed'])
  })

  it('fails on a restart, a stopped container and failed requests', () => {
    const { failures } = verdict([{ ...healthy, restarts: 1, running: false }], { ...load, non2xx: 3, errors: 2 }, 1)

    expect(failures).toEqual([
      'gateway restarted 1 time(s)',
      'gateway is no longer running',
      '3 request(s) answered 4xx/5xx',
      '2 request(s) failed on the socket (connect, read, write or timeout)',
    ])
  })
})

describe('capacity check parsing', () => {
  it('reads docker inspect state and restart count', () => {
    expect(parseInspect('c', '{"Status":"running","Running":true,"Restarting":false,"OOMKilled":false}', '0\n')).toEqual({
      name: 'c',
      running: true,
      restarts: 0,
      oomKilled: false,
    })
    expect(parseInspect('c', '{"Running":false,"OOMKilled":true}', '2')).toMatchObject({ running: false, restarts: 2, oomKilled: true })
    expect(() => parseInspect('c', '{}', '')).toThrow(/restart count/)
  })

  it('reads the OOM kill count of cgroup v1 and v2', () => {
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')).toBe(3)
    expect(parseOomKills('low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\noom_group_kill 0\n')).toBe(1)
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\n')).toBe(0)
  })

  it('reads CPU usage and throttling from cgroup v2 and v1, and refuses a cgroup without usage', () => {
    const v2 = 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 600\nnr_throttled 150\nthrottled_usec 9000000\n'
    expect(parseCpuCounters(v2)).toEqual({ usageUs: 2_500_000, periods: 600, throttled: 150 })
    expect(parseCpuCounters('nr_periods 10\nnr_throttled 4\nthrottled_time 123\n', '3000000000\n')).toEqual({
      usageUs: 3_000_000,
      periods: 10,
      throttled: 4,
    })
    expect(() => parseCpuCounters('nr_periods 10\n')).toThrow(/no CPU usage/)
  })

  it('gives CPU per answer and the share of periods throttled over a run', () => {
    const before = { usageUs: 1_000_000, periods: 100, throttled: 10 }
    const after = { usageUs: 31_000_000, periods: 700, throttled: 310 }
    expect(cpuOver(before, after, 100_000)).toEqual({ perRequestUs: 300, throttledShare: 0.5 })
    expect(cpuOver(before, { ...before, usageUs: 1_000_050 }, 0)).toEqual({ perRequestUs: 50, throttledShare: 0 })
  })
})
