// Monitoring: Prometheus with the configuration and alert rules from infra/observability
// (the app services found in Consul, plus Traefik and Consul itself), and Grafana with the
// Prometheus, Elasticsearch and Jaeger data sources and the platform dashboards provisioned as
// files. Grafana's admin password is generated; anonymous access and sign-up are off.
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import { RULES_FILE, alertRules, dashboards, grafanaProvisioningFiles, prometheusConfig, toYaml } from '../observability/index.ts'
import { componentLabels, namedVolume, curlCheck, platformContainer, wgetCheck } from './container.ts'

export interface MonitoringArgs {
  readonly images: { readonly prometheus: string; readonly grafana: string }
  readonly network: pulumi.Input<string>
  readonly namePrefix: string
  readonly stack: string
  readonly hostPorts: { readonly prometheus: number; readonly grafana: number }
  /** Consul's `host:port` inside the network. */
  readonly consul: string
  /** Prometheus's Consul token: catalog and agent read (secret). */
  readonly consulToken: pulumi.Input<string>
  /** Traefik's metrics `host:port` inside the network. */
  readonly traefikMetrics: string
  /** Elasticsearch inside the network, and the read-only user Grafana queries logs as. */
  readonly elasticsearch: { readonly url: string; readonly user: string; readonly password: pulumi.Input<string> }
  /** Jaeger's query service inside the network, e.g. `http://jaeger:16686`. */
  readonly jaegerUrl: string
  /** The app services' Consul names: scraped, alerted on and given dashboard rows. */
  readonly services: readonly string[]
  /** Default `15s`. */
  readonly scrapeInterval?: string
}

const PROMETHEUS_DIR = '/etc/prometheus'
const CONSUL_TOKEN_FILE = `${PROMETHEUS_DIR}/consul-token`
const GRAFANA_PROVISIONING = '/etc/grafana/provisioning'
/** Outside the data volume: files are written into the container, not into the volume. */
const GRAFANA_DASHBOARDS = '/etc/grafana/dashboards'
const GRAFANA_ADMIN = 'admin'

export class Monitoring extends pulumi.ComponentResource {
  readonly prometheusUrl: pulumi.Output<string>
  readonly grafanaUrl: pulumi.Output<string>
  /** Dashboard title → URL. */
  readonly dashboardUrls: pulumi.Output<Record<string, string>>
  readonly grafanaAdminUser: string
  /** Secret. */
  readonly grafanaAdminPassword: pulumi.Output<string>

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:monitoring:Monitoring', name, {}, opts)
    const child = { parent: this }
    const labels = componentLabels(args.stack, 'monitoring')
    const scrapeInterval = args.scrapeInterval ?? '15s'

    const config = prometheusConfig({
      scrapeInterval,
      consul: { server: args.consul, tokenFile: CONSUL_TOKEN_FILE, services: args.services },
      traefik: args.traefikMetrics,
      externalLabels: { stack: args.stack },
    })
    const prometheusData = namedVolume(`${name}-prometheus-data`, `${args.namePrefix}-prometheus-data`, child)
    const prometheus = platformContainer(
      `${name}-prometheus`,
      {
        containerName: `${args.namePrefix}-prometheus`,
        alias: 'prometheus',
        image: args.images.prometheus,
        network: args.network,
        labels,
        ports: [{ internal: 9090, external: args.hostPorts.prometheus }],
        volumes: [{ volume: prometheusData, containerPath: '/prometheus' }],
        files: [
          { path: `${PROMETHEUS_DIR}/prometheus.yml`, content: toYaml(config) },
          { path: `${PROMETHEUS_DIR}/${RULES_FILE}`, content: toYaml(alertRules({ services: args.services })) },
          // Prometheus runs as nobody: the file must be world-readable inside the container.
          { path: CONSUL_TOKEN_FILE, content: pulumi.secret(args.consulToken) },
        ],
        healthcheck: { test: wgetCheck('http://127.0.0.1:9090/-/ready') },
        waitHealthy: true,
        stopGraceSeconds: 30,
      },
      child,
    )

    const password = new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, child)
    this.grafanaAdminUser = GRAFANA_ADMIN
    this.grafanaAdminPassword = pulumi.secret(password.result)
    const provisioning = grafanaProvisioningFiles({
      prometheusUrl: 'http://prometheus:9090',
      scrapeInterval,
      elasticsearch: { url: args.elasticsearch.url, user: args.elasticsearch.user, passwordEnvVar: 'LOGS_READER_PASSWORD' },
      jaegerUrl: args.jaegerUrl,
      dashboardsPath: GRAFANA_DASHBOARDS,
      services: args.services,
    })
    const grafanaData = namedVolume(`${name}-grafana-data`, `${args.namePrefix}-grafana-data`, child)
    const grafanaUrl = `http://127.0.0.1:${args.hostPorts.grafana}`
    platformContainer(
      `${name}-grafana`,
      {
        containerName: `${args.namePrefix}-grafana`,
        alias: 'grafana',
        image: args.images.grafana,
        network: args.network,
        labels,
        env: [
          `GF_SECURITY_ADMIN_USER=${GRAFANA_ADMIN}`,
          pulumi.interpolate`GF_SECURITY_ADMIN_PASSWORD=${this.grafanaAdminPassword}`,
          'GF_AUTH_ANONYMOUS_ENABLED=false',
          'GF_AUTH_DISABLE_LOGIN_FORM=false',
          'GF_USERS_ALLOW_SIGN_UP=false',
          `GF_SERVER_ROOT_URL=${grafanaUrl}/`,
          'GF_ANALYTICS_REPORTING_ENABLED=false',
          'GF_ANALYTICS_CHECK_FOR_UPDATES=false',
          // Expanded by Grafana in the provisioned Elasticsearch data source.
          pulumi.interpolate`LOGS_READER_PASSWORD=${args.elasticsearch.password}`,
        ],
        ports: [{ internal: 3000, external: args.hostPorts.grafana }],
        volumes: [{ volume: grafanaData, containerPath: '/var/lib/grafana' }],
        files: provisioning.map((file) => ({
          path: file.path.startsWith('provisioning/')
            ? `${GRAFANA_PROVISIONING}/${file.path.slice('provisioning/'.length)}`
            : `${GRAFANA_DASHBOARDS}/${file.path.slice('dashboards/'.length)}`,
          content: file.content,
        })),
        // Grafana's images (Alpine and Ubuntu) both install curl.
        healthcheck: { test: curlCheck('http://127.0.0.1:3000/api/health'), startPeriod: '30s' },
        waitHealthy: true,
      },
      { parent: this, dependsOn: [prometheus] },
    )

    this.prometheusUrl = pulumi.output(`http://127.0.0.1:${args.hostPorts.prometheus}`)
    this.grafanaUrl = pulumi.output(grafanaUrl)
    this.dashboardUrls = pulumi.output(
      Object.fromEntries(dashboards(args.services).map((dashboard) => [dashboard.title, `${grafanaUrl}/d/${dashboard.uid}`])),
    )
    this.registerOutputs({ prometheusUrl: this.prometheusUrl, grafanaUrl: this.grafanaUrl, dashboardUrls: this.dashboardUrls })
  }
}
