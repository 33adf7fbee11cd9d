import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { UpstreamAttempt, UpstreamObserver, UpstreamOutcome } from './upstream.ts'

type CounterChild = ReturnType<Counter['labels']>
type HistogramChild = ReturnType<Histogram['labels']>

/** Label children of one service, bound once: `labels()` hashes its arguments on every call. */
interface ServiceChildren {
  readonly outcomes: Record<UpstreamOutcome, CounterChild>
  readonly duration: HistogramChild
  readonly retries: CounterChild
}

/**
 * The upstream's name goes in an `upstream` label: `service` is the calling service's own
 * constant label on every series.
 *
 * Prometheus metrics for every Upstream sharing the returned observer. Calling it again with the
 * same registry reuses the metrics already registered there.
 */
export function upstreamMetrics(registry: Registry): UpstreamObserver {
  const requests = metric(
    registry,
    'upstream_requests_total',
    () =>
      new Counter({
        name: 'upstream_requests_total',
        help: 'Tries sent to an upstream service, by outcome.',
        labelNames: ['upstream', 'outcome'],
        registers: [registry],
      }),
  )
  const duration = metric(
    registry,
    'upstream_request_duration_seconds',
    () =>
      new Histogram({
        name: 'upstream_request_duration_seconds',
        help: 'Time until an upstream answered with headers or the try failed.',
        labelNames: ['upstream'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
  )
  const retries = metric(
    registry,
    'upstream_retries_total',
    () =>
      new Counter({
        name: 'upstream_retries_total',
        help: 'Tries that repeated a request on another instance.',
        labelNames: ['upstream'],
        registers: [registry],
      }),
  )
  const ejections = metric(
    registry,
    'upstream_ejections_total',
    () =>
      new Counter({
        name: 'upstream_ejections_total',
        help: 'Instances taken out of rotation after consecutive failures.',
        labelNames: ['upstream'],
        registers: [registry],
      }),
  )
  const instances = metric(
    registry,
    'upstream_instances',
    () =>
      new Gauge({
        name: 'upstream_instances',
        help: 'Instances of an upstream service known to the balancer, by state.',
        labelNames: ['upstream', 'state'],
        registers: [registry],
      }),
  )

  const children = new Map<string, ServiceChildren>()
  const childrenOf = (service: string): ServiceChildren => {
    let found = children.get(service)
    if (found === undefined) {
      found = {
        outcomes: {
          ok: requests.labels(service, 'ok'),
          server_error: requests.labels(service, 'server_error'),
          connect_error: requests.labels(service, 'connect_error'),
          timeout: requests.labels(service, 'timeout'),
          no_instance: requests.labels(service, 'no_instance'),
        },
        duration: duration.labels(service),
        retries: retries.labels(service),
      }
      children.set(service, found)
    }
    return found
  }

  return {
    attempt(event: UpstreamAttempt) {
      const service = childrenOf(event.service)
      service.outcomes[event.outcome].inc()
      if (event.outcome !== 'no_instance') service.duration.observe(event.seconds)
      if (event.retried) service.retries.inc()
    },
    ejected(event) {
      ejections.labels(event.service).inc()
    },
    instances(event) {
      instances.labels(event.service, 'healthy').set(event.healthy)
      instances.labels(event.service, 'ejected').set(event.ejected)
    },
  }
}

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create()
}
