// The unit project runs without the global setup: there `inject` gives undefined and a suite
// that needs PostgreSQL or Consul skips itself silently. This keeps every suite that needs real
// servers in the integration project, and that project's list free of files that are gone.
import { execFileSync } from 'node:child_process'
import { existsSync, globSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { INTEGRATION_SUITES } from '../vitest.config.ts'

const ROOT = new URL('../', import.meta.url)

/** What a suite calls when it needs the real servers or runs the services on ports. */
const NEEDS_SERVERS = /\binject\(['"](postgresUrl|consulAddr)['"]\)|\b(describeRepository|startService|startPlatform|startPrism)\(/

/** The integration project's files: its list, globs expanded. */
const integration = new Set(INTEGRATION_SUITES.flatMap((pattern) => globSync(pattern, { cwd: fileURLToPath(ROOT) })))

const suites = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.test.ts'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((file) => file !== '' && existsSync(new URL(file, ROOT)))

describe('vitest projects', () => {
  it('every suite that reads the global setup or starts the services is in the integration project', () => {
    const needing = suites.filter((file) => NEEDS_SERVERS.test(readFileSync(new URL(file, ROOT), 'utf8')))

    expect(needing.length).toBeGreaterThan(0)
    expect(needing.filter((file) => !integration.has(file))).toEqual([])
  })

  it('every file or pattern the integration project lists matches a suite', () => {
    expect(INTEGRATION_SUITES.filter((pattern) => globSync(pattern, { cwd: fileURLToPath(ROOT) }).length === 0)).toEqual([])
  })
})
