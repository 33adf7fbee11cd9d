// The pure parts of the capacity check (scripts/docker/check-capacity.ts): the container limits
// taken from the service model, what `docker inspect` and the memory cgroup say about a
// container after the run, and the verdict.
import type { LoadResult } from '../../bench/lib/load.ts'
import { serviceNames } from '../../catalog/catalog.ts'
import { appServices, cpuCores, mebibytes, runtimeEnv, type AppService } from '../../infra/model.ts'

/** Requests per second one gateway replica must serve at the limits the stacks declare. */
export const GATEWAY_TARGET_RPS = 2_000

/** The model with one instance of every catalog service: what the check runs. */
export function oneOfEach(): AppService[] {
  return appServices({ replicas: Object.fromEntries(serviceNames().map((name) => [name, 1])), logLevel: 'info' })
}

/** What `docker run` gets for one app service: the same limits and V8 sizing as on the stacks. */
export interface ContainerLimits {
  readonly cpus: number
  readonly memoryMiB: number
  /** The runtime variables as the model sets them (V8's heap sized to the memory limit, malloc's arenas). */
  readonly runtimeEnv: Readonly<Record<string, string>>
}

export function containerLimits(service: AppService): ContainerLimits {
  return {
    cpus: cpuCores(service.resources.limits.cpu),
    memoryMiB: mebibytes(service.resources.limits.memory),
    runtimeEnv: runtimeEnv(service),
  }
}

/** `docker run` options for the limits: swap is refused (memory-swap equal to memory), as on Kubernetes. */
export function limitArgs(limits: ContainerLimits): string[] {
  return [
    '--cpus',
    String(limits.cpus),
    '--memory',
    `${limits.memoryMiB}m`,
    '--memory-swap',
    `${limits.memoryMiB}m`,
    ...Object.entries(limits.runtimeEnv).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
  ]
}

/** A container after the run, from `docker inspect` and its memory cgroup. */
export interface ContainerState {
  readonly name: string
  readonly running: boolean
  readonly restarts: number
  readonly oomKilled: boolean
  /** OOM kills the memory cgroup counted (a child process killed while PID 1 lives shows here only). */
  readonly cgroupOomKills: number
  /** Peak memory use of the container's cgroup in MiB; undefined when the cgroup was not found. */
  readonly peakMiB: number | undefined
  readonly limitMiB: number
}

/** `{{json .State}}` of `docker inspect`, and its `RestartCount`. */
export function parseInspect(
  name: string,
  stateJson: string,
  restartCount: string,
): Pick<ContainerState, 'name' | 'running' | 'restarts' | 'oomKilled'> {
  const state = JSON.parse(stateJson) as { Running?: boolean; OOMKilled?: boolean; Restarting?: boolean }
  if (!/^\d+$/.test(restartCount.trim())) throw new Error(`${name}: docker inspect gave no restart count (${JSON.stringify(restartCount)})`)
  return {
    name,
    running: state.Running === true && state.Restarting !== true,
    restarts: Number(restartCount.trim()),
    oomKilled: state.OOMKilled === true,
  }
}

/** `oom_kill N` from cgroup v1's memory.oom_control or v2's memory.events; 0 when absent. */
export function parseOomKills(text: string): number {
  const match = /^oom_kill (\d+)$/m.exec(text)
  return match === null ? 0 : Number(match[1])
}

/** The load the gateway served: wrk's figures (bench/lib/load.ts). */
export type Throughput = Pick<LoadResult, 'ok' | 'non2xx' | 'errors' | 'rps'>

export interface Verdict {
  /** Reasons the check fails: an OOM kill, a restart, a container gone, a failed request. */
  readonly failures: string[]
  /** Whether the gateway reached GATEWAY_TARGET_RPS (reported, not failed: it needs a quiet machine). */
  readonly target: 'PASS' | 'MISS'
}

export function verdict(states: readonly ContainerState[], load: Throughput, gatewayReplicas: number): Verdict {
  const failures: string[] = []
  for (const state of states) {
    if (state.oomKilled || state.cgroupOomKills > 0) failures.push(`${state.name} was OOM-killed`)
    if (state.restarts > 0) failures.push(`${state.name} restarted ${state.restarts} time(s)`)
    if (!state.running) failures.push(`${state.name} is no longer running`)
  }
  if (load.non2xx > 0) failures.push(`${load.non2xx} request(s) answered 4xx/5xx`)
  if (load.errors > 0) failures.push(`${load.errors} request(s) failed on the socket (connect, read, write or timeout)`)
  if (load.ok === 0) failures.push('no request succeeded')
  return { failures, target: load.rps / gatewayReplicas >= GATEWAY_TARGET_RPS ? 'PASS' : 'MISS' }
}

/** A container's CPU counters: cgroup v2's `cpu.stat`, or v1's `cpuacct.usage` and `cpu.stat`. */
export interface CpuCounters {
  /** CPU time used, every process of the container, in microseconds. */
  readonly usageUs: number
  /** CFS periods elapsed while the container ran, and those in which its quota ran out. */
  readonly periods: number
  readonly throttled: number
}

/**
 * Reads the counters from the files' text. cgroup v2 gives everything in `cpu.stat`
 * (`usage_usec`, `nr_periods`, `nr_throttled`); v1 gives usage in nanoseconds in
 * `cpuacct.usage` and the periods in the cpu controller's `cpu.stat`.
 */
export function parseCpuCounters(cpuStat: string, cpuacctUsage?: string): CpuCounters {
  const field = (name: string) => {
    const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(cpuStat)
    return match === null ? undefined : Number(match[1])
  }
  const usageUs =
    field('usage_usec') ?? (cpuacctUsage !== undefined && /^\d+\s*$/.test(cpuacctUsage) ? Number(cpuacctUsage) / 1000 : undefined)
  if (usageUs === undefined) throw new Error('the cgroup gives no CPU usage (usage_usec in cpu.stat, or cpuacct.usage)')
  return { usageUs, periods: field('nr_periods') ?? 0, throttled: field('nr_throttled') ?? 0 }
}

/** What a container used over the run: CPU per gateway answer and the share of periods throttled. */
export function cpuOver(before: CpuCounters, after: CpuCounters, answers: number): { perRequestUs: number; throttledShare: number } {
  const periods = after.periods - before.periods
  return {
    perRequestUs: (after.usageUs - before.usageUs) / Math.max(1, answers),
    throttledShare: periods === 0 ? 0 : (after.throttled - before.throttled) / periods,
  }
}
