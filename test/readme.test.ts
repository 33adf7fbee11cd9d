import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { envTable, readmeTable } from '../scripts/env-table.ts'

describe('README configuration table', () => {
  it('matches the services environment schemas (regenerate with npm run docs:env)', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    expect(readmeTable(readme)).toBe(envTable())
  })
})
