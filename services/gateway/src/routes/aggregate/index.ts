import { HttpError, type App, type Upstream, type UpstreamResponse } from '@platform/kit'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import Compile from 'typebox/compile'
import { Order, User, UserIdParams, UserWithOrders } from '../../schemas/user-orders.ts'
import { upstreamFailure } from '../../upstream-error.ts'

const ErrorRef = Type.Ref('ErrorBody')
const isUser = Compile(User)
const isOrderList = Compile(Type.Array(Order))
/** order-service's largest page. */
const PAGE = 100

export interface AggregateOptions {
  /** Whether tracing is on: then each call sends a trace context of its own (see proxy.ts). */
  readonly tracing: boolean
}

/**
 * `GET /users/:id/orders`: a user and all their orders, fetched from both services at once.
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
        response: { 200: UserWithOrders, 400: ErrorRef, 404: ErrorRef, 502: ErrorRef, 503: ErrorRef, 504: ErrorRef },
      },
    },
    async (request) => {
      const { id } = request.params
      const call = { headers: contextHeaders(request, options.tracing), trace: request.traceContext }
      const [user, list] = await Promise.allSettled([fetchUser(users, id, call), fetchOrders(orders, id, call)])
      if (user.status === 'rejected') throw user.reason
      if (list.status === 'rejected') throw list.reason
      return { ...user.value, orders: list.value }
    },
  )
}

type Headers = Record<string, string | string[] | undefined>

/** What every upstream call of one aggregate carries: the request's id and trace context. */
interface CallContext {
  readonly headers: Headers
  readonly trace: unknown
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

/** Every page of the user's orders: the first tells the total, the rest follow in order. */
async function fetchOrders(orders: Upstream, userId: number, context: CallContext): Promise<Order[]> {
  const page = (offset: number) => call(orders, 'order-service', `/orders?userId=${userId}&limit=${PAGE}&offset=${offset}`, context)
  const first = await page(0)
  // Without the header (or with a bad one) `all.length < NaN` is false: one page it is.
  const total = Number(first.headers['x-total-count'])
  const all = await readJson(first, 'order-service', isOrderList)
  while (all.length < total) {
    const next = await readJson(await page(all.length), 'order-service', isOrderList)
    if (next.length === 0) break
    all.push(...next)
  }
  return all
}

async function call(upstream: Upstream, service: string, path: string, context: CallContext): Promise<UpstreamResponse> {
  try {
    return await upstream.request({ method: 'GET', path, headers: context.headers, trace: context.trace })
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
