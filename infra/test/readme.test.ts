// infra/README.md carries the configuration table generated from the schema.
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { repositoryStacks } from '../../scripts/pulumi/config-table.ts'
import { configTable } from '../config.ts'

describe('infra/README.md configuration table', () => {
  it('matches the stack config schema (regenerate with npm run docs:config)', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const between = readme.split('<!-- config-table:start -->\n')[1]?.split('\n<!-- config-table:end -->')[0]
    expect(between).toBe(configTable(repositoryStacks()))
  })
})
