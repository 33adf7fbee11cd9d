// The observability generators against the real tools where this machine has them (promtool),
// and structurally where it does not (Grafana, Logstash).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  CONTRACT_METRICS,
  DASHBOARD_UIDS,
  ECS_DOTTED_KEYS,
  ELASTICSEARCH_DATASOURCE_UID,
  JAEGER_DATASOURCE_UID,
  PROMETHEUS_DATASOURCE_UID,
  RULES_FILE,
  alertRules,
  dashboards,
  grafanaDashboardProvider,
  grafanaDatasources,
  grafanaProvisioningFiles,
  interpolateQuery,
  logstashPipeline,
  panelQueries,
  prometheusConfig,
  toYaml,
  type GrafanaProvisioningOptions,
  type PrometheusConfig,
} from '../observability/index.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/observability/alerts.test.yml', import.meta.url))
const PROMTOOL = process.env.PROMTOOL ?? 'promtool'
const promtoolFound = spawnSync(PROMTOOL, ['--version'], { stdio: 'ignore' }).status === 0
// CI must never skip a real-tool suite: there a missing promtool is a failure.
if (process.env.CI && !promtoolFound)
  throw new Error("promtool not found: install Debian's prometheus package (scripts/ci/install-system.sh)")
if (!promtoolFound && process.env.CI !== undefined && process.env.CI !== '') {
  throw new Error(`${PROMTOOL} not found; install the Debian package prometheus (CI runs the promtool tests)`)
}

/**
 * Debian's Prometheus 2.42 is built without Consul service discovery (its changelog: "Disable
 * Consul SD until its Debian package is back in shape"), so its promtool rejects
 * `consul_sd_configs` outright. Upstream builds have it.
 */
const consulSdSupported = promtoolFound && probeConsulSd()

function probeConsulSd(): boolean {
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

interface Run {
  readonly code: number | null
  readonly output: string
}

function promtool(args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, output }))
  })
}

/**
 * For a promtool without Consul SD: the Consul jobs with a file_sd stand-in carrying the same
 * relabelling, so everything else in the config is still checked as generated.
 */
function withoutConsulDiscovery(config: PrometheusConfig, targetsFile: string): PrometheusConfig {
  return {
    ...config,
    scrape_configs: config.scrape_configs.map(({ consul_sd_configs, ...job }) =>
      consul_sd_configs === undefined ? job : ({ ...job, file_sd_configs: [{ files: [targetsFile] }] } as typeof job),
    ),
  }
}

const CONSUL_SD_FIELDS = [
  // consul_sd_config, then the HTTP client settings it accepts (Prometheus docs, 2.26 and later).
  ...[
    'server',
    'token',
    'datacenter',
    'namespace',
    'partition',
    'scheme',
    'services',
    'tags',
    'node_meta',
    'tag_separator',
    'allow_stale',
    'refresh_interval',
  ],
  ...['authorization', 'basic_auth', 'oauth2', 'tls_config', 'proxy_url', 'follow_redirects', 'enable_http2'],
]

const CONFIG_OPTIONS = {
  consul: { server: 'consul:8500', tokenFile: 'consul-token' },
  traefik: 'traefik:8082',
  alertmanagers: ['alertmanager:9093'],
  externalLabels: { stack: 'dev' },
} as const

