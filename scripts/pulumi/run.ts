// `npm run up | preview | destroy`: the Pulumi program on the dev stack (or `-- --stack NAME`).
// State lives in the project (file://<repo>/.pulumi) unless PULUMI_BACKEND_URL says otherwise.
// Missing tools stop it with a line each saying what to install, all of them at once. After
// `up` it prints the stack outputs and checks that the gateway answers through Traefik.
//
// `plan()` decides everything from what was found on the machine; the rest only gathers those
// facts and carries the plan out, so the decisions are tested without Pulumi or Docker.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, mkdirSync } from 'node:fs'
import { request } from 'node:http'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export type Command = 'up' | 'preview' | 'destroy'

export type DockerProbe =
  | { readonly status: 'ok'; readonly address: string }
  /** The engine's address answered nothing (no socket, refused, timed out, permission denied). */
  | { readonly status: 'unreachable'; readonly address: string; readonly reason: string }
  /** An address this script cannot probe (ssh://, TLS): Pulumi's Docker provider will say. */
  | { readonly status: 'unchecked'; readonly address: string }

export interface Facts {
  readonly command: Command
  /** Arguments after `--`, passed on to `pulumi <command>`. */
  readonly args: readonly string[]
  /** Path of the pulumi executable, or undefined when it is not on PATH. */
  readonly pulumi: string | undefined
  readonly docker: DockerProbe
  readonly env: Readonly<Record<string, string | undefined>>
  readonly repoRoot: string
  /** Directory of the Node running this script: put first on PATH for Pulumi's nodejs host. */
  readonly nodeBin: string
  readonly nodeVersion: string
  /** A person at a terminal: let `pulumi up` and `destroy` ask before changing anything. */
  readonly interactive: boolean
}

export type Plan =
  | { readonly kind: 'fail'; readonly message: string }
  | {
      readonly kind: 'run'
      /** The pulumi executable found on PATH. */
      readonly pulumi: string
      readonly stack: string
      /** Environment of every pulumi call. */
      readonly env: Readonly<Record<string, string>>
      /** Run in order; `optional` steps end the run quietly when they fail (no stack to destroy). */
      readonly steps: readonly { readonly argv: readonly string[]; readonly optional?: string }[]
      /** After `up`: print the outputs and check the gateway. */
      readonly report: boolean
      /** Printed before the steps (e.g. where the state lives). */
      readonly notes: readonly string[]
    }

export const INSTALL_PULUMI = 'pulumi CLI not found: install it from https://www.pulumi.com/docs/install/ and rerun'

/**
 * Decides what to run, or says everything that is missing at once: one line when one thing is,
 * a line per missing thing otherwise (so a newcomer fixes them all before the next try).
 */
