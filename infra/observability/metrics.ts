// The metric contract of the services (services/kit/src/plugins/metrics.ts and upstream/metrics.ts),
// written down once so the alert rules and the dashboards cannot drift apart.
import { serviceNames } from '../../catalog/catalog.ts'

/**
 * The app services of the catalog, by the name they register in Consul and carry as the
 * `service` label: the default of every generator here that takes a service list.
 */
export const APP_SERVICES: readonly string[] = serviceNames()

/**
 * Excludes probe and scrape routes: Consul checks and Prometheus scrapes hit them every few
 * seconds, so they would dilute the error ratio and the latency of real traffic, and a readiness
 * probe answering 503 while an instance drains is not an error users see.
 */
export const APP_ROUTES = 'route!~"/health/.+|/metrics"'

/** Every metric name a rule or panel may use; a test holds the queries to this list. */
export const CONTRACT_METRICS = [
  'up',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_gc_duration_seconds_sum',
  'nodejs_gc_duration_seconds_count',
  'nodejs_active_handles_total',
  'http_request_duration_seconds_bucket',
  'http_request_duration_seconds_count',
  'http_request_duration_seconds_sum',
  'db_pool_connections',
  'upstream_requests_total',
  'upstream_request_duration_seconds_bucket',
  'upstream_retries_total',
  'upstream_ejections_total',
  'upstream_instances',
] as const
