import { HttpError, UpstreamUnavailableError } from '@platform/kit'

/**
 * What a client sees when calling an upstream failed:
 * - 503 `<service> is unavailable` when no instance could answer (refused, reset, 503s, or
 *   nothing registered), retryable by the client;
 * - 504 when the last try timed out waiting for the response headers or body: the instance may
 *   still be acting on the request, so a non-idempotent caller must not assume it did nothing;
 * - 502 for anything else: a failure the balancer does not classify, an answer that broke off
 *   or cannot be read (never a bare 500).
 * The kit's error handler renders these; it hides 502/504 messages and logs them with the cause.
 */
export function upstreamFailure(service: string, error: unknown): Error {
  const timedOut = isTimeout(error instanceof UpstreamUnavailableError ? error.cause : error)
  if (error instanceof UpstreamUnavailableError && !timedOut) return error
  const failure = new HttpError(timedOut ? 504 : 502, timedOut ? `${service} did not answer in time` : `calling ${service} failed`)
  failure.cause = error
  return failure
}

function isTimeout(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
}
