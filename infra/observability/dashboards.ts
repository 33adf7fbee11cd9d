// The platform's Grafana dashboards, built with the Grafana Foundation SDK. They are classic
// (schema v1) dashboard JSON because that is what Grafana's file provisioning loads.
import {
  DashboardBuilder,
  DashboardCursorSync,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type Panel,
  type RowPanel,
} from '@grafana/grafana-foundation-sdk/dashboard'
import {
  LegendDisplayMode,
  LegendPlacement,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common'
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus'
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries'
import * as units from '@grafana/grafana-foundation-sdk/units'
import { PROMETHEUS_DATASOURCE } from './datasources.ts'
import { APP_ROUTES, APP_SERVICES } from './metrics.ts'

export interface GeneratedDashboard {
  readonly uid: string
  readonly title: string
  /** The dashboard JSON model, as Grafana's file provisioning reads it. */
  readonly json: Dashboard
}

/** One query of one panel. */
export interface PanelQuery {
  readonly panel: string
  readonly refId: string
  /** PromQL with Grafana variables (`$service`, `$__rate_interval`) still in it. */
  readonly expr: string
}

export const DASHBOARD_UIDS = {
  servicesOverview: 'platform-services-overview',
  gatewayUpstreams: 'platform-gateway-upstreams',
  nodejsRuntime: 'platform-nodejs-runtime',
  databasePool: 'platform-database-pool',
} as const

/** The value Grafana substitutes for a multi-value variable set to "All" (see `labelVariable`). */
export const ALL_VALUE = '.*'

interface Query {
  readonly expr: string
  readonly legend: string
}

interface TimeseriesSpec {
  readonly id: number
  readonly title: string
  readonly description: string
  readonly unit: string
  /** Grid columns out of 24; default 12. */
  readonly width?: number
  readonly stacked?: boolean
  readonly min?: number
  readonly queries: readonly Query[]
}

/**
 * Every dashboard of the platform, ready to be written to the provisioned folder. `services`
 * (default: the catalog's) get a row each in the services overview.
 */
export function dashboards(services: readonly string[] = APP_SERVICES): GeneratedDashboard[] {
  return [servicesOverview(services), gatewayUpstreams(), nodejsRuntime(), databasePool()].map((builder) => {
    const json = builder.build()
    return { uid: json.uid ?? '', title: json.title ?? '', json }
  })
}

/** Every PromQL query of a dashboard's panels, rows included, in panel order. */
export function panelQueries(dashboard: GeneratedDashboard | Dashboard): PanelQuery[] {
  const json = 'json' in dashboard ? dashboard.json : dashboard
  const panels = (json.panels ?? []).flatMap((panel: Panel | RowPanel): Panel[] =>
    panel.type === 'row' ? (panel as RowPanel).panels : [panel as Panel],
  )
  return panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      const { expr, refId } = target as { expr?: unknown; refId?: unknown }
      if (typeof expr !== 'string') throw new Error(`panelQueries: panel ${JSON.stringify(panel.title)} has a query without expr`)
      return { panel: panel.title ?? '', refId: typeof refId === 'string' ? refId : '', expr }
    }),
  )
}

export interface InterpolateOptions {
  /** What `$__rate_interval` stands for; default `1m`. */
  readonly rateInterval?: string
  /** Values of the dashboard variables; a variable not given is "All" (`.*`). */
  readonly variables?: Readonly<Record<string, string>>
}

/**
 * A panel query as Grafana would send it to Prometheus, for running it outside Grafana: the
 * built-in interval variables and the dashboard variables are replaced.
 */
export function interpolateQuery(expr: string, options: InterpolateOptions = {}): string {
  const rateInterval = options.rateInterval ?? '1m'
  return expr
    .replace(/\$\{?__rate_interval\}?/g, rateInterval)
    .replace(/\$\{?__interval\}?/g, rateInterval)
    .replace(/\$\{?(\w+)\}?/g, (_match, name: string) => options.variables?.[name] ?? ALL_VALUE)
}

