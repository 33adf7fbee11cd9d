// Image tags come from content: the same inputs give the same tag, any input the build reads
// changes it, and a change to another service's sources leaves it alone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildInputsHash } from '../images.ts'

let root: string
const ARGS = { SERVICE: 'user-service', PORT: '3001', NODE_IMAGE: 'node:24.19.0-bookworm-slim' }

function write(path: string, content: string) {
  mkdirSync(dirname(join(root, path)), { recursive: true })
  writeFileSync(join(root, path), content)
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'image-hash-'))
  write('package.json', JSON.stringify({ workspaces: ['services/kit', 'services/user-service', 'services/gateway', 'infra'] }))
  write('package-lock.json', '{}')
  write('.dockerignore', 'node_modules\n')
  write('services/Dockerfile', 'FROM ${NODE_IMAGE}\n')
  write('services/bundle.ts', 'export {}\n')
  for (const workspace of ['services/kit', 'services/user-service', 'services/gateway', 'infra']) write(`${workspace}/package.json`, '{}')
  write('services/kit/src/index.ts', 'export {}\n')
  write('services/user-service/src/server.ts', 'console.log(1)\n')
  write('services/user-service/src/routes/users/index.ts', 'export {}\n')
  write('services/gateway/src/server.ts', 'console.log(2)\n')
})

afterEach(() => rmSync(root, { recursive: true, force: true }))

describe('buildInputsHash', () => {
  it('is 16 hex digits and stable for the same inputs', () => {
    const tag = buildInputsHash(root, 'user-service', ARGS)
    expect(tag).toMatch(/^[0-9a-f]{16}$/)
    expect(buildInputsHash(root, 'user-service', { ...ARGS })).toBe(tag)
  })

  it.each([
    ['a nested source of the service', 'services/user-service/src/routes/users/index.ts'],
    ['the kit', 'services/kit/src/index.ts'],
    ['the Dockerfile', 'services/Dockerfile'],
    ['the bundler the image runs', 'services/bundle.ts'],
    ['the lock file', 'package-lock.json'],
    ['another workspace manifest (npm ci reads them all)', 'infra/package.json'],
    ['.dockerignore', '.dockerignore'],
  ])('changes when %s changes', (_, path) => {
    const before = buildInputsHash(root, 'user-service', ARGS)
    write(path, 'changed\n')
    expect(buildInputsHash(root, 'user-service', ARGS)).not.toBe(before)
  })

  it('changes with a build argument, such as a new base image', () => {
    expect(buildInputsHash(root, 'user-service', { ...ARGS, NODE_IMAGE: 'node:24.22.0-bookworm-slim' })).not.toBe(
      buildInputsHash(root, 'user-service', ARGS),
    )
  })

  it('reads every workspace manifest a `services/*` glob matches, as npm does', () => {
    write('package.json', JSON.stringify({ workspaces: ['services/*', 'infra'] }))
    const before = buildInputsHash(root, 'user-service', ARGS)
    write('services/gateway/package.json', '{"changed":true}\n')
    expect(buildInputsHash(root, 'user-service', ARGS)).not.toBe(before)
  })

  it("stays when only another service's sources change", () => {
    const before = buildInputsHash(root, 'user-service', ARGS)
    write('services/gateway/src/server.ts', 'console.log(3)\n')
    expect(buildInputsHash(root, 'user-service', ARGS)).toBe(before)
  })
})
