import { HttpError, type App, type Upstream, type UpstreamResponse } from '@platform/kit'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import Compile from 'typebox/compile'
import { callScope } from '../../call-scope.ts'
import { Order, OrdersPageQuery, User, UserIdParams, UserWithOrders } from '../../schemas/user-orders.ts'
import { upstreamFailure } from '../../upstream-error.ts'

const ErrorRef = Type.Ref('ErrorBody')
const isUser = Compile(User)
const isOrderList = Compile(Type.Array(Order))
const COUNT = /^(0|[1-9][0-9]*)$/

export interface AggregateOptions {
  /** Whether tracing is on: then each call sends a trace context of its own (see proxy.ts). */
  readonly tracing: boolean
  /** One deadline for both calls, every try and the bodies included. */
  readonly timeoutMs: number
}

/**
 * `GET /users/:id/orders?limit&offset`: a user and one page of their orders (the total in
 * `x-total-count`, as on every list), fetched from both services at once under one deadline.
 * Failures never surface as 500: a missing user is 404, an unreachable service 503, a
 * timed-out one 504, and an answer that breaks the contract 502.
 */
export default async function aggregateRoutes(app: App, options: AggregateOptions) {
  const users = app.discovery.upstream('user-service')
  const orders = app.discovery.upstream('order-service')

  app.get(
    '/users/:id/orders',
    {
      schema: {
        tags: ['users'],
        operationId: 'getUserWithOrders',
        summary: 'A user and all their orders, joined by the gateway',
        params: UserIdParams,
        querystring: OrdersPageQuery,
        response: { 200: UserWithOrders, 400: ErrorRef, 404: ErrorRef, 502: ErrorRef, 503: ErrorRef, 504: ErrorRef },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const scope = callScope(reply, options.timeoutMs)
      const call = {
        headers: contextHeaders(request, options.tracing),
        trace: request.traceContext,
        signal: scope.signal,
        timeoutMs: scope.timeoutMs,
      }
      try {
        const [user, page] = await Promise.allSettled([fetchUser(users, id, call), fetchOrders(orders, id, request.query, call)])
        if (user.status === 'rejected') throw user.reason
        if (page.status === 'rejected') throw page.reason
        reply.header('x-total-count', page.value.total)
        return { ...user.value, orders: page.value.orders }
      } catch (error) {
        throw scope.failure() ?? error
      } finally {
        scope.end()
      }
    },
  )
}

type Headers = Record<string, string | string[] | undefined>

/** What every upstream call of one aggregate carries: the request's id, trace context and bounds. */
interface CallContext {
  readonly headers: Headers
  readonly trace: unknown
  readonly signal: AbortSignal
  readonly timeoutMs: number
}

/** What follows the request into the services: its id, and its trace context unless tracing sends its own. */
function contextHeaders(request: FastifyRequest, tracing: boolean): Headers {
  const headers: Headers = { accept: 'application/json', 'x-request-id': request.id }
  if (!tracing) {
    headers.traceparent = request.headers.traceparent
    headers.tracestate = request.headers.tracestate
  }
  return headers
}

async function fetchUser(users: Upstream, id: number, context: CallContext): Promise<User> {
  const response = await call(users, 'user-service', `/users/${id}`, context)
  if (response.statusCode === 404) {
    await discard(response)
    throw new HttpError(404, `user ${id} not found`, 'params.id')
  }
  return readJson(response, 'user-service', isUser)
}

/** One page of the user's orders and their total, as order-service counts them. */
async function fetchOrders(orders: Upstream, userId: number, page: { limit: number; offset: number }, context: CallContext) {
  const response = await call(orders, 'order-service', `/orders?userId=${userId}&limit=${page.limit}&offset=${page.offset}`, context)
  const total = response.headers['x-total-count']
  const list = await readJson(response, 'order-service', isOrderList)
  if (typeof total !== 'string' || !COUNT.test(total)) throw new HttpError(502, 'order-service answered outside its contract')
  return { orders: list, total: Number(total) }
}

async function call(upstream: Upstream, service: string, path: string, context: CallContext): Promise<UpstreamResponse> {
  try {
    return await upstream.request({
      method: 'GET',
      path,
      headers: context.headers,
      trace: context.trace,
      signal: context.signal,
      timeoutMs: context.timeoutMs,
    })
  } catch (error) {
    throw upstreamFailure(service, error)
  }
}

/** The body of a 200 that matches the contract, else the error a client should see. */
async function readJson<T>(response: UpstreamResponse, service: string, validator: { Check(value: unknown): value is T }): Promise<T> {
  if (response.statusCode !== 200) {
    await discard(response)
    throw response.statusCode === 503
      ? new HttpError(503, `${service} is unavailable`)
      : new HttpError(502, `${service} answered ${response.statusCode}`)
  }
  let body: unknown
  try {
    body = await response.body.json()
  } catch (error) {
    throw upstreamFailure(service, error)
  }
  if (!validator.Check(body)) throw new HttpError(502, `${service} answered outside its contract`)
  return body
}

/** Frees the connection of an answer we will not read; a failure here changes nothing. */
function discard(response: UpstreamResponse): Promise<void> {
  return response.body.dump().catch(() => {})
}