describe.skipIf(!promtoolFound)('prometheusConfig, checked by promtool', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obs-promtool-'))
    // promtool checks that credentials files exist; the token's value does not matter here.
    await writeFile(join(dir, 'consul-token'), 'not-a-real-token\n')
    await writeFile(join(dir, 'consul-targets.json'), '[]\n')
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('generated config with its rules file beside it, Consul jobs on a file_sd stand-in: promtool check config exits 0', async () => {
    await writeFile(join(dir, 'prometheus.yml'), toYaml(withoutConsulDiscovery(prometheusConfig(CONFIG_OPTIONS), 'consul-targets.json')))
    await writeFile(join(dir, RULES_FILE), toYaml(alertRules()))

    const result = await promtool(['check', 'config', 'prometheus.yml'], dir)

    expect(result.output).toContain('SUCCESS')
    expect(result.code, result.output).toBe(0)
  })

  it('config whose rules file holds a broken expression: promtool check config exits 1', async () => {
    await writeFile(
      join(dir, 'broken.yml'),
      toYaml(withoutConsulDiscovery(prometheusConfig({ ...CONFIG_OPTIONS, ruleFiles: ['broken.rules.yml'] }), 'consul-targets.json')),
    )
    await writeFile(
      join(dir, 'broken.rules.yml'),
      toYaml({ groups: [{ name: 'broken', rules: [{ alert: 'Broken', expr: 'sum by (service (up)' }] }] }),
    )

    const result = await promtool(['check', 'config', 'broken.yml'], dir)

    expect(result.code, result.output).toBe(1)
  })

  it('unaltered config: promtool check config passes, or on a build without Consul SD (Debian) fails on consul_sd_configs alone', async () => {
    await writeFile(join(dir, 'prometheus-consul.yml'), toYaml(prometheusConfig(CONFIG_OPTIONS)))
    await writeFile(join(dir, RULES_FILE), toYaml(alertRules()))

    const result = await promtool(['check', 'config', 'prometheus-consul.yml'], dir)

    if (consulSdSupported) {
      expect(result.code, result.output).toBe(0)
    } else {
      // Debian disables Consul SD in its build; the field is then unknown and is the only error.
      expect(result.code).toBe(1)
      expect(result.output).toMatch(/field consul_sd_configs not found/)
      expect(result.output.match(/not found in type/g)).toHaveLength(1)
    }
  })
})

describe('prometheusConfig, structure', () => {
  const config = prometheusConfig(CONFIG_OPTIONS)
  const job = (name: string) => config.scrape_configs.find((scrape) => scrape.job_name === name)

  it('app services: discovered in Consul by name, only passing instances, job = service and instance = address:port', () => {
    const services = job('consul-services')
    expect(services?.consul_sd_configs).toEqual([
      {
        server: 'consul:8500',
        scheme: 'http',
        services: ['user-service', 'order-service', 'gateway'],
        authorization: { type: 'Bearer', credentials_file: 'consul-token' },
      },
    ])
    for (const sd of services?.consul_sd_configs ?? []) {
      expect(CONSUL_SD_FIELDS).toEqual(expect.arrayContaining(Object.keys(sd)))
    }
    expect(services?.relabel_configs).toEqual([
      { source_labels: ['__meta_consul_health'], regex: 'passing', action: 'keep' },
      { source_labels: ['__meta_consul_service'], target_label: 'job' },
      { source_labels: ['__address__'], target_label: 'instance' },
    ])
  })

  it('static jobs: traefik, the Consul agent with the token file and format=prometheus, and Prometheus itself', () => {
    expect(job('traefik')?.static_configs).toEqual([{ targets: ['traefik:8082'] }])
    expect(job('consul')).toMatchObject({
      metrics_path: '/v1/agent/metrics',
      params: { format: ['prometheus'] },
      authorization: { type: 'Bearer', credentials_file: 'consul-token' },
      static_configs: [{ targets: ['consul:8500'] }],
    })
    expect(job('prometheus')?.static_configs).toEqual([{ targets: ['localhost:9090'] }])
    expect(config.rule_files).toEqual([RULES_FILE])
    expect(config.alerting?.alertmanagers).toEqual([{ static_configs: [{ targets: ['alertmanager:9093'] }] }])
  })

  it('the Consul token: only ever a file path, never a token value in the YAML', () => {
    const yaml = toYaml(config)
    expect(yaml).not.toMatch(/^\s*(token|bearer_token|credentials):/m)
    expect(yaml).toContain('credentials_file: consul-token')
  })

  it('without a token file or traefik: no authorization and no traefik job', () => {
    const bare = prometheusConfig({ consul: { server: 'consul:8500' } })
    expect(toYaml(bare)).not.toContain('authorization')
    expect(bare.scrape_configs.map((scrape) => scrape.job_name)).toEqual(['consul-services', 'consul', 'prometheus'])
  })

  it('bad options: an error naming the option', () => {
    expect(() => prometheusConfig({ consul: { server: 'http://consul:8500' } })).toThrow(/consul.server must be host:port/)
    expect(() => prometheusConfig({ consul: { server: 'consul:8500' }, scrapeInterval: '15 seconds' })).toThrow(/scrapeInterval/)
    expect(() => prometheusConfig({ consul: { server: 'consul:8500', services: [] } })).toThrow(/consul.services/)
  })
})

