// Grafana's provisioning files as data: the data sources with fixed uids, and a dashboard
// provider reading the generated dashboards from a folder. Secrets stay out of the files:
// Grafana expands `${VAR}` from its environment and `$__file{path}` from a mounted file when it
// reads them, so a literal `$` meant for Grafana itself is written `$$`.
import { dashboards } from './dashboards.ts'
import { ELASTICSEARCH_DATASOURCE_UID, JAEGER_DATASOURCE_UID, PROMETHEUS_DATASOURCE_UID } from './datasources.ts'
import { toYaml } from './prometheus.ts'

/** Where the Logstash pipeline writes: data streams `logs-<service>-<namespace>`. */
export const SERVICE_LOGS_INDEX_PATTERN = 'logs-*'

export interface ElasticsearchDatasourceOptions {
  /** e.g. `https://elasticsearch:9200`. */
  readonly url: string
  /** Basic-auth user with `read` and `view_index_metadata` on the logs and cluster `monitor`. */
  readonly user: string
  /** Environment variable of Grafana's container holding that user's password; default `ELASTIC_PASSWORD`. */
  readonly passwordEnvVar?: string
  /** Path, as Grafana sees it, of the CA certificate that signed Elasticsearch's; omit for plain HTTP. */
  readonly caCertFile?: string
  /** Default `SERVICE_LOGS_INDEX_PATTERN`. */
  readonly indexPattern?: string
}

export interface GrafanaProvisioningOptions {
  /** e.g. `http://prometheus:9090`. */
  readonly prometheusUrl: string
  /** Prometheus's scrape interval, so `$__rate_interval` spans enough samples; default `15s`. */
  readonly scrapeInterval?: string
  readonly elasticsearch: ElasticsearchDatasourceOptions
  /** URL of the Jaeger query service, e.g. `http://jaeger:16686`. */
  readonly jaegerUrl: string
  /** Directory Grafana reads the dashboard JSON files from; default `/var/lib/grafana/dashboards`. */
  readonly dashboardsPath?: string
  /** Grafana folder the dashboards appear in; default `Platform`. */
  readonly dashboardsFolder?: string
  /** The app services with a row in the dashboards; default the catalog's (`APP_SERVICES`). */
  readonly services?: readonly string[]
}

export interface DatasourceProvisioning {
  apiVersion: 1
  datasources: Record<string, unknown>[]
}

export interface DashboardProviderProvisioning {
  apiVersion: 1
  providers: Record<string, unknown>[]
}

export interface ProvisioningFile {
  /** Relative path: `provisioning/...` belongs under Grafana's provisioning directory, `dashboards/...` under `dashboardsPath`. */
  readonly path: string
  readonly content: string
}

const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/

/** `provisioning/datasources/*.yaml`: Prometheus (default), Elasticsearch for logs, Jaeger for traces, linked by trace id. */
export function grafanaDatasources(options: GrafanaProvisioningOptions): DatasourceProvisioning {
  const elasticsearch = options.elasticsearch
  const passwordEnvVar = elasticsearch.passwordEnvVar ?? 'ELASTIC_PASSWORD'
  if (!ENV_VAR.test(passwordEnvVar))
    throw new Error(
      `grafanaDatasources: elasticsearch.passwordEnvVar must be an environment variable name (got ${JSON.stringify(passwordEnvVar)})`,
    )
  const tls = elasticsearch.caCertFile === undefined ? undefined : fileReference('elasticsearch.caCertFile', elasticsearch.caCertFile)

  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        type: 'prometheus',
        uid: PROMETHEUS_DATASOURCE_UID,
        access: 'proxy',
        url: url('prometheusUrl', options.prometheusUrl),
        isDefault: true,
        editable: false,
        jsonData: { httpMethod: 'POST', timeInterval: options.scrapeInterval ?? '15s' },
      },
      {
        name: 'Service logs',
        type: 'elasticsearch',
        uid: ELASTICSEARCH_DATASOURCE_UID,
        access: 'proxy',
        url: url('elasticsearch.url', elasticsearch.url),
        basicAuth: true,
        basicAuthUser: elasticsearch.user,
        editable: false,
        jsonData: {
          index: elasticsearch.indexPattern ?? SERVICE_LOGS_INDEX_PATTERN,
          timeField: '@timestamp',
          logMessageField: 'message',
          logLevelField: 'log.level',
          ...(tls === undefined ? {} : { tlsAuthWithCACert: true }),
          // A log line's trace id opens the trace in Jaeger.
          dataLinks: [{ field: 'trace.id', datasourceUid: JAEGER_DATASOURCE_UID, url: '$${__value.raw}' }],
        },
        secureJsonData: {
          basicAuthPassword: `\${${passwordEnvVar}}`,
          ...(tls === undefined ? {} : { tlsCACert: tls }),
        },
      },
      {
        name: 'Jaeger',
        type: 'jaeger',
        uid: JAEGER_DATASOURCE_UID,
        access: 'proxy',
        url: url('jaegerUrl', options.jaegerUrl),
        editable: false,
        jsonData: {
          // A span opens the log lines of its trace.
          tracesToLogsV2: {
            datasourceUid: ELASTICSEARCH_DATASOURCE_UID,
            spanStartTimeShift: '-1m',
            spanEndTimeShift: '1m',
            customQuery: true,
            query: 'trace.id:"$${__trace.traceId}"',
          },
          nodeGraph: { enabled: true },
        },
      },
    ],
  }
}

/** `provisioning/dashboards/*.yaml`: one file provider for the generated dashboards, read-only in the UI. */
export function grafanaDashboardProvider(
  options: Pick<GrafanaProvisioningOptions, 'dashboardsPath' | 'dashboardsFolder'> = {},
): DashboardProviderProvisioning {
  const folder = options.dashboardsFolder ?? 'Platform'
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'platform',
        orgId: 1,
        folder,
        folderUid: 'platform',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: options.dashboardsPath ?? '/var/lib/grafana/dashboards', foldersFromFilesStructure: false },
      },
    ],
  }
}

/** Every file Grafana needs, for a Docker bind mount or Kubernetes ConfigMaps alike. */
export function grafanaProvisioningFiles(options: GrafanaProvisioningOptions): ProvisioningFile[] {
  return [
    { path: 'provisioning/datasources/platform.yaml', content: toYaml(grafanaDatasources(options)) },
    { path: 'provisioning/dashboards/platform.yaml', content: toYaml(grafanaDashboardProvider(options)) },
    ...dashboards(options.services).map((dashboard) => ({
      path: `dashboards/${dashboard.uid}.json`,
      content: `${JSON.stringify(dashboard.json, null, 2)}\n`,
    })),
  ]
}

function url(name: string, value: string): string {
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw new Error(`grafanaDatasources: ${name} must be an absolute http(s) URL (got ${JSON.stringify(value)})`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new Error(`grafanaDatasources: ${name} must be http or https (got ${JSON.stringify(value)})`)
  if (parsed.username !== '' || parsed.password !== '') throw new Error(`grafanaDatasources: ${name} must not carry credentials`)
  return value
}

function fileReference(name: string, path: string): string {
  if (!path.startsWith('/') || /[{}\s]/.test(path))
    throw new Error(`grafanaDatasources: ${name} must be an absolute path without braces or spaces (got ${JSON.stringify(path)})`)
  return `$__file{${path}}`
}
