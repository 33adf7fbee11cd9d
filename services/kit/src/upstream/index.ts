export { upstreamMetrics } from './metrics.ts'
export { hopByHop, Upstream, UpstreamUnavailableError } from './upstream.ts'
export type {
  ForwardedResponse,
  TryTrace,
  TryTracer,
  UpstreamAttempt,
  UpstreamObserver,
  UpstreamOptions,
  UpstreamOutcome,
  UpstreamRequest,
  UpstreamResponse,
} from './upstream.ts'