describe.skipIf(!promtoolFound)('alertRules, checked and unit-tested by promtool', () => {
  let dir: string
  const rules = alertRules()
  const alertNames = [...new Set(rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert)))]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'obs-rules-'))
    await writeFile(join(dir, RULES_FILE), toYaml(rules))
    await copyFile(FIXTURE, join(dir, 'alerts.test.yml'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('the rules file: promtool check rules exits 0', async () => {
    const result = await promtool(['check', 'rules', RULES_FILE], dir)

    expect(result.code, result.output).toBe(0)
    expect(result.output).toContain('SUCCESS')
  })

  it('every alert has a severity, a summary and a description', () => {
    expect(alertNames).toEqual(
      expect.arrayContaining(['InstanceDown', 'HighErrorRatio', 'HighLatencyP99', 'GatewayUpstreamEjections', 'UpstreamNoInstance']),
    )
    for (const rule of rules.groups.flatMap((group) => group.rules)) {
      expect(['critical', 'warning']).toContain(rule.labels.severity)
      expect(rule.annotations.summary).not.toBe('')
      expect(rule.annotations.description).not.toBe('')
    }
  })

  it('the fixture: a firing case and a not-firing case for every alert', async () => {
    const fixture = parse(await readFile(FIXTURE, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[]
    }
    const cases = fixture.tests.flatMap((test) => test.alert_rule_test ?? [])
    for (const name of alertNames) {
      const ofAlert = cases.filter((testCase) => testCase.alertname === name)
      expect(
        ofAlert.some((testCase) => (testCase.exp_alerts ?? []).length > 0),
        `${name} fires somewhere`,
      ).toBe(true)
      expect(
        ofAlert.some((testCase) => (testCase.exp_alerts ?? []).length === 0),
        `${name} stays quiet somewhere`,
      ).toBe(true)
    }
  })

  it('the fixture: promtool test rules exits 0', async () => {
    const result = await promtool(['test', 'rules', 'alerts.test.yml'], dir)

    expect(result.code, result.output).toBe(0)
    expect(result.output).toContain('SUCCESS')
  })

  it('the fixture with one expectation turned wrong: promtool test rules exits 1', async () => {
    // HighErrorRatio must not fire for order-service (its 503s are readiness probes): expect it anyway.
    const fixture = await readFile(FIXTURE, 'utf8')
    const quietCase = '      - eval_time: 4m\n        alertname: HighErrorRatio\n        exp_alerts: []\n'
    expect(fixture).toContain(quietCase)
    const wrong = fixture.replace(
      quietCase,
      '      - eval_time: 10m\n        alertname: HighErrorRatio\n        exp_alerts:\n          - exp_labels: { severity: critical, service: order-service }\n',
    )
    await writeFile(join(dir, 'wrong.test.yml'), wrong)

    const result = await promtool(['test', 'rules', 'wrong.test.yml'], dir)

    expect(result.code, result.output).toBe(1)
    expect(result.output).toContain('FAILED')
  })
})

describe('dashboards', () => {
  const all = dashboards()

  it('the four dashboards, with stable unique uids', () => {
    expect(all.map((dashboard) => dashboard.title)).toEqual(['Services overview', 'Gateway upstreams', 'Node.js runtime', 'Database pool'])
    expect(all.map((dashboard) => dashboard.uid)).toEqual(Object.values(DASHBOARD_UIDS))
    for (const dashboard of all) expect(dashboard.json.uid).toBe(dashboard.uid)
  })

  it('every panel: a unique id, the Prometheus data source by uid, and at least one query', () => {
    for (const dashboard of all) {
      const panels = dashboard.json.panels ?? []
      const ids = panels.map((panel) => panel.id)
      expect(new Set(ids).size, dashboard.title).toBe(ids.length)
      for (const panel of panels.filter((candidate) => candidate.type !== 'row')) {
        expect(panel.datasource, `${dashboard.title} / ${panel.title}`).toEqual({ type: 'prometheus', uid: PROMETHEUS_DATASOURCE_UID })
        expect('targets' in panel && (panel.targets ?? []).length > 0, `${dashboard.title} / ${panel.title}`).toBe(true)
      }
    }
  })

  it('a templated service variable on each, and an upstream variable on Gateway upstreams', () => {
    for (const dashboard of all) {
      const names = (dashboard.json.templating.list ?? []).map((variable) => variable.name)
      expect(names, dashboard.title).toContain('service')
    }
    const gateway = all.find((dashboard) => dashboard.uid === DASHBOARD_UIDS.gatewayUpstreams)
    expect((gateway?.json.templating.list ?? []).map((variable) => variable.name)).toContain('upstream')
  })

  it('panelQueries: every query of every panel, and only metrics of the services contract', () => {
    for (const dashboard of all) {
      const queries = panelQueries(dashboard)
      expect(queries.length, dashboard.title).toBeGreaterThan(0)
      for (const query of queries) {
        const metrics = [...interpolateQuery(query.expr).matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((match) => match[1])
        expect(metrics.length, query.expr).toBeGreaterThan(0)
        expect(CONTRACT_METRICS, `${dashboard.title} / ${query.panel}`).toEqual(expect.arrayContaining(metrics))
      }
    }
    expect(panelQueries(all[0]!.json)).toEqual(panelQueries(all[0]!))
  })

  it('interpolateQuery: Grafana variables replaced, "All" as .*', () => {
    expect(
      interpolateQuery('rate(x{service=~"$service",upstream=~"${upstream}"}[$__rate_interval])', {
        rateInterval: '30s',
        variables: { upstream: 'user-service' },
      }),
    ).toBe('rate(x{service=~".*",upstream=~"user-service"}[30s])')
  })

  it.skipIf(!promtoolFound)('every panel query parses as PromQL: promtool check rules exits 0, and 1 for a broken one', async () => {
    const queries = all.flatMap((dashboard) => panelQueries(dashboard))
    const asRules = (exprs: readonly string[]) =>
      toYaml({ groups: [{ name: 'panel-queries', rules: exprs.map((expr, index) => ({ record: `panel_query_${index}`, expr })) }] })
    const dir = await mkdtemp(join(tmpdir(), 'obs-panels-'))
    try {
      await writeFile(join(dir, 'panels.yml'), asRules(queries.map((query) => interpolateQuery(query.expr))))
      await writeFile(join(dir, 'broken.yml'), asRules(['sum by (service) (rate(http_request_duration_seconds_count[1m])']))

      const good = await promtool(['check', 'rules', 'panels.yml'], dir)
      const broken = await promtool(['check', 'rules', 'broken.yml'], dir)

      expect(good.code, good.output).toBe(0)
      expect(good.output).toContain(`SUCCESS: ${queries.length} rules found`)
      expect(broken.code, broken.output).toBe(1)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('Grafana provisioning', () => {
  const options: GrafanaProvisioningOptions = {
    prometheusUrl: 'http://prometheus:9090',
    elasticsearch: { url: 'https://elasticsearch:9200', user: 'grafana_reader', caCertFile: '/etc/grafana/certs/ca.crt' },
    jaegerUrl: 'http://jaeger:16686',
  }

  it('data sources: Prometheus, Elasticsearch and Jaeger with fixed uids and the given URLs', () => {
    const { datasources } = grafanaDatasources(options)
    expect(datasources.map(({ type, uid, url }) => ({ type, uid, url }))).toEqual([
      { type: 'prometheus', uid: PROMETHEUS_DATASOURCE_UID, url: 'http://prometheus:9090' },
      { type: 'elasticsearch', uid: ELASTICSEARCH_DATASOURCE_UID, url: 'https://elasticsearch:9200' },
      { type: 'jaeger', uid: JAEGER_DATASOURCE_UID, url: 'http://jaeger:16686' },
    ])
    expect(datasources[1]).toMatchObject({
      jsonData: { index: 'logs-*', timeField: '@timestamp', logLevelField: 'log.level', tlsAuthWithCACert: true },
    })
  })

  it('secrets: the Elasticsearch password and CA come from the environment and a file, never inline', () => {
    const yaml = toYaml(grafanaDatasources(options))
    const parsed = parse(yaml) as { datasources: { secureJsonData?: Record<string, string> }[] }
    expect(parsed.datasources[1]?.secureJsonData).toEqual({
      basicAuthPassword: '${ELASTIC_PASSWORD}',
      tlsCACert: '$__file{/etc/grafana/certs/ca.crt}',
    })
    // Grafana expands $VAR in provisioning files, so its own ${__...} macros must be written $${...}.
    expect(yaml.match(/(?<!\$)\$\{__/g)).toBeNull()
    expect(yaml).toContain('$${__value.raw}')
    expect(yaml).toContain('$${__trace.traceId}')
  })

  it('dashboard provider: the generated dashboards from one folder, not editable in the UI', () => {
    expect(grafanaDashboardProvider({ dashboardsPath: '/dashboards', dashboardsFolder: 'Platform' }).providers).toEqual([
      expect.objectContaining({
        type: 'file',
        folder: 'Platform',
        allowUiUpdates: false,
        options: { path: '/dashboards', foldersFromFilesStructure: false },
      }),
    ])
  })

  it('provisioning files: both YAML files and one JSON file per dashboard', () => {
    const files = grafanaProvisioningFiles(options)
    expect(files.map((file) => file.path)).toEqual([
      'provisioning/datasources/platform.yaml',
      'provisioning/dashboards/platform.yaml',
      ...Object.values(DASHBOARD_UIDS).map((uid) => `dashboards/${uid}.json`),
    ])
    expect(JSON.parse(files[2]!.content)).toEqual(JSON.parse(JSON.stringify(dashboards()[0]!.json)))
  })

  it('bad options: an error naming the option', () => {
    expect(() => grafanaDatasources({ ...options, prometheusUrl: 'prometheus:9090' })).toThrow(/prometheusUrl/)
    expect(() =>
      grafanaDatasources({ ...options, elasticsearch: { ...options.elasticsearch, url: 'https://elastic:secret@es:9200' } }),
    ).toThrow(/credentials/)
  })
})

/** Logstash's config syntax, as far as these tests read it: braces, brackets, strings, regexes, comments. */
function tokens(config: string): string[] {
  const found: string[] = []
  const pattern = /\s+|#[^\n]*|"[^"]*"|'[^']*'|(?<==~\s*)\/(?:\\.|[^/\\])*\/|=>|=~|!~|[{}[\]]|[,!<>=]+|[^\s{}[\],!<>="'#]+/gy
  for (let match = pattern.exec(config); match !== null && match[0] !== ''; match = pattern.exec(config)) {
    if (!/^\s|^#/.test(match[0])) found.push(match[0])
    if (pattern.lastIndex === config.length) break
  }
  expect(pattern.lastIndex, 'tokenised to the end').toBe(config.length)
  return found
}

function balanced(list: readonly string[]): boolean {
  const stack: string[] = []
  for (const token of list) {
    if (token === '{' || token === '[') stack.push(token)
    if (token === '}' && stack.pop() !== '{') return false
    if (token === ']' && stack.pop() !== '[') return false
  }
  return stack.length === 0
}

/** The top-level sections, in order. */
function sections(list: readonly string[]): string[] {
  const names: string[] = []
  let depth = 0
  list.forEach((token, index) => {
    if (token === '{') {
      if (depth === 0) names.push(list[index - 1] ?? '')
      depth++
    } else if (token === '}') depth--
  })
  return names
}

describe('logstashPipeline, structurally (no Logstash on this machine to load it)', () => {
  const options = {
    hosts: ['https://elasticsearch:9200'],
    user: 'logstash_writer',
    ssl: { certificateAuthority: '/usr/share/logstash/config/certs/ca.crt' },
  }
  const pipeline = logstashPipeline(options)

  it('the tokeniser of this test: unbalanced braces are caught', () => {
    expect(balanced(tokens('input { gelf { port => 12201 }'))).toBe(false)
    expect(balanced(tokens('filter { if [a] =~ /}/ { drop {} } }'))).toBe(true)
  })

  it('input, filter and output sections, braces and brackets balanced', () => {
    const list = tokens(pipeline)
    expect(balanced(list)).toBe(true)
    expect(sections(list)).toEqual(['input', 'filter', 'output'])
  })

  it('inputs: gelf on 12201 always, beats only when a port is given', () => {
    expect(pipeline).toMatch(/gelf \{\n\s+port => 12201\n/)
    expect(pipeline).not.toContain('beats {')
    expect(logstashPipeline({ ...options, beatsPort: 5044 })).toMatch(/beats \{\n\s+port => 5044\n/)
  })

  it('filter: the ECS JSON line parsed from message into the root, dotted ECS keys nested, container.name kept', () => {
    expect(pipeline).toMatch(/json \{\n\s+source => "message"\n\s+\}/)
    expect(pipeline).not.toMatch(/json \{[^}]*target/)
    for (const key of ['log.level', 'service.name', 'trace.id', 'span.id']) {
      expect(ECS_DOTTED_KEYS).toContain(key)
      expect(pipeline).toContain(`"[${key}]" => "[${key.replaceAll('.', '][')}]"`)
    }
    expect(pipeline).toContain('"container_name" => "[container][name]"')
  })

  it('filter: gelf noise removed, and no ECS field the brief keeps', () => {
    const removed = [...pipeline.matchAll(/remove_field => \[([^\]]*)\]/g)].flatMap((match) =>
      match[1]!.split(',').map((name) => name.trim().replaceAll('"', '')),
    )
    expect(removed).toEqual(expect.arrayContaining(['command', 'created', 'image_id', 'source_host']))
    for (const kept of ['@timestamp', 'message', 'log', 'service', 'trace', 'span', 'http', 'url', 'container']) {
      expect(
        removed.some((name) => name === kept || name.startsWith(`[${kept}]`)),
        kept,
      ).toBe(false)
    }
  })

  it('output: Elasticsearch data streams, the password from the environment, TLS with the CA', () => {
    const output = pipeline.slice(pipeline.indexOf('\noutput {'))
    expect(output).toContain('hosts => ["https://elasticsearch:9200"]')
    expect(output).toContain('user => "logstash_writer"')
    expect(output).toContain('password => "${ELASTIC_PASSWORD}"')
    expect(output).toContain('data_stream => "true"')
    expect(output).toContain('data_stream_type => "logs"')
    expect(output).toContain('ssl_certificate_authorities => ["/usr/share/logstash/config/certs/ca.crt"]')
    expect(output).toContain('ssl_verification_mode => "full"')
    expect(logstashPipeline({ hosts: ['http://elasticsearch:9200'], user: 'logstash_writer' })).not.toContain('ssl_')
  })

  it('no inline secrets: every password is an environment reference, and credentials in a URL are refused', () => {
    const passwords = [...pipeline.matchAll(/password => (.*)/g)].map((match) => match[1])
    expect(passwords).toEqual(['"${ELASTIC_PASSWORD}"'])
    expect(() => logstashPipeline({ ...options, hosts: ['https://elastic:changeme@elasticsearch:9200'] })).toThrow(/credentials/)
    expect(() => logstashPipeline({ ...options, user: 'a"b' })).toThrow(/user/)
    expect(() => logstashPipeline({ ...options, passwordEnvVar: 'NOT A VAR' })).toThrow(/passwordEnvVar/)
  })
})
