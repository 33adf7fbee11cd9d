import { describe, expect, it } from 'vitest'
import {
  containerLimits,
  GATEWAY_TARGET_RPS,
  limitArgs,
  oneOfEach,
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

    expect(limits).toEqual({ cpus: 0.5, memoryMiB: 256, nodeOptions: '--max-old-space-size=160 --max-semi-space-size=8' })
    expect(limitArgs(limits)).toEqual([
      '--cpus',
      '0.5',
      '--memory',
      '256m',
      '--memory-swap',
      '256m',
      '--env',
      'NODE_OPTIONS=--max-old-space-size=160 --max-semi-space-size=8',
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
})
