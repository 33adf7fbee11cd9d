// Observability as code: pure generators of the Prometheus, Grafana and Logstash configuration.
// No Pulumi here: the Docker and Kubernetes stacks import these and decide where the text goes.
export {
  ALL_VALUE,
  DASHBOARD_UIDS,
  dashboards,
  interpolateQuery,
  panelQueries,
  type GeneratedDashboard,
  type InterpolateOptions,
  type PanelQuery,
} from './dashboards.ts'
export { ELASTICSEARCH_DATASOURCE_UID, JAEGER_DATASOURCE_UID, PROMETHEUS_DATASOURCE, PROMETHEUS_DATASOURCE_UID } from './datasources.ts'
export {
  SERVICE_LOGS_INDEX_PATTERN,
  grafanaDashboardProvider,
  grafanaDatasources,
  grafanaProvisioningFiles,
  type DashboardProviderProvisioning,
  type DatasourceProvisioning,
  type ElasticsearchDatasourceOptions,
  type GrafanaProvisioningOptions,
  type ProvisioningFile,
} from './grafana.ts'
export { ECS_DOTTED_KEYS, logstashPipeline, type LogstashPipelineOptions } from './logstash.ts'
export { APP_ROUTES, APP_SERVICES, CONTRACT_METRICS } from './metrics.ts'
export {
  RULES_FILE,
  alertRules,
  prometheusConfig,
  toYaml,
  type AlertRulesOptions,
  type AlertingRule,
  type ConsulDiscoveryOptions,
  type PrometheusConfig,
  type PrometheusConfigOptions,
  type RuleGroup,
  type RuleGroups,
  type ScrapeConfig,
  type Severity,
} from './prometheus.ts'
