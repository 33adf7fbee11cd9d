// The unit project runs without the global setup: there `inject` gives undefined and a suite
// that needs PostgreSQL or Consul skips itself silently. This keeps every suite that needs real
// servers in the integration project, and that project's list free of files that are gone.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { INTEGRATION_SUITES } from '../vitest.config.ts'

const ROOT = new URL('../', import.meta.url)

/** What a suite calls when it needs the real servers or runs the services on ports. */
const NEEDS_SERVERS = /\binject\(['"](postgresUrl|consulAddr)['"]\)|\b(describeRepository|startService|startPlatform|startPrism)\(/

const suites = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.test.ts'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((file) => file !== '' && existsSync(new URL(file, ROOT)))

describe('vitest projects', () => {
  it('every suite that reads the global setup or starts the services is in the integration project', () => {
    const needing = suites.filter((file) => NEEDS_SERVERS.test(readFileSync(new URL(file, ROOT), 'utf8')))

    expect(needing.length).toBeGreaterThan(0)
    expect(needing.filter((file) => !INTEGRATION_SUITES.includes(file))).toEqual([])
  })

  it('every file the integration project lists exists', () => {
    expect(INTEGRATION_SUITES.filter((file) => !existsSync(new URL(file, ROOT)))).toEqual([])
  })
})
