// scripts/pulumi/run.ts: what `npm run up | preview | destroy` decide from the machine, the
// Docker probe against a real socket, and the end-to-end one-line failure without the CLI.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { describeOutputs, findOnPath, INSTALL_PULUMI, plan, probeDocker, stackOf, type Facts } from '../../scripts/pulumi/run.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '')

const facts = (overrides: Partial<Facts> = {}): Facts => ({
  command: 'up',
  args: [],
  pulumi: '/usr/local/bin/pulumi',
  docker: { status: 'ok', address: 'unix:///var/run/docker.sock' },
  env: { PATH: '/usr/bin', PULUMI_CONFIG_PASSPHRASE: 'dev' },
  repoRoot: '/repo',
  nodeBin: '/repo/node_modules/.bin',
  nodeVersion: '24.21.0',
  interactive: false,
  ...overrides,
})

describe('plan', () => {
  it('without the Pulumi CLI: one line saying where to install it', () => {
    expect(plan(facts({ pulumi: undefined }))).toEqual({ kind: 'fail', message: INSTALL_PULUMI })
    expect(INSTALL_PULUMI).toBe('pulumi CLI not found: install it from https://www.pulumi.com/docs/install/ and rerun')
  })

  it('without a reachable Docker engine: one line naming the address, the reason and what to install', () => {
    const decided = plan(facts({ docker: { status: 'unreachable', address: 'unix:///var/run/docker.sock', reason: 'ENOENT' } }))
    expect(decided).toEqual({
      kind: 'fail',
      message:
        'Docker engine not reachable at unix:///var/run/docker.sock (ENOENT): install Docker Engine from https://docs.docker.com/engine/install/ or start it, and rerun',
    })
  })

  it('reports everything missing at once, a line each, for every command', () => {
    for (const command of ['up', 'preview', 'destroy'] as const) {
      const decided = plan(
        facts({
          command,
          nodeVersion: '20.20.2',
          pulumi: undefined,
          docker: { status: 'unreachable', address: 'x', reason: 'y' },
          env: { PATH: '/usr/bin' },
        }),
      )
      expect(decided.kind).toBe('fail')
      const lines = decided.kind === 'fail' ? decided.message.split('\n') : []
      expect(lines[0]).toBe('4 things to fix first:')
      expect(lines.slice(1).map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual([
        '- Node',
        '- pulumi',
        '- Docker',
        '- PULUMI_CONFIG_PASSPHRASE',
      ])
      expect(lines[2]).toBe(`- ${INSTALL_PULUMI}`)
    }
  })

  it('goes ahead when the engine cannot be probed from here (ssh://): the provider will say', () => {
    expect(plan(facts({ docker: { status: 'unchecked', address: 'ssh://builder' } })).kind).toBe('run')
  })

  it('asks for PULUMI_CONFIG_PASSPHRASE in one line when the state is local and it is unset', () => {
    const decided = plan(facts({ env: { PATH: '/usr/bin' } }))
    expect(decided.kind).toBe('fail')
    expect(decided.kind === 'fail' && decided.message).toMatch(/^PULUMI_CONFIG_PASSPHRASE is not set: export it .* and rerun$/)
    expect(plan(facts({ env: { PATH: '/usr/bin', PULUMI_CONFIG_PASSPHRASE_FILE: '/secrets/pass' } })).kind).toBe('run')
  })

  it('keeps the state in the project (file://<repo>/.pulumi) and puts this Node first on PATH', () => {
    const decided = plan(facts())
    if (decided.kind !== 'run') throw new Error(decided.message)
    expect(decided.env.PULUMI_BACKEND_URL).toBe('file:///repo/.pulumi')
    expect(decided.env.PATH).toBe('/repo/node_modules/.bin:/usr/bin')
    expect(decided.env.PULUMI_CONFIG_PASSPHRASE).toBe('dev')
  })

  it('up: selects or creates the dev stack with passphrase secrets, then pulumi up --yes when nobody is at a terminal', () => {
    const decided = plan(facts())
    if (decided.kind !== 'run') throw new Error(decided.message)
    expect(decided.steps.map((step) => step.argv)).toEqual([
      ['stack', 'select', '--create', '--secrets-provider', 'passphrase', 'dev'],
      ['up', '--stack', 'dev', '--yes'],
    ])
    expect(decided.report).toBe(true)
  })

  it('up at a terminal lets pulumi ask for confirmation', () => {
    const decided = plan(facts({ interactive: true }))
    expect(decided.kind === 'run' && decided.steps[1]!.argv).toEqual(['up', '--stack', 'dev'])
  })

  it('uses PULUMI_BACKEND_URL when set, without asking for a passphrase there', () => {
    const decided = plan(facts({ env: { PATH: '/usr/bin', PULUMI_BACKEND_URL: 'https://api.pulumi.com' } }))
    if (decided.kind !== 'run') throw new Error(decided.message)
    expect(decided.env.PULUMI_BACKEND_URL).toBe('https://api.pulumi.com')
    expect(decided.steps[0]!.argv).toEqual(['stack', 'select', '--create', 'dev'])
  })

  it('preview: same stack selection, pulumi preview, no report', () => {
    const decided = plan(facts({ command: 'preview', args: ['--diff'] }))
    if (decided.kind !== 'run') throw new Error(decided.message)
    expect(decided.steps.map((step) => step.argv)).toEqual([
      ['stack', 'select', '--create', '--secrets-provider', 'passphrase', 'dev'],
      ['preview', '--stack', 'dev', '--diff'],
    ])
    expect(decided.report).toBe(false)
  })

  it('destroy: never creates a stack; a missing one means nothing to destroy', () => {
    const decided = plan(facts({ command: 'destroy', args: ['--stack', 'prod'] }))
    if (decided.kind !== 'run') throw new Error(decided.message)
    expect(decided.steps).toEqual([
      { argv: ['stack', 'select', 'prod'], optional: 'no stack prod in file:///repo/.pulumi: nothing to destroy' },
      { argv: ['destroy', '--stack', 'prod', '--yes'] },
    ])
  })

  it('refuses a Node without type stripping, pointing at npm install', () => {
    const decided = plan(facts({ nodeVersion: '20.20.2' }))
    expect(decided.kind === 'fail' && decided.message).toMatch(
      /^Node 20\.20\.2 cannot run the TypeScript program .* run npm install, which brings Node 24, and rerun$/,
    )
    expect(plan(facts({ nodeVersion: '22.18.0' })).kind).toBe('run')
  })
})

describe('stackOf', () => {
  it('takes --stack, -s and --stack= and passes the rest on', () => {
    expect(stackOf([])).toEqual({ stack: 'dev', rest: [] })
    expect(stackOf(['-s', 'prod', '--diff'])).toEqual({ stack: 'prod', rest: ['--diff'] })
    expect(stackOf(['--stack=staging'])).toEqual({ stack: 'staging', rest: [] })
  })
})

describe('describeOutputs', () => {
  it('prints URLs, maps one entry a line, and secrets as [secret] with the command that shows them', () => {
    expect(
      describeOutputs(
        {
          gatewayUrl: 'http://127.0.0.1:8000',
          grafanaDashboardUrls: { 'Services overview': 'http://127.0.0.1:3030/d/x' },
          credentials: '[secret]',
        },
        'dev',
      ),
    ).toEqual([
      '  gatewayUrl: http://127.0.0.1:8000',
      '  grafanaDashboardUrls:',
      '    Services overview: http://127.0.0.1:3030/d/x',
      '  credentials: [secret] (pulumi stack output --stack dev --show-secrets credentials)',
    ])
  })
})

describe('probeDocker', () => {
  let dir: string | undefined
  let server: Server | undefined
  afterEach(async () => {
    await new Promise<void>((done) => (server === undefined ? done() : server.close(() => done())))
    server = undefined
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('answers ok when /_ping on the socket says OK', async () => {
    dir = mkdtempSync(join(tmpdir(), 'docker-probe-'))
    const socketPath = join(dir, 'docker.sock')
    server = createServer((req, res) => res.end(req.url === '/_ping' ? 'OK' : 'no'))
    await new Promise<void>((done) => server!.listen(socketPath, done))
    expect(await probeDocker({ DOCKER_HOST: `unix://${socketPath}` })).toEqual({ status: 'ok', address: `unix://${socketPath}` })
  })

  it('reports a missing socket as unreachable with the error code', async () => {
    dir = mkdtempSync(join(tmpdir(), 'docker-probe-'))
    expect(await probeDocker({ DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` })).toMatchObject({
      status: 'unreachable',
      reason: 'ENOENT',
    })
  })

  it('leaves ssh:// engines unchecked', async () => {
    expect(await probeDocker({ DOCKER_HOST: 'ssh://me@builder' })).toEqual({ status: 'unchecked', address: 'ssh://me@builder' })
  })
})

describe('findOnPath', () => {
  it('finds an executable and ignores what is not one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'path-'))
    try {
      writeFileSync(join(dir, 'pulumi'), '#!/bin/sh\n')
      expect(findOnPath('pulumi', dir)).toBeUndefined()
      chmodSync(join(dir, 'pulumi'), 0o755)
      expect(findOnPath('pulumi', `/nonexistent:${dir}`)).toBe(join(dir, 'pulumi'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('npm run up on a machine without the Pulumi CLI', () => {
  it('prints the one install line on stderr and exits 1', () => {
    const result = spawnSync(process.execPath, [`${ROOT}/scripts/pulumi/run.ts`, 'up'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: '/nonexistent', HOME: tmpdir(), PULUMI_CONFIG_PASSPHRASE: 'test', DOCKER_HOST: 'ssh://builder' },
    })
    expect(result.stderr).toBe(`${INSTALL_PULUMI}\n`)
    expect(result.status).toBe(1)
  })
})
