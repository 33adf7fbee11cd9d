import { describe, expect, it } from 'vitest'
import { parseStat, ProcessTable, type ProcessCpu } from '../lib/proc.ts'

/** A /proc/<pid>/stat line with the given parent and utime, stime, cutime, cstime ticks. */
function statLine(pid: number, comm: string, ppid: number, [utime, stime, cutime, cstime]: [number, number, number, number]): string {
  const fields = ['S', ppid, pid, pid, 0, -1, 4194560, 100, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 4, 0, 12345]
  return `${pid} (${comm}) ${fields.join(' ')}\n`
}

const cpu = (ppid: number, own: number, reaped = 0): ProcessCpu => ({ ppid, own, reaped })

describe('parseStat', () => {
  it('reads the parent and the CPU times in microseconds', () => {
    expect(parseStat(statLine(42, 'node', 7, [150, 50, 30, 20]), 100)).toEqual({ ppid: 7, own: 2_000_000, reaped: 500_000 })
  })

  it('copes with spaces and parentheses in the command name', () => {
    expect(parseStat(statLine(42, 'postgres: bench (x) idle', 9, [1, 2, 3, 4]), 100)).toEqual({ ppid: 9, own: 30_000, reaped: 70_000 })
  })
})

describe('ProcessTable', () => {
  // 1 ─┬─ 10 (bench) ─┬─ 11 (server)
  //    │              └─ 12 (drain) ── 13
  //    └─ 20 (postmaster) ── 21 (backend)
  const table = new ProcessTable(
    new Map([
      [1, cpu(0, 5)],
      [10, cpu(1, 100, 40)],
      [11, cpu(10, 200)],
      [12, cpu(10, 10)],
      [13, cpu(12, 1)],
      [20, cpu(1, 3, 70)],
      [21, cpu(20, 50)],
    ]),
  )

  it('adds up a process tree: every live descendant and what each has reaped', () => {
    expect(table.tree(10)).toBe(100 + 40 + 200 + 10 + 1)
    expect(table.tree(20)).toBe(3 + 70 + 50)
    expect(table.tree(11)).toBe(200)
  })

  it('answers NaN for a process that is not running', () => {
    expect(Number.isNaN(table.tree(99))).toBe(true)
  })

  it('lists the live descendants of a process', () => {
    expect(table.descendants(10).sort((a, b) => a - b)).toEqual([11, 12, 13])
    expect(table.descendants(11)).toEqual([])
  })

  it('keeps a tree difference right when a child exits and its time moves to its parent', () => {
    const before = new ProcessTable(
      new Map([
        [20, cpu(1, 3, 70)],
        [21, cpu(20, 50)],
      ]),
    )
    // The backend used 5 µs more, exited and was reaped.
    const after = new ProcessTable(new Map([[20, cpu(1, 3, 125)]]))
    expect(after.tree(20) - before.tree(20)).toBe(5)
  })
})
