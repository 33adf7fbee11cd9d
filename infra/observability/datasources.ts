// Fixed Grafana data source uids: the provisioned data sources (grafana.ts) and the dashboards
// (dashboards.ts) meet on these, never on names that a person may rename in the UI.

export const PROMETHEUS_DATASOURCE_UID = 'platform-prometheus'
export const ELASTICSEARCH_DATASOURCE_UID = 'platform-logs'
export const JAEGER_DATASOURCE_UID = 'platform-jaeger'

/** A panel's or query's reference to the Prometheus data source. */
export const PROMETHEUS_DATASOURCE = { type: 'prometheus', uid: PROMETHEUS_DATASOURCE_UID } as const