export function plan(facts: Facts): Plan {
  const missing: string[] = []
  const [major = 0, minor = 0] = facts.nodeVersion.split('.').map(Number)
  if (major < 22 || (major === 22 && minor < 18) || (major === 23 && minor < 6)) {
    missing.push(
      `Node ${facts.nodeVersion} cannot run the TypeScript program (it needs type stripping, Node 22.18+ or 24): run npm install, which brings Node 24, and rerun`,
    )
  }
  if (facts.pulumi === undefined) missing.push(INSTALL_PULUMI)
  if (facts.docker.status === 'unreachable') {
    missing.push(
      `Docker engine not reachable at ${facts.docker.address} (${facts.docker.reason}): install Docker Engine from https://docs.docker.com/engine/install/ or start it, and rerun`,
    )
  }
  const backend = facts.env.PULUMI_BACKEND_URL ?? `file://${join(facts.repoRoot, '.pulumi')}`
  const local = backend.startsWith('file://')
  if (local && facts.env.PULUMI_CONFIG_PASSPHRASE === undefined && facts.env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) {
    missing.push("PULUMI_CONFIG_PASSPHRASE is not set: export it (it encrypts the stack's secrets in the local state) and rerun")
  }
  // (A missing CLI is always in `missing`: the second test only narrows the type.)
  if (missing.length > 0 || facts.pulumi === undefined) {
    return {
      kind: 'fail',
      message:
        missing.length === 1 ? missing[0]! : [`${missing.length} things to fix first:`, ...missing.map((line) => `- ${line}`)].join('\n'),
    }
  }

  const { stack, rest } = stackOf(facts.args)
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(facts.env)) if (value !== undefined) env[key] = value
  env.PULUMI_BACKEND_URL = backend
  env.PATH = [facts.nodeBin, facts.env.PATH ?? ''].filter((part) => part !== '').join(delimiter)

  const select = ['stack', 'select', '--create', ...(local ? ['--secrets-provider', 'passphrase'] : []), stack]
  const yes = facts.interactive || rest.includes('--yes') || rest.includes('-y') ? [] : ['--yes']
  const pulumi = facts.pulumi
  const notes = [
    `state: ${backend}${facts.env.PULUMI_BACKEND_URL === undefined ? ' (set PULUMI_BACKEND_URL to keep it elsewhere)' : ''}`,
    `stack: ${stack}`,
  ]
  switch (facts.command) {
    case 'up':
      return {
        kind: 'run',
        pulumi,
        stack,
        env,
        notes,
        report: true,
        steps: [{ argv: select }, { argv: ['up', '--stack', stack, ...yes, ...rest] }],
      }
    case 'preview':
      return {
        kind: 'run',
        pulumi,
        stack,
        env,
        notes,
        report: false,
        steps: [{ argv: select }, { argv: ['preview', '--stack', stack, ...rest] }],
      }
    case 'destroy':
      return {
        kind: 'run',
        pulumi,
        stack,
        env,
        notes,
        report: false,
        steps: [
          { argv: ['stack', 'select', stack], optional: `no stack ${stack} in ${backend}: nothing to destroy` },
          { argv: ['destroy', '--stack', stack, ...yes, ...rest] },
        ],
      }
  }
}

/** `--stack NAME` / `-s NAME` / `--stack=NAME` from the passed arguments; default dev. */
export function stackOf(args: readonly string[]): { stack: string; rest: string[] } {
  const rest: string[] = []
  let stack = 'dev'
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!
    if ((arg === '--stack' || arg === '-s') && args[index + 1] !== undefined) {
      stack = args[index + 1]!
      index += 1
    } else if (arg.startsWith('--stack=')) {
      stack = arg.slice('--stack='.length)
    } else {
      rest.push(arg)
    }
  }
  return { stack, rest }
}

/** The first executable called `name` on PATH. */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const folder of (path ?? '').split(delimiter)) {
    if (folder === '') continue
    const candidate = join(folder, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** GET /_ping on the engine Docker clients would use (DOCKER_HOST, else the default socket). */
export function probeDocker(env: Readonly<Record<string, string | undefined>>, timeoutMs = 3000): Promise<DockerProbe> {
  const address = env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'
  let target: { socketPath: string } | { host: string; port: number }
  if (address.startsWith('unix://')) {
    target = { socketPath: address.slice('unix://'.length) }
  } else if (address.startsWith('tcp://') && (env.DOCKER_TLS_VERIFY ?? '') === '') {
    const url = new URL(address.replace(/^tcp:/, 'http:'))
    target = { host: url.hostname, port: Number(url.port === '' ? 2375 : url.port) }
  } else {
    return Promise.resolve({ status: 'unchecked', address })
  }
  return new Promise((done) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume()
      done(res.statusCode === 200 ? { status: 'ok', address } : { status: 'unreachable', address, reason: `HTTP ${res.statusCode}` })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)))
    req.on('error', (error: NodeJS.ErrnoException) => done({ status: 'unreachable', address, reason: error.code ?? error.message }))
    req.end()
  })
}

