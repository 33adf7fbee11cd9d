// The generated prometheus.yml and rules loaded by a real Prometheus, with instances registered
// in the real Consul of the global setup: discovery keeps only passing instances and names
// them, the static jobs are scraped, the rules evaluate, and every dashboard query runs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../test/support/real-servers-helpers.ts'
import {
  APP_SERVICES,
  RULES_FILE,
  alertRules,
  dashboards,
  interpolateQuery,
  panelQueries,
  prometheusConfig,
  toYaml,
  type PrometheusConfig,
} from '../observability/index.ts'

const consulAddr = inject('consulAddr')
const PROMETHEUS = process.env.PROMETHEUS ?? 'prometheus'
const PROMTOOL = process.env.PROMTOOL ?? 'promtool'
const prometheusFound = spawnSync(PROMETHEUS, ['--version'], { stdio: 'ignore' }).status === 0
// CI must never skip a real-tool suite: there a missing Prometheus is a failure.
if (process.env.CI && !prometheusFound)
  throw new Error("prometheus not found: install Debian's prometheus package (scripts/ci/install-system.sh)")
if (!prometheusFound && process.env.CI !== undefined && process.env.CI !== '') {
  throw new Error(`${PROMETHEUS} not found; install the Debian package prometheus (CI runs this suite)`)
}

/** See observability.test.ts: Debian's build has no Consul SD, upstream builds do. */
function consulSdSupported(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'obs-probe-'))
  try {
    writeFileSync(
      join(dir, 'probe.yml'),
      toYaml({ scrape_configs: [{ job_name: 'probe', consul_sd_configs: [{ server: 'consul:8500' }] }] }),
    )
    return spawnSync(PROMTOOL, ['check', 'config', 'probe.yml'], { cwd: dir, stdio: 'ignore' }).status === 0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** One fake instance: the services' /metrics contract, with counters moving on every scrape. */
function exposition(service: string, scrape: number): string {
  const s = `service="${service}"`
  const lines = [
    `process_cpu_seconds_total{${s}} ${scrape * 0.02}`,
    `process_resident_memory_bytes{${s}} 52428800`,
    `nodejs_eventloop_lag_p99_seconds{${s}} 0.012`,
    `nodejs_heap_size_used_bytes{${s}} 20971520`,
    `nodejs_heap_size_total_bytes{${s}} 31457280`,
    `nodejs_gc_duration_seconds_sum{${s},kind="minor"} ${scrape * 0.001}`,
    `nodejs_gc_duration_seconds_count{${s},kind="minor"} ${scrape}`,
    `nodejs_active_handles_total{${s}} 7`,
  ]
  const routes: Record<string, [string, string, string]> = {
    'user-service': ['GET', '/users/:id', '500'],
    'order-service': ['POST', '/orders', '502'],
    gateway: ['GET', '/users/:id/orders', '504'],
  }
  const [method, route, failure] = routes[service] ?? ['GET', '/', '500']
  const requests: [string, string, string, number][] = [
    [method, route, '200', 10 * scrape],
    [method, route, failure, scrape],
    ['GET', '/health/ready', '200', 2 * scrape],
    ['GET', '/metrics', '200', scrape],
  ]
  for (const [m, r, code, count] of requests) {
    const labels = `${s},method="${m}",route="${r}",status_code="${code}"`
    lines.push(`http_request_duration_seconds_bucket{${labels},le="0.05"} ${Math.floor(count / 2)}`)
    lines.push(`http_request_duration_seconds_bucket{${labels},le="0.5"} ${count}`)
    lines.push(`http_request_duration_seconds_bucket{${labels},le="+Inf"} ${count}`)
    lines.push(`http_request_duration_seconds_sum{${labels}} ${count * 0.04}`)
    lines.push(`http_request_duration_seconds_count{${labels}} ${count}`)
  }
  if (service !== 'gateway') {
    for (const [state, value] of [
      ['total', 10],
      ['idle', 7],
      ['waiting', 0],
    ] as const)
      lines.push(`db_pool_connections{${s},state="${state}"} ${value}`)
  }
  const upstreams = service === 'gateway' ? ['user-service', 'order-service'] : service === 'order-service' ? ['user-service'] : []
  for (const upstream of upstreams) {
    const u = `${s},upstream="${upstream}"`
    for (const [outcome, count] of [
      ['ok', 10 * scrape],
      ['server_error', scrape],
      ['connect_error', 0],
      ['timeout', 0],
      ['no_instance', 0],
    ] as const) {
      lines.push(`upstream_requests_total{${u},outcome="${outcome}"} ${count}`)
    }
    lines.push(`upstream_request_duration_seconds_bucket{${u},le="0.1"} ${10 * scrape}`)
    lines.push(`upstream_request_duration_seconds_bucket{${u},le="+Inf"} ${11 * scrape}`)
    lines.push(`upstream_request_duration_seconds_sum{${u}} ${scrape * 0.5}`)
    lines.push(`upstream_request_duration_seconds_count{${u}} ${11 * scrape}`)
    lines.push(`upstream_retries_total{${u}} ${scrape}`)
    lines.push(`upstream_ejections_total{${u}} ${Math.floor(scrape / 10)}`)
    lines.push(`upstream_instances{${u},state="healthy"} 2`)
    lines.push(`upstream_instances{${u},state="ejected"} 0`)
  }
  return `${lines.join('\n')}\n`
}

async function listen(body: () => string): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { server, port: address.port }
}

