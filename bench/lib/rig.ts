import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../scripts/lib/ports.ts'
import { bundleService } from '../../services/bundle.ts'
import { gatewayEnv, runtimeEnv, userServiceEnv } from './environments.ts'
import { between, snapshot } from './measure.ts'
import { startPostgres, type Postgres } from './postgres.ts'
import { findExecutable, pin, ProcessTable } from './proc.ts'
import { PROXIES, SATURATION, scenarioLabel, UPSTREAM_LABEL, type Scenario, type ServerId, type UpstreamKind } from './scenarios.ts'
import { Fleet, type Pinning, type Server } from './servers.ts'
import type { Settings } from './settings.ts'
import { CountingSink } from './sink.ts'

/** The one request of every run: a small JSON body, the same bytes from every upstream but PGlite (its own seed row). */
export const PATH = '/users/1'

/** Every server of a run, started, checked and pinned, and how to reach each scenario. */
export interface Rig {
  readonly pinning: Pinning
  readonly sink: CountingSink
  readonly postgres: Postgres
  readonly nginxVersion: string
  readonly servers: ReadonlyMap<ServerId, Server>
  readonly startsMs: ReadonlyMap<ServerId, readonly number[]>
  /** Other load (share of the machine) while the starts were timed. */
  readonly startsOtherLoad: number
  /** Roots of the process trees the bench is responsible for: itself (with every server it spawned) and PostgreSQL. */
  readonly ours: readonly number[]
  upstream(scenario: Scenario): Server
  /** The proxy of a scenario; undefined direct. */
  proxy(scenario: Scenario): Server | undefined
  url(scenario: Scenario): string
  /** Pins a server's every process and thread (an upstream on PostgreSQL: the database too) to `cpus`. */
  move(server: ServerId, cpus: string): void
  stop(): Promise<void>
}

/**
 * Starts PostgreSQL and every server, timing the starts: each user-service, the gateway and
 * reply-from in front of the production path `settings.starts` times (the start-to-ready
 * targets compare them), every other server once. Then checks that each scenario answers the
 * upstream's bytes and pins every thread of every server to the server core.
 */