function servicesOverview(services: readonly string[]): DashboardBuilder {
  const id = panelIds()
  const requests = (extra = '') => `http_request_duration_seconds_count{service=~"$service",${APP_ROUTES}${extra}}`
  const buckets = `http_request_duration_seconds_bucket{service=~"$service",${APP_ROUTES}}`
  const rate = (selector: string, by: string) => `sum by (${by}) (rate(${selector}[$__rate_interval]))`
  const errorRatio = (by: string) => `${rate(requests(',status_code=~"5.."'), by)}\n/\n${rate(requests(), by)}`
  const quantile = (q: number, by: string) => `histogram_quantile(${q}, ${rate(buckets, `${by}, le`)})`

  const overview = dashboard(DASHBOARD_UIDS.servicesOverview, 'Services overview')
    .description(
      'Traffic, errors and latency of the app services, from http_request_duration_seconds. Probe and scrape routes are left out, as in the alerts.',
    )
    .withVariable(labelVariable('service', 'Service', 'http_request_duration_seconds_count', 'service'))
    .withRow(row(id(), 'Per service'))
    .withPanel(
      timeseries({
        id: id(),
        title: 'Request rate',
        description: 'Requests per second served, by service.',
        unit: units.RequestsPerSecond,
        width: 8,
        queries: [{ expr: rate(requests(), 'service'), legend: '{{service}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: '5xx error ratio',
        description: 'Share of requests answered with a 5xx status. HighErrorRatio fires above 5% for 5 minutes.',
        unit: units.PercentUnit,
        width: 8,
        queries: [{ expr: errorRatio('service'), legend: '{{service}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Request duration p50 / p99',
        description: 'Quantiles estimated from the histogram buckets. HighLatencyP99 fires above 500ms for 10 minutes.',
        unit: units.Seconds,
        width: 8,
        queries: [
          { expr: quantile(0.5, 'service'), legend: '{{service}} p50' },
          { expr: quantile(0.99, 'service'), legend: '{{service}} p99' },
        ],
      }),
    )
    .withRow(row(id(), 'Per route'))
    .withPanel(
      timeseries({
        id: id(),
        title: 'Request rate by route',
        description: 'Requests per second, by service and route pattern.',
        unit: units.RequestsPerSecond,
        queries: [{ expr: rate(requests(), 'service, route'), legend: '{{service}} {{route}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Responses by status code',
        description: 'Responses per second, by service and status code.',
        unit: units.RequestsPerSecond,
        stacked: true,
        queries: [{ expr: rate(requests(), 'service, status_code'), legend: '{{service}} {{status_code}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: '5xx error ratio by route',
        description: 'Share of requests answered with a 5xx status, by route.',
        unit: units.PercentUnit,
        queries: [{ expr: errorRatio('service, route'), legend: '{{service}} {{route}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Request duration p50 / p99 by route',
        description: 'Quantiles by route pattern.',
        unit: units.Seconds,
        queries: [
          { expr: quantile(0.5, 'service, route'), legend: '{{service}} {{route}} p50' },
          { expr: quantile(0.99, 'service, route'), legend: '{{service}} {{route}} p99' },
        ],
      }),
    )

  return serviceRows(overview, id, services)
}

function gatewayUpstreams(): DashboardBuilder {
  const id = panelIds()
  const selector = (metric: string, extra = '') => `${metric}{service=~"$service",upstream=~"$upstream"${extra}}`
  const rate = (metric: string, by: string, extra = '') => `sum by (${by}) (rate(${selector(metric, extra)}[$__rate_interval]))`
  const quantile = (q: number) =>
    `histogram_quantile(${q}, sum by (service, upstream, le) (rate(${selector('upstream_request_duration_seconds_bucket')}[$__rate_interval])))`

  return dashboard(DASHBOARD_UIDS.gatewayUpstreams, 'Gateway upstreams')
    .description(
      'How the services that call others (the gateway first of all) reach their upstreams: outcomes, retries, ejections, balancer state and latency. `service` is the caller, `upstream` the service called.',
    )
    .withVariable(labelVariable('service', 'Caller', 'upstream_requests_total', 'service'))
    .withVariable(labelVariable('upstream', 'Upstream', 'upstream_requests_total', 'upstream'))
    .withRow(row(id(), 'Requests'))
    .withPanel(
      timeseries({
        id: id(),
        title: 'Tries by upstream and outcome',
        description: 'Tries per second: ok, server_error, connect_error, timeout, or no_instance (nothing healthy to send to).',
        unit: units.RequestsPerSecond,
        stacked: true,
        queries: [
          { expr: rate('upstream_requests_total', 'service, upstream, outcome'), legend: '{{service}} → {{upstream}} {{outcome}}' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Failed tries ratio',
        description: 'Share of tries whose outcome was not ok.',
        unit: units.PercentUnit,
        queries: [
          {
            expr: `${rate('upstream_requests_total', 'service, upstream', ',outcome!="ok"')}\n/\n${rate('upstream_requests_total', 'service, upstream')}`,
            legend: '{{service}} → {{upstream}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Retries',
        description: 'Tries per second that repeated a request on another instance.',
        unit: units.OpsPerSecond,
        queries: [{ expr: rate('upstream_retries_total', 'service, upstream'), legend: '{{service}} → {{upstream}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Ejections',
        description: 'Instances taken out of rotation after consecutive failures, per interval. GatewayUpstreamEjections fires on any.',
        unit: units.Short,
        min: 0,
        queries: [
          {
            expr: `sum by (service, upstream) (increase(${selector('upstream_ejections_total')}[$__rate_interval]))`,
            legend: '{{service}} → {{upstream}}',
          },
        ],
      }),
    )
    .withRow(row(id(), 'Balancer'))
    .withPanel(
      timeseries({
        id: id(),
        title: 'Instances by state',
        description: 'Upstream instances each caller instance knows, healthy or ejected; every caller replica has its own view.',
        unit: units.Short,
        min: 0,
        queries: [{ expr: selector('upstream_instances'), legend: '{{service}} {{instance}} → {{upstream}} {{state}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Upstream latency p50 / p99',
        description: 'Time until an upstream answered with headers or the try failed.',
        unit: units.Seconds,
        queries: [
          { expr: quantile(0.5), legend: '{{service}} → {{upstream}} p50' },
          { expr: quantile(0.99), legend: '{{service}} → {{upstream}} p99' },
        ],
      }),
    )
}

/**
 * One row per app service, in catalog order, fixed to that service whatever `$service` says:
 * its instances reporting, its traffic by route and its p99 by route, so a new service shows up
 * here without an edit. They select on the services' own `service` label, like the alerts.
 */
function serviceRows(builder: DashboardBuilder, id: () => number, services: readonly string[]): DashboardBuilder {
  for (const service of services) {
    const requests = `http_request_duration_seconds_count{service="${service}",${APP_ROUTES}}`
    const buckets = `http_request_duration_seconds_bucket{service="${service}",${APP_ROUTES}}`
    builder
      .withRow(row(id(), `Service: ${service}`))
      .withPanel(
        timeseries({
          id: id(),
          title: `${service}: instances reporting`,
          description: `Instances of ${service} whose metrics the last scrape got: one that stops answering drops out at its next failed scrape.`,
          unit: units.Short,
          width: 6,
          min: 0,
          queries: [{ expr: `count(process_resident_memory_bytes{service="${service}"})`, legend: 'instances' }],
        }),
      )
      .withPanel(
        timeseries({
          id: id(),
          title: `${service}: request rate by route`,
          description: `Requests per second ${service} served, by route pattern.`,
          unit: units.RequestsPerSecond,
          width: 9,
          queries: [{ expr: `sum by (route) (rate(${requests}[$__rate_interval]))`, legend: '{{route}}' }],
        }),
      )
      .withPanel(
        timeseries({
          id: id(),
          title: `${service}: p99 by route`,
          description: `99th percentile of ${service}'s request duration, by route pattern.`,
          unit: units.Seconds,
          width: 9,
          queries: [{ expr: `histogram_quantile(0.99, sum by (route, le) (rate(${buckets}[$__rate_interval])))`, legend: '{{route}}' }],
        }),
      )
  }
  return builder
}

function nodejsRuntime(): DashboardBuilder {
  const id = panelIds()
  const selector = (metric: string) => `${metric}{service=~"$service"}`
  const legend = '{{service}} {{instance}}'

  return dashboard(DASHBOARD_UIDS.nodejsRuntime, 'Node.js runtime')
    .description('Process and V8 runtime of every app service instance, from prom-client default metrics.')
    .withVariable(labelVariable('service', 'Service', 'process_cpu_seconds_total', 'service'))
    .withRow(row(id(), 'Process'))
    .withPanel(
      timeseries({
        id: id(),
        title: 'CPU',
        description: 'CPU time used per second (100% = one core).',
        unit: units.PercentUnit,
        min: 0,
        queries: [{ expr: `rate(${selector('process_cpu_seconds_total')}[$__rate_interval])`, legend }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Resident memory',
        description: 'Resident set size of the process.',
        unit: units.BytesIEC,
        min: 0,
        queries: [{ expr: selector('process_resident_memory_bytes'), legend }],
      }),
    )
    .withRow(row(id(), 'V8 and event loop'))
    .withPanel(
      timeseries({
        id: id(),
        title: 'Heap',
        description: 'V8 heap used and its current size.',
        unit: units.BytesIEC,
        min: 0,
        queries: [
          { expr: selector('nodejs_heap_size_used_bytes'), legend: `${legend} used` },
          { expr: selector('nodejs_heap_size_total_bytes'), legend: `${legend} total` },
        ],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Event loop lag p99',
        description: 'How late timers fire: a busy or blocked event loop delays every request.',
        unit: units.Seconds,
        min: 0,
        queries: [{ expr: selector('nodejs_eventloop_lag_p99_seconds'), legend }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Time in GC',
        description: 'Time spent in garbage collection per second, by GC kind.',
        unit: units.PercentUnit,
        min: 0,
        stacked: true,
        queries: [
          {
            expr: `sum by (service, instance, kind) (rate(${selector('nodejs_gc_duration_seconds_sum')}[$__rate_interval]))`,
            legend: `${legend} {{kind}}`,
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'Active handles',
        description: 'Open handles (sockets, timers, files) keeping the event loop alive.',
        unit: units.Short,
        min: 0,
        queries: [{ expr: selector('nodejs_active_handles_total'), legend }],
      }),
    )
}

function databasePool(): DashboardBuilder {
  const id = panelIds()
  const pool = (state: string) => `db_pool_connections{service=~"$service",state="${state}"}`

  return dashboard(DASHBOARD_UIDS.databasePool, 'Database pool')
    .description('Connection pools of the services that own a database.')
    .withVariable(labelVariable('service', 'Service', 'db_pool_connections', 'service'))
    .withRow(row(id(), 'Connections'))
    .withPanel(
      timeseries({
        id: id(),
        title: 'Connections by state',
        description: 'Pool connections per instance: total open, idle, and requests waiting for one.',
        unit: units.Short,
        min: 0,
        queries: [{ expr: 'db_pool_connections{service=~"$service"}', legend: '{{service}} {{instance}} {{state}}' }],
      }),
    )
    .withPanel(
      timeseries({
        id: id(),
        title: 'In use and waiting',
        description:
          'Connections busy with a query (total minus idle), and requests queued for one. DatabasePoolSaturated fires when requests wait for 5 minutes.',
        unit: units.Short,
        min: 0,
        queries: [
          { expr: `sum by (service) (${pool('total')})\n-\nsum by (service) (${pool('idle')})`, legend: '{{service}} in use' },
          { expr: `sum by (service) (${pool('waiting')})`, legend: '{{service}} waiting' },
        ],
      }),
    )
}

function dashboard(uid: string, title: string): DashboardBuilder {
  return (
    new DashboardBuilder(title)
      .uid(uid)
      .tags(['platform', 'generated'])
      .time({ from: 'now-1h', to: 'now' })
      .refresh('30s')
      .timezone('browser')
      .tooltip(DashboardCursorSync.Crosshair)
      // Grafana adds its built-in "Annotations & Alerts" query to an empty list.
      .annotations([])
      // Provisioned from code: edits in the UI could not be saved back anyway.
      .readonly()
  )
}

/** A multi-value variable over one label's values, "All" by default (matching `.*`). */
function labelVariable(name: string, label: string, metric: string, labelName: string): QueryVariableBuilder {
  const query = `label_values(${metric}, ${labelName})`
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(PROMETHEUS_DATASOURCE)
    .query(query)
    .definition(query)
    .multi(true)
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ selected: true, text: 'All', value: '$__all' })
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
}

/** Panel ids, unique within one dashboard: Grafana keys panel links and `viewPanel` on them. */
function panelIds(): () => number {
  let last = 0
  return () => ++last
}

function row(id: number, title: string): RowBuilder {
  return new RowBuilder(title).id(id)
}

function timeseries(spec: TimeseriesSpec): TimeseriesBuilder {
  const panel = new TimeseriesBuilder()
    .id(spec.id)
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS_DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(8)
    .fillOpacity(spec.stacked === true ? 30 : 10)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
  if (spec.min !== undefined) panel.min(spec.min)
  if (spec.stacked === true) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal))
  spec.queries.forEach((query, index) => {
    panel.withTarget(
      new DataqueryBuilder()
        .datasource(PROMETHEUS_DATASOURCE)
        .refId(String.fromCharCode(65 + index))
        .expr(query.expr)
        .legendFormat(query.legend)
        .range(),
    )
  })
  return panel
}
