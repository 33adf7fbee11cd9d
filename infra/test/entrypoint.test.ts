// Pulumi.yaml runs the program without ts-node (`typescript: false`): Pulumi's nodejs host
// import()s infra/index.ts, and Node must strip the types itself. Vitest transforms TypeScript
// on its own, so this runs the program in a plain Node process to prove Node can load it.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

describe('the program entry point', () => {
  it('is declared as an ES module TypeScript entry that Pulumi runs without ts-node', () => {
    const project = parse(readFileSync(`${ROOT}Pulumi.yaml`, 'utf8')) as {
      main: string
      runtime: { name: string; options: Record<string, unknown> }
    }
    expect(project.runtime).toMatchObject({ name: 'nodejs', options: { typescript: false } })
    expect(project.main).toBe('infra/')
    const manifest = JSON.parse(readFileSync(`${ROOT}infra/package.json`, 'utf8')) as { type: string; main: string }
    expect(manifest).toMatchObject({ type: 'module', main: 'index.ts' })
  })

  it("loads under Node's own type stripping, as Pulumi's nodejs host imports it", () => {
    const result = spawnSync(process.execPath, [`${ROOT}infra/test/support/load-under-node.ts`], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(result.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|SyntaxError|ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX/)
    expect(result.status, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout.trim().split('\n').pop()!) as { resources: number; gatewayUrl: string }
    expect(report.gatewayUrl).toBe('http://127.0.0.1:8000')
    expect(report.resources).toBeGreaterThan(40)
  })
})