export async function startRig(settings: Settings, log: (line: string) => void): Promise<Rig> {
  // Debian puts nginx in /usr/sbin, which not every user has on PATH.
  const nginx = findExecutable('nginx', ['/usr/sbin'])
  if (nginx === undefined) throw new Error('nginx not found: install the Debian package nginx-light (apt-get install -y nginx-light)')
  if (settings.loadTool === 'wrk' && findExecutable('wrk') === undefined) {
    throw new Error('wrk not found: install the Debian package wrk (apt-get install -y wrk), or run with --load-tool autocannon')
  }
  const nginxVersion = /nginx\/(\S+)/.exec(spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr)?.[1] ?? 'unknown'

  const pinning: Pinning = settings.pin === 'split' ? { server: '1', loader: '0' } : { server: undefined, loader: undefined }
  if (pinning.loader !== undefined) pin(process.pid, pinning.loader)
  const fleet = new Fleet(pinning)
  // Whatever happens, no server outlives the benchmark (the drains exit when their IPC channel closes).
  process.on('exit', () => fleet.killAllNow())
  const sink = new CountingSink()
  const sinkUrl = await sink.start()
  let postgres: Postgres | undefined
  const stop = async () => {
    await fleet.stopAll()
    await sink.stop()
    await postgres?.stop()
  }

  try {
    // What the images run: bundled here from the working tree, so that a change is measured.
    log('bundling gateway and user-service (services/bundle.ts)…')
    for (const service of ['gateway', 'user-service'])
      await bundleService(fileURLToPath(new URL(`../../services/${service}`, import.meta.url)))
    log('starting PostgreSQL…')
    postgres = await startPostgres()
    // A const, so that the closures below keep the narrowed type.
    const pg = postgres
    const pinTree = (pids: readonly number[], cpus: string) => pids.forEach((pid) => pin(pid, cpus))
    if (pinning.server !== undefined) pinTree(pg.pids(), pinning.server)
    const ours = [process.pid, pg.pid]

    const servers = new Map<ServerId, Server>()
    const startsMs = new Map<ServerId, number[]>()
    const timed = async (id: ServerId, count: number, start: () => Promise<Server>) => {
      const { server, startsMs: times } = await fleet.timed(count, start)
      servers.set(id, server)
      startsMs.set(id, times)
      return server
    }
    const startsBegin = snapshot()

    log(`starting user-service on PostgreSQL and on PGlite (${settings.starts} timed starts each)…`)
    const onPostgres = await timed('postgres', settings.starts, () =>
      fleet.platform(UPSTREAM_LABEL.postgres, 'user-service', userServiceEnv(settings, pg.url)),
    )
    const reference = await get(`${onPostgres.url}${PATH}`)
    if (reference.status !== 200) throw new Error(`user-service answered ${reference.status} to GET ${PATH}: ${reference.body}`)
    const onPglite = await timed('pglite', settings.starts, () =>
      fleet.platform(UPSTREAM_LABEL.pglite, 'user-service', userServiceEnv(settings)),
    )
    const light = await timed('light', 1, () =>
      fleet.script(UPSTREAM_LABEL.light, 'light-upstream.ts', { BODY: reference.body, CONTENT_TYPE: reference.contentType }),
    )
    const upstreams: Record<UpstreamKind, Server> = { postgres: onPostgres, pglite: onPglite, light }

    log(`starting the proxies (${settings.starts} timed starts of the gateway and reply-from in front of PostgreSQL)…`)
    const unusedUpstreamUrl = `http://127.0.0.1:${await freePort()}`
    for (const proxy of PROXIES) {
      const upstreamUrl = upstreams[proxy.upstream].url
      // The start-to-ready target compares these two; every other proxy starts once.
      const count = proxy.upstream === 'postgres' && proxy.proxy !== 'nginx' ? settings.starts : 1
      const label = scenarioLabel(proxy)
      if (proxy.proxy === 'gateway' || proxy.proxy === 'gateway-untraced') {
        const otlpUrl = proxy.proxy === 'gateway' && settings.tracing ? sinkUrl : undefined
        const env = gatewayEnv(settings, { upstreamUrl, unusedUpstreamUrl, otlpUrl })
        await timed(proxy.id, count, () => fleet.platform(label, 'gateway', env))
      } else if (proxy.proxy === 'reply-from') {
        const env = { ...runtimeEnv('gateway'), UPSTREAM_URL: upstreamUrl, ACCESS_LOG: String(settings.logging === 'production') }
        await timed(proxy.id, count, () => fleet.script(label, 'reply-from-proxy.ts', env))
      } else {
        const options = { upstream: new URL(upstreamUrl).host, accessLog: settings.logging === 'production' }
        await timed(proxy.id, count, () => fleet.nginx(label, nginx, options))
      }
    }
    const startsOtherLoad = between(startsBegin, snapshot(), ours).foreign

    const upstreamOf = (scenario: Scenario) => upstreams[scenario.upstream]
    const proxyOf = (scenario: Scenario) => (scenario.proxy === 'direct' ? undefined : servers.get(scenario.id as ServerId))
    const url = (scenario: Scenario) => `${(proxyOf(scenario) ?? upstreamOf(scenario)).url}${PATH}`

    // The same answer through every path: the upstream's own bytes.
    const bodies: Record<UpstreamKind, string> = {
      postgres: reference.body,
      light: reference.body,
      pglite: (await get(`${onPglite.url}${PATH}`)).body,
    }
    for (const scenario of SATURATION) {
      const answer = await get(url(scenario))
      if (answer.status !== 200 || answer.body !== bodies[scenario.upstream]) {
        throw new Error(
          `${scenarioLabel(scenario)} answered ${answer.status} ${answer.body} to GET ${PATH}, expected 200 ${bodies[scenario.upstream]}`,
        )
      }
    }

    const processesOf = (id: ServerId) => {
      const server = servers.get(id)!
      const own = [server.pid, ...ProcessTable.read().descendants(server.pid)]
      return id === 'postgres' ? [...own, ...pg.pids()] : own
    }
    // Every thread, whatever it inherited (threads started before a re-pin keep their old mask).
    if (pinning.server !== undefined) for (const id of servers.keys()) pinTree(processesOf(id), pinning.server)

    return {
      pinning,
      sink,
      postgres: pg,
      nginxVersion,
      servers,
      startsMs,
      startsOtherLoad,
      ours,
      upstream: upstreamOf,
      proxy: proxyOf,
      url,
      move: (id, cpus) => pinTree(processesOf(id), cpus),
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

async function get(url: string): Promise<{ status: number; body: string; contentType: string }> {
  const response = await fetch(url)
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') ?? 'application/json' }
}
