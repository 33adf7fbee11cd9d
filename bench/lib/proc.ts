import { execFileSync, spawn } from 'node:child_process'
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** One process's CPU counters from `/proc/<pid>/stat`, in microseconds. */
export interface ProcessCpu {
  readonly ppid: number
  /** utime + stime: every thread of the process, user and system time. */
  readonly own: number
  /** cutime + cstime: children that have exited and been waited for, with their own reaped children. */
  readonly reaped: number
}

/** Parses the text of `/proc/<pid>/stat`, whose times count `hz` ticks per second. */
export function parseStat(stat: string, hz = USER_HZ): ProcessCpu {
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): ppid (field 4) is at 1, utime..cstime (fields 14-17) at 11-14.
  const ticks = (index: number) => Number(fields[index])
  return { ppid: ticks(1), own: ((ticks(11) + ticks(12)) * 1e6) / hz, reaped: ((ticks(13) + ticks(14)) * 1e6) / hz }
}

/**
 * The CPU counters of every process on the machine at one instant: the processes' own
 * counters, read from outside so that measuring costs them nothing.
 */
export class ProcessTable {
  readonly #processes: ReadonlyMap<number, ProcessCpu>
  readonly #children = new Map<number, number[]>()

  constructor(processes: ReadonlyMap<number, ProcessCpu>) {
    this.#processes = processes
    for (const [pid, { ppid }] of processes) {
      const siblings = this.#children.get(ppid)
      if (siblings === undefined) this.#children.set(ppid, [pid])
      else siblings.push(pid)
    }
  }

  /** Scans `/proc`. */
  static read(): ProcessTable {
    const processes = new Map<number, ProcessCpu>()
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      try {
        processes.set(Number(name), parseStat(readFileSync(`/proc/${name}/stat`, 'utf8')))
      } catch {
        // exited between the listing and the read
      }
    }
    return new ProcessTable(processes)
  }

  /**
   * CPU µs of `pid` and everything below it: the live descendants' own time plus what every
   * one of them has reaped. A child that exits between two tables moves from its own counter
   * to its parent's reaped one, so differences between tables stay right (nginx's workers,
   * PostgreSQL's backends).
   */
  tree(pid: number): number {
    if (!this.#processes.has(pid)) return Number.NaN
    let sum = 0
    const pending = [pid]
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const process = this.#processes.get(next)
      if (process !== undefined) sum += process.own + process.reaped
      pending.push(...(this.#children.get(next) ?? []))
    }
    return sum
  }

  /** The live descendants of `pid`. */
  descendants(pid: number): number[] {
    const found: number[] = []
    const pending = [...(this.#children.get(pid) ?? [])]
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      found.push(next)
      pending.push(...(this.#children.get(next) ?? []))
    }
    return found
  }
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? Number.NaN : Number(match[1]) * 1024
}

/** Which CPUs the process may run on (`Cpus_allowed_list`), e.g. `1` or `0-1`. */
export function allowedCpus(pid: number): string {
  const match = /^Cpus_allowed_list:\s+(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match?.[1] ?? '?'
}

/** Whether CPU pinning can be used here: `taskset` exists and the machine has at least 2 CPUs. */
export function canPin(cpuCount: number): boolean {
  if (cpuCount < 2) return false
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Pins every thread of `pid` to `cpus` (a taskset list such as `1` or `0-1`). Threads created later inherit it. */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' })
}

/**
 * Runs `spawnNow` (which must spawn its child synchronously) with this process pinned to `cpus`,
 * so the child inherits the pinning from its first instruction, then restores `restore`.
 */
export function spawnPinned<T>(cpus: string | undefined, restore: string | undefined, spawnNow: () => T): T {
  if (cpus === undefined || restore === undefined) return spawnNow()
  pin(process.pid, cpus)
  try {
    return spawnNow()
  } finally {
    pin(process.pid, restore)
  }
}

/**
 * A server's log output, drained by a helper process of its own (bench/lib/drain.ts, on this
 * process's CPUs) rather than by this process's event loop, which is busy generating load.
 * pino writes asynchronously to the server's stdout, a non-blocking socket: when it is full
 * because the reader lags, sonic-boom retries 100 ms later and buffers lines in the server's
 * memory meanwhile, inflating its RSS. The helper counts lines and bytes and keeps nothing
 * (scripts/lib/service-process.ts keeps every line, which a benchmark cannot afford); stderr
 * (quiet) stays here, its last lines kept for error messages.
 */
export class LogDrain {
  readonly #helper: ChildProcess
  readonly #stderr: string[] = []
  #pending: ((counts: { lines: number; bytes: number }) => void)[] = []

  constructor(child: ChildProcess) {
    const stdout = child.stdout!
    stdout.removeAllListeners('data')
    stdout.pause()
    this.#helper = spawn(process.execPath, [fileURLToPath(new URL('./drain.ts', import.meta.url))], {
      stdio: [stdout, 'ignore', 'inherit', 'ipc'],
    })
    // The helper holds its own copy of the pipe now: this process stops reading it for good.
    stdout.destroy()
    this.#helper.on('message', (counts: { lines: number; bytes: number }) => this.#pending.shift()?.(counts))
    this.#helper.unref()
    const stderr = child.stderr
    stderr?.removeAllListeners('data')
    stderr?.setEncoding('utf8')
    stderr?.on('data', (chunk: string) => {
      this.#stderr.push(chunk)
      if (this.#stderr.length > 8) this.#stderr.shift()
    })
  }

  /** The helper's process id. */
  get pid(): number {
    return this.#helper.pid!
  }

  /** Lines and bytes the server has written to stdout so far. */
  counts(): Promise<{ lines: number; bytes: number }> {
    return new Promise((resolve) => {
      this.#pending.push(resolve)
      this.#helper.send('count')
    })
  }

  /** The last lines written to stderr, for error messages. */
  tail(): string {
    return this.#stderr.join('').split('\n').slice(-6).join('\n')
  }

  stop(): void {
    if (this.#helper.connected) this.#helper.disconnect()
    this.#helper.kill()
  }
}

/**
 * Resolves with the milliseconds from `startedAt` (a performance.now() value taken just before
 * the spawn) to the first 200 on `url`, polling every `everyMs`; rejects after `timeoutMs`.
 */
export async function timeToReady(url: string, startedAt: number, everyMs = 5, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    try {
      const response = await fetch(url)
      await response.arrayBuffer()
      if (response.status === 200) return performance.now() - startedAt
    } catch {
      // not listening yet
    }
    if (performance.now() - startedAt > timeoutMs) throw new Error(`${url} not ready within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Busy time (everything but idle and iowait) and steal time of each CPU so far, in microseconds, from /proc/stat. */
export function cpuTimes(): { busy: number[]; steal: number[] } {
  const busy: number[] = []
  const steal: number[] = []
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line)
    if (match === null) continue
    // user nice system idle iowait irq softirq steal …
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, stolen = 0] = match[2]!.trim().split(/\s+/).map(Number)
    busy[Number(match[1])] = ((user + nice + system + irq + softirq) * 1e6) / USER_HZ
    steal[Number(match[1])] = (stolen * 1e6) / USER_HZ
  }
  return { busy, steal }
}

/** An executable on PATH or in one of `extraDirs`; undefined when there is none. */
export function findExecutable(name: string, extraDirs: readonly string[] = [], path = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(delimiter), ...extraDirs]) {
    if (dir === '') continue
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch {
      // not here
    }
  }
  return undefined
}
