// Every dashboard panel query, run by a real Prometheus (Debian's) against the real services:
// user-service, order-service and two gateways as processes, scraped every second while traffic
// flows. One gateway also lists a dead user-service instance (retries, ejections) and the other
// has no live order-service (its 503s feed the error-ratio panels). Each query must return data.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, freePorts } from '../../scripts/lib/ports.ts'
import { startService, type ServiceProcess } from '../../scripts/lib/service-process.ts'
import { RULES_FILE, alertRules, dashboards, interpolateQuery, panelQueries, toYaml } from '../observability/index.ts'

const PROMETHEUS = process.env.PROMETHEUS ?? 'prometheus'
const prometheusFound = spawnSync(PROMETHEUS, ['--version'], { stdio: 'ignore' }).status === 0
// CI must never skip a real-tool suite: there a missing Prometheus is a failure.
if (process.env.CI && !prometheusFound)
  throw new Error("prometheus not found: install Debian's prometheus package (scripts/ci/install-system.sh)")

describe.skipIf(!prometheusFound)('dashboards over the real services scraped by a real Prometheus', () => {
  const started: ServiceProcess[] = []
  let prometheus: ChildProcess | undefined
  let dir: string
  let api: string
  let traffic: Promise<void> | undefined
  let stopTraffic = false

  beforeAll(async () => {
    const env = { LOG_LEVEL: 'warn', DRAIN_DELAY_MS: '0' }
    const [dead, noOrders] = await freePorts(2)
    const user = await startService({ name: 'user-service', env })
    const order = await startService({ name: 'order-service', env: { ...env, USER_SERVICE_URLS: user.url } })
    const gateway = await startService({
      name: 'gateway',
      env: {
        ...env,
        USER_SERVICE_URLS: `${user.url},http://127.0.0.1:${dead}`,
        ORDER_SERVICE_URLS: order.url,
        UPSTREAM_EJECTION_MS: '2000',
      },
    })
    const broken = await startService({
      name: 'gateway',
      env: { ...env, USER_SERVICE_URLS: user.url, ORDER_SERVICE_URLS: `http://127.0.0.1:${noOrders}` },
    })
    started.push(user, order, gateway, broken)

    dir = await mkdtemp(join(tmpdir(), 'dashboards-live-'))
    const port = await freePort()
    api = `http://127.0.0.1:${port}`
    const jobs: Record<string, ServiceProcess[]> = { 'user-service': [user], 'order-service': [order], gateway: [gateway, broken] }
    await writeFile(
      join(dir, 'prometheus.yml'),
      toYaml({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [RULES_FILE],
        scrape_configs: Object.entries(jobs).map(([job, instances]) => ({
          job_name: job,
          static_configs: [{ targets: instances.map((instance) => `127.0.0.1:${instance.port}`) }],
        })),
      }),
    )
    await writeFile(join(dir, RULES_FILE), toYaml(alertRules()))
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

    // Bounded traffic: every route the panels group by, successes and failures alike.
    const calls: [string, string, RequestInit?][] = [
      [gateway.url, '/users'],
      [gateway.url, '/users/1'],
      [gateway.url, '/users/404404'],
      [gateway.url, '/users/1/orders'],
      [
        gateway.url,
        '/orders',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"userId":1,"item":"Pen","price":2}' },
      ],
      [
        gateway.url,
        '/orders',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"userId":999,"item":"Pen","price":2}' },
      ],
      [broken.url, '/orders'],
    ]
    traffic = (async () => {
      const until = Date.now() + 60_000
      while (!stopTraffic && Date.now() < until) {
        await Promise.all(
          calls.map(([base, path, init]) =>
            fetch(`${base}${path}`, init)
              .then((r) => r.arrayBuffer())
              .catch(() => undefined),
          ),
        )
        await sleep(20)
      }
    })()

    // Ready, every target up, and enough scrapes for rate() over 10 s.
    for (;;) {
      const ready = await fetch(`${api}/api/v1/targets`)
        .then((r) => r.json() as Promise<{ data: { activeTargets: { health: string }[] } }>)
        .then((body) => body.data.activeTargets.length === 4 && body.data.activeTargets.every((target) => target.health === 'up'))
        .catch(() => false)
      if (ready) break
      await sleep(200)
    }
    await sleep(8_000)
  }, 90_000)

  afterAll(async () => {
    stopTraffic = true
    await traffic
    prometheus?.kill('SIGTERM')
    await Promise.all(started.map((service) => service.stop('SIGKILL')))
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('every panel query of every dashboard returns series', async () => {
    const empty: string[] = []
    let checked = 0
    for (const dashboard of dashboards()) {
      for (const query of panelQueries(dashboard)) {
        const expr = interpolateQuery(query.expr, { rateInterval: '10s' })
        const body = (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
          status: string
          data: { result: unknown[] }
        }
        expect(body.status, expr).toBe('success')
        checked += 1
        if (body.data.result.length === 0) empty.push(`${dashboard.title} / ${query.panel} / ${query.refId}`)
      }
    }
    expect(checked).toBeGreaterThan(20)
    expect(empty).toEqual([])
  })

  it('the request-rate panel sees all three services, labelled by their own service label', async () => {
    const expr = interpolateQuery(panelQueries(dashboards()[0]!)[0]!.expr, { rateInterval: '10s' })
    const body = (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
      data: { result: { metric: Record<string, string> }[] }
    }
    expect(body.data.result.map((series) => series.metric.service).sort()).toEqual(['gateway', 'order-service', 'user-service'])
  })
})
