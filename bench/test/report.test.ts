import { describe, expect, it } from 'vitest'
import { table } from '../lib/format.ts'
import { renderServers, renderTargets } from '../lib/report.ts'
import { evaluateTargets } from '../lib/targets.ts'
import { passingRun, serverSummary } from './fixtures.ts'

describe('table', () => {
  it('aligns text columns left and the others right, under a rule', () => {
    expect(
      table(
        ['name', 'n', 'note'],
        [
          ['a', '1', 'x'],
          ['bbb', '22', 'yy'],
        ],
        [0, 2],
      ).split('\n'),
    ).toEqual(['name   n  note', '----  --  ----', 'a      1  x', 'bbb   22  yy'])
  })
})

describe('renderTargets', () => {
  it('prints PASS or MISS, the measured value, the limit and what is beside it', () => {
    const run = passingRun()
    const targets = evaluateTargets({ ...run, startsOtherLoad: 0.5, servers: { ...run.servers, pglite: serverSummary([4500], 300) } })
    const lines = renderTargets(targets).split('\n')
    expect(lines).toHaveLength(2 + 12)
    expect(lines.find((line) => line.includes('user-service RSS on PGlite'))).toMatch(
      /^MISS +user-service RSS on PGlite +300 MiB +≤ 250 MiB +after the saturation runs$/,
    )
    expect(lines.find((line) => line.includes('start→ready on PGlite'))).toMatch(
      /^MISS \(noisy\) +user-service start→ready on PGlite +4\.50 s +≤ 4\.00 s/,
    )
    expect(lines.find((line) => line.includes('÷ reply-from (logging)'))).toMatch(
      /^PASS +gateway CPU\/req ÷ reply-from \(logging\), PostgreSQL upstream +0\.80× +≤ 1\.00× \(moonshot 0\.60×\) +80 µs vs 100 µs; light upstream 0\.63×$/,
    )
  })
})

describe('renderServers', () => {
  it('lists the servers upstreams first, skipping any not started', () => {
    const lines = renderServers({ servers: passingRun().servers }).split('\n')
    expect(lines.slice(2).map((line) => line.split('  ')[0])).toEqual([
      'user-service (PostgreSQL)',
      'user-service (PGlite)',
      'light upstream',
      'our gateway → user-service (PostgreSQL)',
      'reply-from → user-service (PostgreSQL)',
      'our gateway → light upstream',
    ])
    expect(lines[2]).toMatch(/^user-service \(PostgreSQL\) +1000 +1200, 900, 1000 +120$/)
  })
})