interface HealthEntry {
  Node: { Node: string; Address: string }
  Service: { ID: string; Service: string; Address: string; Port: number }
  Checks: { Status: string }[]
}

/**
 * What Prometheus's Consul SD hands to relabelling (discovery/consul/consul.go), built from the
 * same Consul API it reads, for a Prometheus built without Consul SD.
 */
async function consulSdTargets(consul: string, services: readonly string[]): Promise<unknown[]> {
  const groups = await Promise.all(
    services.map(async (name) => {
      const entries = (await (await fetch(`${consul}/v1/health/service/${name}`)).json()) as HealthEntry[]
      return entries.map((entry) => {
        const statuses = entry.Checks.map((check) => check.Status)
        const health = ['maintenance', 'critical', 'warning'].find((status) => statuses.includes(status)) ?? 'passing'
        const host = entry.Service.Address === '' ? entry.Node.Address : entry.Service.Address
        return {
          targets: [`${host}:${entry.Service.Port}`],
          labels: {
            __meta_consul_service: name,
            __meta_consul_health: health,
            __meta_consul_service_id: entry.Service.ID,
            __meta_consul_service_address: entry.Service.Address,
            __meta_consul_service_port: String(entry.Service.Port),
            __meta_consul_node: entry.Node.Node,
            __meta_consul_address: entry.Node.Address,
          },
        }
      })
    }),
  )
  return groups.flat()
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

interface Target {
  labels: Record<string, string>
  discoveredLabels: Record<string, string>
  scrapePool: string
  scrapeUrl: string
  health: string
  lastError: string
}

describe.skipIf(!consulAddr || !prometheusFound)('the generated config in a real Prometheus, with instances in a real Consul', () => {
  // Names of our own, so instances other suites register in the shared Consul stay out.
  const prefix = `obs-${randomBytes(3).toString('hex')}-`
  const services = APP_SERVICES.map((service) => `${prefix}${service}`)
  const servers: Server[] = []
  const registered: string[] = []
  const instances: { service: string; port: number; passing: boolean }[] = []
  let dir: string
  let prometheus: ChildProcess | undefined
  let api: string
  let consulPort: number
  let traefikPort: number

  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${api}${path}`)
    const body = (await response.json()) as { status: string; data: T; error?: string }
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? response.status}`)
    return body.data
  }
  const targets = () => get<{ activeTargets: Target[]; droppedTargets: Target[] }>('/api/v1/targets')

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obs-prometheus-'))
    const consul = new URL(consulAddr!)
    consulPort = Number(consul.port)

    // Every service passing, plus a second user-service instance whose check is critical.
    for (const [service, passing] of [...APP_SERVICES.map((name) => [name, true] as const), ['user-service', false] as const]) {
      let scrapes = 0
      const { server, port } = await listen(() => exposition(service, ++scrapes))
      servers.push(server)
      instances.push({ service, port, passing })
      const id = `${prefix}${service}-${port}`
      const response = await fetch(`${consulAddr}/v1/agent/service/register`, {
        method: 'PUT',
        body: JSON.stringify({
          ID: id,
          Name: `${prefix}${service}`,
          Address: '127.0.0.1',
          Port: port,
          Check: { TTL: '10m', Status: passing ? 'passing' : 'critical' },
        }),
      })
      expect(response.status, `register ${id}`).toBe(200)
      registered.push(id)
    }
    const traefik = await listen(() => 'traefik_config_reloads_total 1\n')
    servers.push(traefik.server)
    traefikPort = traefik.port

    const port = await freePort()
    api = `http://127.0.0.1:${port}`
    await writeFile(join(dir, 'consul-token'), 'anonymous\n')
    const config = prometheusConfig({
      consul: { server: consul.host, tokenFile: 'consul-token', services },
      traefik: `127.0.0.1:${traefikPort}`,
      self: `127.0.0.1:${port}`,
      scrapeInterval: '1s',
      evaluationInterval: '1s',
    })
    let loaded: PrometheusConfig = config
    if (!consulSdSupported()) {
      await writeFile(join(dir, 'consul-targets.json'), JSON.stringify(await consulSdTargets(consulAddr!, services)))
      loaded = {
        ...config,
        scrape_configs: config.scrape_configs.map(({ consul_sd_configs, ...job }) =>
          consul_sd_configs === undefined ? job : ({ ...job, file_sd_configs: [{ files: ['consul-targets.json'] }] } as typeof job),
        ),
      }
    }
    await writeFile(join(dir, 'prometheus.yml'), toYaml(loaded))
    await writeFile(join(dir, RULES_FILE), toYaml(alertRules({ services })))

    prometheus = spawn(
      PROMETHEUS,
      [
        '--config.file=prometheus.yml',
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=error',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    )
    await eventually(async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined), 'Prometheus ready')
    // Every app target up, and enough scrapes for rate() over 10s.
    await eventually(async () => {
      const { activeTargets } = await targets()
      const app = activeTargets.filter((target) => target.scrapePool === 'consul-services')
      return app.filter((target) => target.health === 'up').length >= APP_SERVICES.length ? true : undefined
    }, 'an app target up per service')
    await sleep(4_000)
  }, 60_000)

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve))
      prometheus.kill('SIGTERM')
      await exited
    }
    await Promise.all(
      registered.map((id) => fetch(`${consulAddr}/v1/agent/service/deregister/${id}`, { method: 'PUT' }).catch(() => undefined)),
    )
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('Consul-discovered targets: passing instances only, job = Consul service name, instance = address:port', async () => {
    const { activeTargets, droppedTargets } = await targets()
    const app = activeTargets.filter((target) => target.scrapePool === 'consul-services')

    expect(
      app.map((target) => ({ job: target.labels.job, instance: target.labels.instance })).sort((a, b) => a.job!.localeCompare(b.job!)),
    ).toEqual(
      instances
        .filter((instance) => instance.passing)
        .map((instance) => ({ job: `${prefix}${instance.service}`, instance: `127.0.0.1:${instance.port}` }))
        .sort((a, b) => a.job.localeCompare(b.job)),
    )
    const critical = instances.find((instance) => !instance.passing)!
    expect(droppedTargets.map((target) => target.discoveredLabels.__address__)).toContain(`127.0.0.1:${critical.port}`)
  })

  it('static jobs: traefik and Prometheus scraped, the Consul agent asked for /v1/agent/metrics?format=prometheus', async () => {
    const { activeTargets } = await targets()
    const byJob = (job: string) => activeTargets.find((target) => target.labels.job === job)

    expect(byJob('traefik')?.health).toBe('up')
    expect(byJob('prometheus')?.scrapeUrl).toBe(`${api}/metrics`)
    // Whether the agent answers depends on its telemetry.prometheus_retention_time, not on this config.
    expect(byJob('consul')?.scrapeUrl).toBe(`http://127.0.0.1:${consulPort}/v1/agent/metrics?format=prometheus`)
  })

  it('rules: every group loaded and every rule evaluating without error; no service lacks a healthy instance', async () => {
    const names = alertRules().groups.map((group) => group.name)
    const groups = await eventually(async () => {
      const data = await get<{ groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules')
      return data.groups.length === names.length && data.groups.every((group) => group.rules.every((rule) => rule.health !== 'unknown'))
        ? data.groups
        : undefined
    }, 'rules evaluated')

    expect(groups.map((group) => group.name).sort()).toEqual([...names].sort())
    for (const rule of groups.flatMap((group) => group.rules)) expect(rule.health, `${rule.name}: ${rule.lastError ?? ''}`).toBe('ok')
    const { alerts } = await get<{ alerts: { labels: Record<string, string> }[] }>('/api/v1/alerts')
    expect(alerts.filter((alert) => alert.labels.alertname === 'ServiceNoHealthyInstance')).toEqual([])
  })

  it('every dashboard panel query runs and returns series', async () => {
    for (const dashboard of dashboards()) {
      for (const query of panelQueries(dashboard)) {
        const expr = interpolateQuery(query.expr, { rateInterval: '10s' })
        const data = await get<{ result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)
        expect(data.result.length, `${dashboard.title} / ${query.panel} / ${query.refId}: ${expr}`).toBeGreaterThan(0)
      }
    }
    const rate = await get<{ result: { metric: Record<string, string> }[] }>(
      `/api/v1/query?query=${encodeURIComponent(interpolateQuery(panelQueries(dashboards()[0]!)[0]!.expr, { rateInterval: '10s' }))}`,
    )
    expect(rate.result.map((series) => series.metric.service).sort()).toEqual([...APP_SERVICES].sort())
  })
})
