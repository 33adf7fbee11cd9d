export { upstreamMetrics } from './metrics.ts'
export { Upstream, UpstreamUnavailableError } from './upstream.ts'
export type {
  UpstreamAttempt,
  UpstreamObserver,
  UpstreamOptions,
  UpstreamOutcome,
  UpstreamRequest,
  UpstreamResponse,
} from './upstream.ts'
