// Capacity under the declared limits: the three service images run with the CPU and memory
// limits and the V8 sizing the stacks give them (read from the service model, infra/model.ts),
// the services with a database on a real PostgreSQL, tracing on with the default sampler into
// a local OTLP sink; then wrk saturates the gateway with `GET /users/:id` for 60 s. Prints the
// requests per second per gateway replica and each container's peak memory, and fails on an OOM
// kill, a restart, a container gone or a single failed request. Whether the gateway reached
// GATEWAY_TARGET_RPS is printed as PASS or MISS: a throughput needs a quiet machine.
//
// Usage: node scripts/docker/check-capacity.ts --tag <tag> [--seconds 60] [--connections 64]
// (as root, with the images platform/<service>:<tag> built, e.g. by check-images.sh, which
// runs this last). Every container uses the host's network and listens on 127.0.0.1 only.
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import { wrkRun } from '../../bench/lib/load.ts'
import { CountingSink } from '../../bench/lib/sink.ts'
import { catalogEntry, upstreamUrlsVariable } from '../../catalog/catalog.ts'
import type { AppService } from '../../infra/model.ts'
import setupRealServers from '../../test/support/real-servers.ts'
import { createDatabase } from '../../test/support/real-servers-helpers.ts'
import {
  containerLimits,
  cpuOver,
  GATEWAY_TARGET_RPS,
  limitArgs,
  oneOfEach,
  parseCpuCounters,
  parseInspect,
  parseOomKills,
  verdict,
  type ContainerState,
  type CpuCounters,
} from '../lib/capacity.ts'
import { freePort } from '../lib/ports.ts'

const exec = promisify(execFile)
const docker = '/usr/bin/docker'
const { values } = parseArgs({
  options: { tag: { type: 'string' }, seconds: { type: 'string', default: '60' }, connections: { type: 'string', default: '64' } },
})
if (values.tag === undefined) throw new Error('usage: check-capacity.ts --tag <image tag>')
const tag = values.tag
const seconds = Number(values.seconds)
const connections = Number(values.connections)

const say = (line: string) => process.stdout.write(`${line}\n`)
const model = new Map(oneOfEach().map((service) => [service.name, service]))
const service = (name: string): AppService => model.get(name)!
const runId = `platform-capacity-${process.pid}`
const started: string[] = []
const cleanups: (() => Promise<unknown>)[] = []

async function dockerOut(...args: string[]): Promise<string> {
  const { stdout } = await exec(docker, args, { maxBuffer: 16 * 1024 * 1024 })
  return stdout.trim()
}

/** Runs one service's image on the host's network, on 127.0.0.1:`port`, with the model's limits. */
async function run(name: string, port: number, env: Record<string, string>): Promise<string> {
  const container = `${runId}-${name}`
  const limits = containerLimits(service(name))
  const envArgs = Object.entries({ HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', DRAIN_DELAY_MS: '0', ...env }).flatMap(
    ([key, value]) => ['--env', `${key}=${value}`],
  )
  await dockerOut('run', '--detach', '--name', container, '--network', 'host', ...limitArgs(limits), ...envArgs, `platform/${name}:${tag}`)
  started.push(container)
  say(
    `${name}: ${container}, --cpus ${limits.cpus} --memory ${limits.memoryMiB}m, ${Object.entries(limits.runtimeEnv)
      .map(([name, value]) => `${name}='${value}'`)
      .join(' ')}, 127.0.0.1:${port}`,
  )
  return container
}

async function waitReady(name: string, url: string, container: string): Promise<void> {
  const deadline = performance.now() + 120_000
  for (;;) {
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) })
      if (response.status === 200) return
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline)
      throw new Error(`${name} was not ready within 120 s:\n${await dockerOut('logs', '--tail', '20', container).catch(String)}`)
    await sleep(250)
  }
}

/** Where each controller's hierarchy is: cgroup v1 mounts one per controller, v2 one for all. */
const CGROUP_ROOTS = {
  memory: ['/sys/fs/cgroup/memory', '/sys/fs/cgroup'],
  cpu: ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup'],
  cpuacct: ['/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/cpu,cpuacct'],
}

