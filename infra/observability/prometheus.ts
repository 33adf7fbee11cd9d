// prometheus.yml and its alert rules as plain data. The scrape part is for the Docker stack
// (Consul discovery); the Kubernetes stack scrapes through ServiceMonitors and reuses only
// `alertRules()`, whose shape is also the `spec` of a PrometheusRule.
import { stringify } from 'yaml'
import { APP_ROUTES, APP_SERVICES } from './metrics.ts'

/** The rules file name `prometheusConfig` lists by default; write `alertRules()` there. */
export const RULES_FILE = 'alerts.rules.yml'

export interface ConsulDiscoveryOptions {
  /** `host:port` of the Consul HTTP API, e.g. `consul:8500`. */
  readonly server: string
  /** Default `http`. */
  readonly scheme?: 'http' | 'https'
  /**
   * Path, as Prometheus sees it, of a file holding a Consul ACL token with `service:read`,
   * `node:read` and `agent:read`. Used for discovery and for scraping the agent's metrics; the
   * token itself never appears in the config. Omit when Consul runs without ACLs.
   */
  readonly tokenFile?: string
  /** Consul datacenter; default the agent's own. */
  readonly datacenter?: string
  /** Consul service names to scrape; default `APP_SERVICES`. */
  readonly services?: readonly string[]
}

export interface PrometheusConfigOptions {
  /** Default `15s`. */
  readonly scrapeInterval?: string
  /** Default `15s`. */
  readonly evaluationInterval?: string
  /** Rule files, relative to the config file; default `[RULES_FILE]`. */
  readonly ruleFiles?: readonly string[]
  readonly consul: ConsulDiscoveryOptions
  /** Also scrape the Consul agent's own metrics (needs `telemetry.prometheus_retention_time`); default true. */
  readonly scrapeConsul?: boolean
  /** `host:port` of Traefik's metrics entrypoint, e.g. `traefik:8082`; no `traefik` job when omitted. */
  readonly traefik?: string
  /** `host:port` Prometheus scrapes itself on; default `localhost:9090`. */
  readonly self?: string
  /** `host:port` of each Alertmanager; no `alerting` section when omitted or empty. */
  readonly alertmanagers?: readonly string[]
  /** Labels added to every series and alert leaving this Prometheus, e.g. `{ stack: 'dev' }`. */
  readonly externalLabels?: Readonly<Record<string, string>>
}

export interface RelabelConfig {
  source_labels?: string[]
  separator?: string
  regex?: string
  target_label?: string
  replacement?: string
  action?: 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep'
}

export interface Authorization {
  type: 'Bearer'
  credentials_file: string
}

export interface ConsulSdConfig {
  server: string
  scheme: 'http' | 'https'
  services: string[]
  datacenter?: string
  authorization?: Authorization
}

export interface ScrapeConfig {
  job_name: string
  scheme?: 'http' | 'https'
  metrics_path?: string
  params?: Record<string, string[]>
  authorization?: Authorization
  static_configs?: { targets: string[] }[]
  consul_sd_configs?: ConsulSdConfig[]
  relabel_configs?: RelabelConfig[]
}

export interface PrometheusConfig {
  global: {
    scrape_interval: string
    evaluation_interval: string
    external_labels?: Record<string, string>
  }
  rule_files: string[]
  alerting?: { alertmanagers: { static_configs: { targets: string[] }[] }[] }
  scrape_configs: ScrapeConfig[]
}

export type Severity = 'critical' | 'warning'

export interface AlertingRule {
  alert: string
  expr: string
  for?: string
  labels: { severity: Severity } & Record<string, string>
  annotations: { summary: string; description: string }
}

export interface RuleGroup {
  name: string
  rules: AlertingRule[]
}

/** The rules file's content, and the `spec` of a Kubernetes PrometheusRule. */
export interface RuleGroups {
  groups: RuleGroup[]
}

