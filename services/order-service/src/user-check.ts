import { HttpError, type Upstream } from '@platform/kit'
import type { FastifyBaseLogger } from 'fastify'

export interface UserCheck {
  /**
   * Resolves when user-service knows the user. Throws a 422 naming `body.userId` when it does
   * not, and a 503 when it cannot tell (unreachable, or any answer but 200 or 404).
   */
  assertExists(
    userId: number,
    context: { readonly requestId: string; readonly log: FastifyBaseLogger; readonly trace?: unknown },
  ): Promise<void>
}

const unavailable = () => new HttpError(503, 'user-service is unavailable, retry later')

/**
 * Asks user-service, through discovery and its load balancer, whether a user exists. The whole
 * check, retries included, takes at most `timeoutMs`; each try gets half of it, so an instance
 * that hangs (starting, stalled, draining under load) leaves time for another to answer. The
 * bound sits below the gateway's try timeout: the client then gets a retryable 503 from here
 * rather than a 504 that cannot say whether the order was written.
 */
export function userCheck(users: Upstream, timeoutMs: number): UserCheck {
  const tryTimeoutMs = Math.ceil(timeoutMs / 2)
  return {
    async assertExists(userId, { requestId, log, trace }) {
      let statusCode: number
      try {
        const response = await users.request({
          method: 'GET',
          path: `/users/${userId}`,
          headers: { accept: 'application/json', 'x-request-id': requestId },
          timeoutMs,
          tryTimeoutMs,
          trace,
        })
        statusCode = response.statusCode
        // Only the status matters; dumping the body frees the keep-alive socket.
        await response.body.dump()
      } catch (error) {
        // UpstreamUnavailableError, or the body broke off: either way no answer we can trust.
        log.warn({ err: error }, 'user-service call failed')
        throw unavailable()
      }
      if (statusCode === 200) return
      if (statusCode === 404) throw new HttpError(422, `user ${userId} does not exist`, 'body.userId')
      log.warn({ upstreamStatusCode: statusCode }, 'unexpected answer from user-service')
      throw unavailable()
    },
  }
}
