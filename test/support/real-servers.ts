// vitest globalSetup: one private PostgreSQL 15 and one Consul dev agent for the whole run, on
// random loopback ports, so suites test against the real servers rather than fakes.
// Tests read them with `inject('postgresUrl')` and `inject('consulAddr')` (see provided.d.ts).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { constants, openSync, closeSync } from 'node:fs'
import { access, chown, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { freePorts } from './real-servers-helpers.ts'

const run = promisify(execFile)
const READY_TIMEOUT_MS = 10_000
const PORT_ATTEMPTS = 3

interface Started {
  readonly url: string
  stop(): Promise<void>
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const results = await Promise.allSettled([startPostgres(), startConsul()])
  const started = results.flatMap((result) => (result.status === 'fulfilled' && result.value ? [result.value] : []))
  const teardown = async () => {
    await Promise.all(started.map((server) => server.stop()))
  }
  const failed = results.find((result) => result.status === 'rejected')
  if (failed !== undefined) {
    await teardown()
    throw failed.reason
  }
  const [postgres, consul] = results.map((result) => (result.status === 'fulfilled' ? result.value : undefined))
  project.provide('postgresUrl', postgres?.url)
  project.provide('consulAddr', consul?.url)
  return teardown
}

/** On CI a missing server is an error: a real-server suite must never be skipped silently. */
function missing(what: string, install: string): undefined {
  const ci = process.env.CI
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') {
    throw new Error(`real-servers: ${what} not found; install ${install} (CI runs the real-server suites)`)
  }
  console.warn(`real-servers: ${what} not found (install ${install}); suites that need it are skipped`)
  return undefined
}

async function startPostgres(): Promise<Started | undefined> {
  const bin = await findPostgresBin()
  if (bin === undefined) return missing('PostgreSQL 15 (initdb, pg_ctl)', 'the Debian package postgresql-15')

  // initdb refuses to run as root: run the server as `postgres` and give it the directory.
  const asRoot = process.getuid?.() === 0
  const as = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
  const dir = await mkdtemp(join(tmpdir(), 'kit-pg-'))
  const data = join(dir, 'data')
  const log = join(dir, 'server.log')
  const pgCtl = join(bin, 'pg_ctl')
  try {
    if (asRoot) {
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
      await chown(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()))
    }
    await run(...as(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']))

    let port = 0
    for (let attempt = 1; ; attempt++) {
      ;[port] = (await freePorts(1)) as [number]
      // Durability is pointless for a throwaway cluster; turning it off makes DDL-heavy tests fast.
      const settings = `-p ${port} -k '${dir}' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
      try {
        await run(...as(pgCtl, ['-D', data, '-l', log, '-o', settings, '-w', '-t', '10', 'start']))
        break
      } catch (error) {
        // Most likely another process took the port between freePorts() and the bind.
        if (attempt >= PORT_ATTEMPTS) {
          const tail = await readFile(log, 'utf8').catch(() => '')
          throw new Error(`real-servers: PostgreSQL did not start: ${tail.slice(-1000)}`, { cause: error })
        }
      }
    }

    const stopServer = () => spawnSync(...as(pgCtl, ['-D', data, '-m', 'immediate', 'stop']), { stdio: 'ignore' })
    // If the run dies before teardown, do not leave a postmaster behind.
    process.once('exit', stopServer)
    const stop = async () => {
      process.removeListener('exit', stopServer)
      await run(...as(pgCtl, ['-D', data, '-m', 'immediate', 'stop'])).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }

    const url = `postgres://postgres@127.0.0.1:${port}/postgres`
    try {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      const { rows } = await client.query<{ version: string }>('SELECT version()')
      await client.end()
      console.log(`real-servers: ${rows[0]!.version.split(' on ')[0]} at ${url}`)
    } catch (error) {
      await stop()
      throw error
    }
    return { url, stop }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

async function findPostgresBin(): Promise<string | undefined> {
  const debian = '/usr/lib/postgresql/15/bin'
  if (await executable(join(debian, 'pg_ctl'))) return debian
  // Elsewhere (e.g. a developer's machine) the binaries may be on PATH.
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && (await executable(join(dir, 'pg_ctl'))) && (await executable(join(dir, 'initdb')))) return dir
  }
  return undefined
}

async function startConsul(): Promise<Started | undefined> {
  const consul = await findOnPath('consul')
  if (consul === undefined) return missing('consul', 'the consul package (Consul 1.8+)')

  const dir = await mkdtemp(join(tmpdir(), 'kit-consul-'))
  for (let attempt = 1; ; attempt++) {
    const [http, dns, serfLan, serfWan, server, grpc] = (await freePorts(6)) as [number, number, number, number, number, number]
    const hcl = `ports { http = ${http}, dns = ${dns}, serf_lan = ${serfLan}, serf_wan = ${serfWan}, server = ${server}, grpc = ${grpc} }`
    const logFile = join(dir, `agent-${attempt}.log`)
    const out = openSync(logFile, 'w')
    const child = spawn(consul, ['agent', '-dev', '-client', '127.0.0.1', '-bind', '127.0.0.1', '-hcl', hcl], {
      stdio: ['ignore', out, out],
    })
    closeSync(out)
    const kill = () => child.kill('SIGKILL')
    process.once('exit', kill)
    const stop = async () => {
      process.removeListener('exit', kill)
      await stopChild(child)
      await rm(dir, { recursive: true, force: true })
    }

    const url = `http://127.0.0.1:${http}`
    try {
      await waitForLeader(url, child)
      const self = (await (await fetch(`${url}/v1/agent/self`)).json()) as { Config?: { Version?: string } }
      console.log(`real-servers: Consul ${self.Config?.Version ?? '(unknown version)'} dev agent at ${url}`)
      return { url, stop }
    } catch (error) {
      process.removeListener('exit', kill)
      await stopChild(child)
      if (attempt >= PORT_ATTEMPTS) {
        const tail = await readFile(logFile, 'utf8').catch(() => '')
        await rm(dir, { recursive: true, force: true })
        throw new Error(`real-servers: Consul did not start: ${tail.slice(-1000)}`, { cause: error })
      }
    }
  }
}

/** A dev agent answers HTTP before it has elected itself; registrations need a leader. */
async function waitForLeader(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('consul exited')
    try {
      const response = await fetch(`${url}/v1/status/leader`, { signal: AbortSignal.timeout(1_000) })
      const leader = (await response.json()) as unknown
      if (typeof leader === 'string' && leader !== '') return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`no Consul leader within ${READY_TIMEOUT_MS} ms`)
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && (await executable(join(dir, name)))) return join(dir, name)
  }
  return undefined
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
