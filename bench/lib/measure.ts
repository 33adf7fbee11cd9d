import { cpus } from 'node:os'
import { cpuTimes, ProcessTable } from './proc.ts'
import { monotonicMicros } from './profile.ts'

/** CPU counters of every process and of the whole machine, at one instant. */
export interface Snapshot {
  readonly at: number
  readonly processes: ProcessTable
  readonly machineBusy: number
  readonly machineSteal: number
}

export function snapshot(): Snapshot {
  const machine = cpuTimes()
  return {
    at: monotonicMicros(),
    processes: ProcessTable.read(),
    machineBusy: machine.busy.reduce((sum, value) => sum + value, 0),
    machineSteal: machine.steal.reduce((sum, value) => sum + value, 0),
  }
}

/** What happened between two snapshots. */
export interface Window {
  readonly wallMicros: number
  /** CPU µs used by process `pid` and everything below it. */
  cpu(pid: number): number
  /** Busy time of processes outside `ours` (and the kernel's own work), share of all CPUs. */
  readonly foreign: number
  /** Time the hypervisor ran something else on our vCPUs, share of all CPUs. */
  readonly steal: number
}

/**
 * The window between `before` and `after`. `ours` are the roots of every process tree the
 * bench is responsible for (itself, with every server it spawned, and PostgreSQL, which
 * daemonizes): whatever else was busy is other load.
 */
export function between(before: Snapshot, after: Snapshot, ours: readonly number[], cpuCount = cpus().length): Window {
  const wallMicros = after.at - before.at
  const cpu = (pid: number) => after.processes.tree(pid) - before.processes.tree(pid)
  const ourCpu = ours.reduce((sum, pid) => sum + cpu(pid), 0)
  return {
    wallMicros,
    cpu,
    foreign: Math.max(0, after.machineBusy - before.machineBusy - ourCpu) / (wallMicros * cpuCount),
    steal: (after.machineSteal - before.machineSteal) / (wallMicros * cpuCount),
  }
}

/** What a service's Prometheus metrics say about pauses: event-loop lag and GC (counters since start; the lag max since the last scrape). */
export interface PauseMetrics {
  readonly lagMaxMs: number
  readonly gc: Readonly<Record<string, { readonly seconds: number; readonly count: number }>>
}

/** Pauses during a run: GC by kind and the event-loop lag maximum. */
export interface Pauses {
  readonly lagMaxMs: number
  readonly gc: Readonly<Record<string, { readonly count: number; readonly ms: number }>>
}

/** Reads prom-client's default GC and event-loop metrics from a `/metrics` text. */
export function parsePauseMetrics(text: string): PauseMetrics {
  const gc: Record<string, { seconds: number; count: number }> = {}
  for (const match of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{[^}]*kind="(\w+)"[^}]*\} (\S+)$/gm)) {
    const entry = (gc[match[2]!] ??= { seconds: 0, count: 0 })
    if (match[1] === 'sum') entry.seconds = Number(match[3])
    else entry.count = Number(match[3])
  }
  const lag = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1]
  return { lagMaxMs: 1000 * Number(lag ?? Number.NaN), gc }
}

export async function scrapePauses(origin: string): Promise<PauseMetrics> {
  return parsePauseMetrics(await (await fetch(`${origin}/metrics`)).text())
}

/** GC and event-loop lag during a run: `before` was scraped just before it (which also resets the lag maximum). */
export function pausesBetween(before: PauseMetrics, after: PauseMetrics): Pauses {
  const gc: Record<string, { count: number; ms: number }> = {}
  for (const [kind, entry] of Object.entries(after.gc)) {
    const earlier = before.gc[kind] ?? { seconds: 0, count: 0 }
    gc[kind] = { count: entry.count - earlier.count, ms: 1000 * (entry.seconds - earlier.seconds) }
  }
  return { lagMaxMs: after.lagMaxMs, gc }
}
