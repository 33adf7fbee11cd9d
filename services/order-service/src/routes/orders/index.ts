import { HttpError, type App } from '@platform/kit'
import Type from 'typebox'
import { orderRepository } from '../../repository.ts'
import { CreateOrder, ErrorRef, Order, OrderParams, OrderQuery, OrderRef } from '../../schemas.ts'
import { userCheck } from '../../user-check.ts'

const orderNotFound = (id: number) => new HttpError(404, `order ${id} not found`, 'params.id')

// numeric(12,2) would round silently; 1.005 is refused instead.
const hasAtMostTwoDecimals = (value: number) => Number(value.toFixed(2)) === value

export interface OrderRoutesOptions {
  /** Bound of the user-service check before an order is written (USER_CHECK_TIMEOUT_MS). */
  readonly userCheckTimeoutMs: number
}

/** `/orders`: thin handlers over the repository and the user-service check. */
export default async function orderRoutes(app: App, { userCheckTimeoutMs }: OrderRoutesOptions) {
  app.addSchema(Order)
  const orders = orderRepository(app.db)
  // Resolved at boot, so a missing USER_SERVICE_URLS (without Consul) stops the start with its name.
  const users = userCheck(app.discovery.upstream('user-service'), userCheckTimeoutMs)

  app.get(
    '/orders',
    { schema: { querystring: OrderQuery, response: { 200: Type.Array(OrderRef), 400: ErrorRef } } },
    async (request, reply) => {
      const { orders: page, total } = await orders.list(request.query)
      reply.header('x-total-count', total)
      return page
    },
  )

  app.get(
    '/orders/:id',
    { schema: { params: OrderParams, response: { 200: OrderRef, 400: ErrorRef, 404: ErrorRef } } },
    async (request) => {
      const order = await orders.get(request.params.id)
      if (order === undefined) throw orderNotFound(request.params.id)
      return order
    },
  )

  app.post(
    '/orders',
    {
      schema: {
        body: CreateOrder,
        response: { 201: OrderRef, 400: ErrorRef, 422: ErrorRef, 503: ErrorRef },
      },
    },
    async (request, reply) => {
      const { userId, item, price, quantity } = request.body
      if (!hasAtMostTwoDecimals(price)) throw new HttpError(400, 'body.price must have at most 2 decimal places', 'body.price')
      await users.assertExists(userId, { requestId: request.id, log: request.log, trace: request.traceContext })
      const order = await orders.create({ userId, item: item.trim(), price, quantity })
      return reply.code(201).header('location', `/orders/${order.id}`).send(order)
    },
  )

  app.delete(
    '/orders/:id',
    { schema: { params: OrderParams, response: { 204: Type.Null(), 400: ErrorRef, 404: ErrorRef } } },
    async (request, reply) => {
      if (!(await orders.remove(request.params.id))) throw orderNotFound(request.params.id)
      return reply.code(204).send(null)
    },
  )
}