/** The container's cgroup directory for a controller (cgroup v1 `<controller>/…/<id>` or v2 `…/docker-<id>.scope`). */
async function cgroupOf(container: string, controller: keyof typeof CGROUP_ROOTS): Promise<string | undefined> {
  const id = await dockerOut('inspect', '--format', '{{.Id}}', container)
  for (const root of CGROUP_ROOTS[controller]) {
    const found = await findDir(root, (entry) => entry === id || entry === `docker-${id}.scope`, 4)
    if (found !== undefined) return found
  }
  return undefined
}

async function findDir(dir: string, match: (entry: string) => boolean, depth: number): Promise<string | undefined> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return undefined
  }
  for (const entry of entries) if (entry.isDirectory() && match(entry.name)) return join(dir, entry.name)
  if (depth === 0) return undefined
  for (const entry of entries) {
    if (!entry.isDirectory()) continue
    const found = await findDir(join(dir, entry.name), match, depth - 1)
    if (found !== undefined) return found
  }
  return undefined
}

async function readFirst(dir: string | undefined, files: readonly string[]): Promise<string | undefined> {
  if (dir === undefined) return undefined
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8').catch(() => undefined)
    if (text !== undefined) return text
  }
  return undefined
}

interface CpuCgroups {
  readonly cpu: string | undefined
  readonly cpuacct: string | undefined
}

async function cpuCgroupsOf(container: string): Promise<CpuCgroups> {
  return { cpu: await cgroupOf(container, 'cpu'), cpuacct: await cgroupOf(container, 'cpuacct') }
}

/** The container's CPU counters now; undefined when its cgroup cannot be read. */
async function cpuCounters(cgroups: CpuCgroups): Promise<CpuCounters | undefined> {
  const stat = await readFirst(cgroups.cpu, ['cpu.stat'])
  if (stat === undefined) return undefined
  try {
    return parseCpuCounters(stat, await readFirst(cgroups.cpuacct, ['cpuacct.usage']))
  } catch {
    return undefined
  }
}

async function stateOf(name: string, container: string, cgroup: string | undefined): Promise<ContainerState> {
  const inspected = parseInspect(
    container,
    await dockerOut('inspect', '--format', '{{json .State}}', container),
    await dockerOut('inspect', '--format', '{{.RestartCount}}', container),
  )
  const peak = await readFirst(cgroup, ['memory.max_usage_in_bytes', 'memory.peak'])
  const oom = await readFirst(cgroup, ['memory.oom_control', 'memory.events'])
  return {
    ...inspected,
    name,
    cgroupOomKills: oom === undefined ? 0 : parseOomKills(oom),
    peakMiB: peak === undefined ? undefined : Number(peak) / 1024 / 1024,
    limitMiB: containerLimits(service(name)).memoryMiB,
  }
}

