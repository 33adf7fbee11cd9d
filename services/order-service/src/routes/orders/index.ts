import { HttpError, type App } from '@platform/kit'
import { orderRepository } from '../../repository.ts'
import {
  CreatedOrder,
  CreateOrder,
  ErrorRef,
  NoContent,
  Order,
  OrderPage,
  OrderParams,
  OrderQuery,
  OrderRef,
} from '../../schemas/orders.ts'
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
    {
      schema: {
        tags: ['orders'],
        operationId: 'listOrders',
        summary: 'List orders, of every user or of one, a page at a time',
        querystring: OrderQuery,
        response: { 200: OrderPage, 400: ErrorRef },
      },
    },
    async (request, reply) => {
      const { orders: page, total } = await orders.list(request.query)
      reply.header('x-total-count', total)
      return page
    },
  )

  app.get(
    '/orders/:id',
    {
      schema: {
        tags: ['orders'],
        operationId: 'getOrder',
        summary: 'Get one order',
        params: OrderParams,
        response: { 200: OrderRef, 400: ErrorRef, 404: ErrorRef },
      },
    },
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
        tags: ['orders'],
        operationId: 'createOrder',
        summary: 'Place an order for an existing user (422 when the user does not exist)',
        body: CreateOrder,
        response: { 201: CreatedOrder, 400: ErrorRef, 422: ErrorRef, 503: ErrorRef },
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
    {
      schema: {
        tags: ['orders'],
        operationId: 'deleteOrder',
        summary: 'Delete an order',
        params: OrderParams,
        response: { 204: NoContent, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request, reply) => {
      if (!(await orders.remove(request.params.id))) throw orderNotFound(request.params.id)
      return reply.code(204).send(null)
    },
  )
}