export interface AlertRulesOptions {
  /** Services whose `up` must have at least one healthy target; default `APP_SERVICES`. */
  readonly services?: readonly string[]
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/
const HOST_PORT = /^[^\s/:]+:\d{1,5}$/

/**
 * The prometheus.yml of the Docker stack. The app services are found in Consul, and only their
 * instances whose checks pass are scraped: `job` is the Consul service name and `instance` the
 * registered `address:port`. The services' own constant `service` label is left alone (adding a
 * target label of that name would rename theirs to `exported_service`).
 */
export function prometheusConfig(options: PrometheusConfigOptions): PrometheusConfig {
  const scrapeInterval = duration('scrapeInterval', options.scrapeInterval ?? '15s')
  const evaluationInterval = duration('evaluationInterval', options.evaluationInterval ?? '15s')
  const consul = options.consul
  const consulServer = hostPort('consul.server', consul.server)
  const scheme = consul.scheme ?? 'http'
  const authorization: Authorization | undefined =
    consul.tokenFile === undefined ? undefined : { type: 'Bearer', credentials_file: nonEmpty('consul.tokenFile', consul.tokenFile) }
  const services = [...(consul.services ?? APP_SERVICES)]
  if (services.length === 0) throw new Error('prometheusConfig: consul.services must name at least one service')

  const discovery: ConsulSdConfig = {
    server: consulServer,
    scheme,
    services,
    ...(consul.datacenter === undefined ? {} : { datacenter: consul.datacenter }),
    ...(authorization === undefined ? {} : { authorization }),
  }

  const jobs: ScrapeConfig[] = [
    {
      job_name: 'consul-services',
      consul_sd_configs: [discovery],
      relabel_configs: [
        // An instance failing its check is draining, starting or dead: not a scrape target.
        { source_labels: ['__meta_consul_health'], regex: 'passing', action: 'keep' },
        { source_labels: ['__meta_consul_service'], target_label: 'job' },
        // __address__ is the service address (or the node's when unset) and port.
        { source_labels: ['__address__'], target_label: 'instance' },
      ],
    },
  ]
  if (options.traefik !== undefined) {
    jobs.push({ job_name: 'traefik', static_configs: [{ targets: [hostPort('traefik', options.traefik)] }] })
  }
  if (options.scrapeConsul ?? true) {
    jobs.push({
      job_name: 'consul',
      scheme,
      metrics_path: '/v1/agent/metrics',
      params: { format: ['prometheus'] },
      ...(authorization === undefined ? {} : { authorization }),
      static_configs: [{ targets: [consulServer] }],
    })
  }
  jobs.push({ job_name: 'prometheus', static_configs: [{ targets: [hostPort('self', options.self ?? 'localhost:9090')] }] })

  const alertmanagers = (options.alertmanagers ?? []).map((target) => hostPort('alertmanagers', target))
  const externalLabels = options.externalLabels === undefined ? undefined : { ...options.externalLabels }
  return {
    global: {
      scrape_interval: scrapeInterval,
      evaluation_interval: evaluationInterval,
      ...(externalLabels === undefined ? {} : { external_labels: externalLabels }),
    },
    rule_files: [...(options.ruleFiles ?? [RULES_FILE])],
    ...(alertmanagers.length === 0 ? {} : { alerting: { alertmanagers: [{ static_configs: [{ targets: alertmanagers }] }] } }),
    scrape_configs: jobs,
  }
}

/**
 * The platform's alerts. They select on the services' constant `service` label, not on `job`,
 * so they read the same whether Consul discovery or a ServiceMonitor found the target; only
 * `ServiceNoHealthyInstance` assumes `job` is the service name, as both stacks set it.
 */
export function alertRules(options: AlertRulesOptions = {}): RuleGroups {
  const services = options.services ?? APP_SERVICES
  const requests = (matchers: string) => `http_request_duration_seconds_count{${matchers}}`
  return {
    groups: [
      {
        name: 'platform-availability',
        rules: [
          {
            alert: 'InstanceDown',
            expr: 'up == 0',
            for: '1m',
            labels: { severity: 'critical' },
            annotations: {
              summary: '{{ $labels.job }} target {{ $labels.instance }} is down',
              description: 'Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for over a minute.',
            },
          },
          // Consul-discovered instances whose check fails stop being targets, so `up == 0` never
          // sees them: a service with no healthy target at all is the signal for that case.
          ...services.map((service): AlertingRule => ({
            alert: 'ServiceNoHealthyInstance',
            expr: `absent(up{job="${service}"} == 1)`,
            for: '2m',
            labels: { severity: 'critical', job: service },
            annotations: {
              summary: `${service} has no healthy instance`,
              description: `No instance of ${service} has been scraped successfully for 2 minutes: none is registered with a passing check, or none answers on /metrics.`,
            },
          })),
        ],
      },
      {
        name: 'platform-http',
        rules: [
          {
            alert: 'HighErrorRatio',
            expr: [
              `sum by (service) (rate(${requests(`status_code=~"5..",${APP_ROUTES}`)}[5m]))`,
              '/',
              `sum by (service) (rate(${requests(APP_ROUTES)}[5m]))`,
              '> 0.05',
            ].join('\n'),
            for: '5m',
            labels: { severity: 'critical' },
            annotations: {
              summary: '{{ $labels.service }} answers more than 5% of requests with 5xx',
              description:
                '{{ $value | humanizePercentage }} of the requests {{ $labels.service }} served over the last 5 minutes failed with a 5xx status (threshold 5%).',
            },
          },
          {
            alert: 'HighLatencyP99',
            expr: `histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{${APP_ROUTES}}[5m]))) > 0.5`,
            for: '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: '{{ $labels.service }} p99 latency is above 500ms',
              description:
                'The 99th percentile of {{ $labels.service }} request durations over 5 minutes is {{ $value | humanizeDuration }} (threshold 500ms).',
            },
          },
        ],
      },
      {
        name: 'platform-upstreams',
        rules: [
          {
            alert: 'GatewayUpstreamEjections',
            // prom-client creates a labelled counter at its first increment, so an upstream's
            // first ejection arrives as a new series already at 1, which increase() cannot see;
            // the second branch catches series that did not exist 5 minutes ago.
            expr: [
              'sum by (service, upstream) (increase(upstream_ejections_total[5m])) > 0',
              'or',
              'sum by (service, upstream) (upstream_ejections_total unless upstream_ejections_total offset 5m) > 0',
            ].join('\n'),
            labels: { severity: 'warning' },
            annotations: {
              summary: '{{ $labels.service }} ejected instances of {{ $labels.upstream }}',
              description:
                '{{ $labels.service }} took instances of {{ $labels.upstream }} out of rotation after consecutive failures in the last 5 minutes. Ejections counted: {{ $value }}.',
            },
          },
          {
            alert: 'UpstreamNoInstance',
            expr: 'sum by (service, upstream) (rate(upstream_requests_total{outcome="no_instance"}[5m])) > 0',
            for: '1m',
            labels: { severity: 'critical' },
            annotations: {
              summary: '{{ $labels.service }} finds no instance of {{ $labels.upstream }}',
              description:
                '{{ $labels.service }} has had no healthy instance of {{ $labels.upstream }} to send requests to for over a minute; those requests fail.',
            },
          },
        ],
      },
      {
        name: 'platform-database',
        rules: [
          {
            alert: 'DatabasePoolSaturated',
            expr: 'max by (service) (db_pool_connections{state="waiting"}) > 0',
            for: '5m',
            labels: { severity: 'warning' },
            annotations: {
              summary: '{{ $labels.service }} requests are queueing for database connections',
              description:
                '{{ $labels.service }} has had requests waiting for a pooled database connection for 5 minutes ({{ $value }} waiting now): the pool is too small or queries are slow.',
            },
          },
        ],
      },
    ],
  }
}

/** YAML for Prometheus, with long PromQL kept on its own lines and no anchors or aliases. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })
}

function duration(name: string, value: string): string {
  if (!DURATION.test(value))
    throw new Error(`prometheusConfig: ${name} must be a Prometheus duration like 15s or 1m (got ${JSON.stringify(value)})`)
  return value
}

function hostPort(name: string, value: string): string {
  if (!HOST_PORT.test(value)) throw new Error(`prometheusConfig: ${name} must be host:port (got ${JSON.stringify(value)})`)
  return value
}

function nonEmpty(name: string, value: string): string {
  if (value.trim() === '') throw new Error(`prometheusConfig: ${name} must not be empty`)
  return value
}