async function main(): Promise<number> {
  say('== capacity: the three images at the limits the stacks declare')
  const provided = new Map<string, unknown>()
  const stopServers = await setupRealServers({ provide: (key: string, value: unknown) => provided.set(key, value) } as never)
  cleanups.push(stopServers)
  const postgres = provided.get('postgresUrl')
  if (typeof postgres !== 'string') throw new Error('PostgreSQL 15 not found: install the Debian package postgresql-15')
  const sink = new CountingSink()
  const otlp = await sink.start()
  cleanups.push(() => sink.stop())

  const names = [...model.keys()]
  const ports = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await freePort()] as const)))
  const url = (name: string) => `http://127.0.0.1:${ports[name]}`
  // Every service as the catalog describes it: its database, the static instance lists of the
  // services it calls, and its spans to the sink.
  const env: Record<string, Record<string, string>> = {}
  for (const name of names) {
    const entry = catalogEntry(name)
    env[name] = {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
      ...(entry.database === undefined ? {} : { DATABASE_URL: await createDatabase(postgres, `capacity_${entry.database.name}`) }),
      ...Object.fromEntries(entry.calls.map((callee) => [upstreamUrlsVariable(callee), url(callee)])),
    }
  }
  // One load client: its per-client rate limit (RATE_LIMIT_MAX a minute) would answer 429 to
  // nearly everything, so it is lifted; every other setting is the production default.
  env.gateway = { ...env.gateway, RATE_LIMIT_MAX: '1000000000' }
  const containers: Record<string, string> = {}
  for (const name of names) containers[name] = await run(name, ports[name]!, env[name]!)
  for (const name of names) await waitReady(name, url(name), containers[name]!)
  const cgroups = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await cgroupOf(containers[name]!, 'memory')] as const)),
  )
  const cpuCgroups = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await cpuCgroupsOf(containers[name]!)] as const)),
  )

  const created = await fetch(`${url('gateway')}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Capacity', email: 'capacity@example.com' }),
  })
  if (created.status !== 201) throw new Error(`POST /users through the gateway answered ${created.status}: ${await created.text()}`)
  const { id } = (await created.json()) as { id: number }
  const target = `${url('gateway')}/users/${id}`

  say(`warm-up: 5 s; then wrk -t1 -c${connections} for ${seconds} s on GET /users/${id} through the gateway`)
  await wrkRun(target, { connections, seconds: 5 })
  const cpuBefore = await Promise.all(names.map((name) => cpuCounters(cpuCgroups[name]!)))
  const load = await wrkRun(target, { connections, seconds })
  const cpuAfter = await Promise.all(names.map((name) => cpuCounters(cpuCgroups[name]!)))

  const states = await Promise.all(names.map((name) => stateOf(name, containers[name]!, cgroups[name])))
  const gatewayReplicas = 1
  const result = verdict(states, load, gatewayReplicas)

  say('')
  // CPU per gateway answer tells which container bound the throughput: the one whose CPU per
  // answer times the rate reaches its CPU limit, throttled in most periods.
  say('container       limits             peak memory   OOM kills  restarts  running  CPU µs/answer  throttled')
  states.forEach((state, index) => {
    const limits = containerLimits(service(state.name))
    const peak = state.peakMiB === undefined ? 'unknown' : `${state.peakMiB.toFixed(0)} MiB`
    const before = cpuBefore[index]
    const after = cpuAfter[index]
    const cpu = before === undefined || after === undefined ? undefined : cpuOver(before, after, load.ok + load.non2xx)
    say(
      `${state.name.padEnd(15)} ${`${limits.cpus} CPU, ${limits.memoryMiB} MiB`.padEnd(18)} ${peak.padStart(11)}   ${String(state.cgroupOomKills + (state.oomKilled ? 1 : 0)).padStart(9)}  ${String(state.restarts).padStart(8)}  ${(state.running ? 'yes' : 'NO').padEnd(7)}  ${(cpu === undefined ? 'unknown' : cpu.perRequestUs.toFixed(0)).padStart(13)}  ${(cpu === undefined ? '' : `${(cpu.throttledShare * 100).toFixed(0)}%`).padStart(9)}`,
    )
  })
  say('')
  say(
    `gateway: ${load.ok} answers 2xx in ${load.seconds.toFixed(1)} s = ${(load.rps / gatewayReplicas).toFixed(0)} req/s per gateway replica (${gatewayReplicas} replica), p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms; ${load.non2xx} non-2xx, ${load.errors} socket errors`,
  )
  say(`tracing: ${sink.spans} spans received by the OTLP sink (default sampler)`)
  say(
    `${result.target}  ≥ ${GATEWAY_TARGET_RPS} req/s per gateway replica at ${containerLimits(service('gateway')).cpus} CPU / ${containerLimits(service('gateway')).memoryMiB} MiB`,
  )
  if (result.failures.length > 0) {
    for (const failure of result.failures) say(`FAILED: ${failure}`)
    for (const container of started)
      say(`--- last lines of ${container}\n${(await dockerOut('logs', '--tail', '10', container).catch(String)).slice(-3000)}`)
    return 1
  }
  say('check-capacity: no OOM kill, no restart, no failed request')
  return 0
}

let status = 1
try {
  status = await main()
} catch (error) {
  say(`FAILED: ${(error as Error).message}`)
} finally {
  if (started.length > 0) await exec(docker, ['rm', '--force', ...started]).catch(() => {})
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
}
process.exit(status)
