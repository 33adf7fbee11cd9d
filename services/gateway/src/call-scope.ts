import { HttpError } from '@platform/kit'
import type { FastifyReply } from 'fastify'

/**
 * What bounds the upstream calls made for one client request: the client still waiting, and
 * one deadline for all of them, every try included (`UPSTREAM_REQUEST_TIMEOUT_MS`).
 */
export interface CallScope {
  /** Aborts when the client goes away or the deadline passes: pass it to every call. */
  readonly signal: AbortSignal
  readonly timeoutMs: number
  /** Why the scope ended the calls (504 past the deadline, 499 for a client gone), or undefined. */
  failure(): Error | undefined
  /** Stops watching: a streamed answer is then bounded per chunk only, like any download. */
  end(): void
}

export function callScope(reply: FastifyReply, timeoutMs: number): CallScope {
  const controller = new AbortController()
  const response = reply.raw
  const timer = setTimeout(() => controller.abort(new HttpError(504, `no answer within ${timeoutMs} ms`)), timeoutMs)
  const onClose = () => {
    if (!response.writableFinished) controller.abort(new HttpError(499, 'the client closed the connection'))
  }
  response.once('close', onClose)
  return {
    signal: controller.signal,
    timeoutMs,
    failure: () => (controller.signal.aborted ? (controller.signal.reason as Error) : undefined),
    end() {
      clearTimeout(timer)
      response.off('close', onClose)
    },
  }
}