/** `pulumi stack output --json` as lines to print; secrets stay `[secret]`. */
export function describeOutputs(outputs: Readonly<Record<string, unknown>>, stack: string): string[] {
  const lines: string[] = []
  for (const [key, value] of Object.entries(outputs)) {
    if (value === '[secret]') {
      lines.push(`  ${key}: [secret] (pulumi stack output --stack ${stack} --show-secrets ${key})`)
    } else if (typeof value === 'object' && value !== null) {
      lines.push(`  ${key}:`)
      for (const [inner, text] of Object.entries(value))
        lines.push(`    ${inner}: ${typeof text === 'string' ? text : JSON.stringify(text)}`)
    } else {
      lines.push(`  ${key}: ${String(value)}`)
    }
  }
  return lines
}

/** Asks the gateway, through Traefik, for the user list until it answers 200 or time runs out. */
export async function checkGateway(gatewayUrl: string, deadlineMs = 90_000): Promise<{ ok: boolean; detail: string }> {
  const url = `${gatewayUrl.replace(/\/+$/, '')}/users`
  const until = Date.now() + deadlineMs
  let detail = 'no attempt'
  while (Date.now() < until) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3000) })
      await response.arrayBuffer()
      detail = `GET ${url} → ${response.status}`
      // Traefik routes once Consul has the gateway as passing: a 404 or 502 before that is normal.
      if (response.status === 200) return { ok: true, detail }
    } catch (error) {
      detail = `GET ${url} failed: ${(error as Error).message}`
    }
    await new Promise((wait) => setTimeout(wait, 2000))
  }
  return { ok: false, detail }
}

async function main(): Promise<number> {
  const command = process.argv[2]
  if (command !== 'up' && command !== 'preview' && command !== 'destroy') {
    process.stderr.write('usage: node scripts/pulumi/run.ts up|preview|destroy [-- pulumi arguments]\n')
    return 2
  }
  const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)))
  const decided = plan({
    command,
    args: process.argv.slice(3),
    pulumi: findOnPath('pulumi', process.env.PATH),
    docker: await probeDocker(process.env),
    env: process.env,
    repoRoot,
    nodeBin: dirname(process.execPath),
    nodeVersion: process.versions.node,
    interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
  })
  if (decided.kind === 'fail') {
    process.stderr.write(`${decided.message}\n`)
    return 1
  }
  for (const note of decided.notes) process.stdout.write(`${note}\n`)
  if (decided.env.PULUMI_BACKEND_URL?.startsWith('file://'))
    mkdirSync(decided.env.PULUMI_BACKEND_URL.slice('file://'.length), { recursive: true })

  for (const step of decided.steps) {
    const result = spawnSync(decided.pulumi, step.argv, {
      cwd: repoRoot,
      env: decided.env,
      stdio: step.optional === undefined ? 'inherit' : ['inherit', 'ignore', 'ignore'],
    })
    if (result.status !== 0) {
      if (step.optional !== undefined) {
        process.stdout.write(`${step.optional}\n`)
        return 0
      }
      return result.status ?? 1
    }
  }
  if (!decided.report) return 0

  const outputs = spawnSync(decided.pulumi, ['stack', 'output', '--json', '--stack', decided.stack], {
    cwd: repoRoot,
    env: decided.env,
    encoding: 'utf8',
  })
  if (outputs.status !== 0) {
    process.stderr.write(`pulumi stack output failed: ${outputs.stderr.trim()}\n`)
    return 1
  }
  const values = JSON.parse(outputs.stdout) as Record<string, unknown>
  process.stdout.write(`\nstack ${decided.stack} outputs:\n${describeOutputs(values, decided.stack).join('\n')}\n\n`)
  if (typeof values.gatewayUrl !== 'string') return 0
  const gateway = await checkGateway(values.gatewayUrl)
  process.stdout.write(`gateway: ${gateway.detail}\n`)
  return gateway.ok ? 0 : 1
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main()
