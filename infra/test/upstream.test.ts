// infra/UPSTREAM.md is the evidence for every pin: a pin without a row, or a row that names
// another version, means a version nobody checked upstream.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_CHARTS, DEFAULT_IMAGES } from '../config.ts'
import { cloudNativePgImage } from '../kubernetes/database.ts'

/** First cell (`key`) → second cell (`version`) of every table row of UPSTREAM.md. */
function rows(markdown: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const line of markdown.split('\n')) {
    const cells = line
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((cell) => cell.trim())
    if (cells.length < 6 || cells[0] === 'Pin' || /^-+$/.test(cells[0]!)) continue
    found.set(cells[0]!.replace(/`/g, ''), cells[1]!.replace(/`/g, ''))
  }
  return found
}

const table = rows(readFileSync(new URL('../UPSTREAM.md', import.meta.url), 'utf8'))
const pins: Record<string, string> = {
  ...Object.fromEntries(Object.entries(DEFAULT_CHARTS).map(([key, version]) => [`kubernetes.charts.${key}`, version])),
  ...Object.fromEntries(Object.entries(DEFAULT_IMAGES).map(([key, image]) => [`images.${key}`, image])),
  'derived: CloudNativePG operand': cloudNativePgImage(DEFAULT_IMAGES.postgres),
}

describe('infra/UPSTREAM.md', () => {
  it.each(Object.entries(pins))('has a row for %s at the pinned version', (key, version) => {
    expect(table.has(key), `no row for ${key} in infra/UPSTREAM.md`).toBe(true)
    expect(table.get(key)).toBe(version)
  })

  it('has no row for a pin the config does not have', () => {
    expect([...table.keys()].filter((key) => !(key in pins))).toEqual([])
  })
})
