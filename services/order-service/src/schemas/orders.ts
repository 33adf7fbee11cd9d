import { PrintableText, TOTAL_COUNT_HEADER } from '@platform/kit'
import Type, { type Static } from 'typebox'

/** A PostgreSQL `integer` id: anything larger could never exist, so it is a 400, not a query. */
export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 })

export const Order = Type.Object(
  {
    id: Id,
    userId: Id,
    item: Type.String(),
    price: Type.Number(),
    quantity: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Order', additionalProperties: false },
)
export type Order = Static<typeof Order>

/** `Order` by reference, keeping its static type: routes share the one registered schema. */
export const OrderRef = Type.Unsafe<Order>(Type.Ref('Order'))

// Response headers, as @fastify/swagger reads them next to a response schema (documentation
// only: Fastify's serializer ignores them).
const Location = { type: 'string', description: 'path of the created order, e.g. /orders/3' }

export const OrderPage = Type.Array(OrderRef, {
  description: 'one page of orders, by id',
  headers: { 'x-total-count': TOTAL_COUNT_HEADER },
})
export const CreatedOrder = Type.Unsafe<Order>({
  ...Type.Ref('Order'),
  description: 'the order as stored',
  headers: { location: Location },
})
export const NoContent = Type.Null({ description: 'deleted' })

/** The kit's error body (`{statusCode, error, message, field?}`), registered by createService. */
export const ErrorRef = Type.Ref('ErrorBody')

export const OrderParams = Type.Object({ id: Id }, { additionalProperties: false })

export const OrderQuery = Type.Object(
  {
    userId: Type.Optional(Id),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
    offset: Type.Integer({ minimum: 0, maximum: 2_147_483_647, default: 0 }),
  },
  { additionalProperties: false },
)

export const CreateOrder = Type.Object(
  {
    userId: Id,
    item: PrintableText({ maxLength: 200, description: 'trimmed before it is stored', examples: ['Keyboard'] }),
    // At most two decimals is checked by the handler: Ajv's multipleOf 0.01 rejects 19.99
    // (19.99 / 0.01 is not an integer in floating point).
    price: Type.Number({ minimum: 0, maximum: 1_000_000_000, description: 'at most two decimals', examples: [89.5] }),
    quantity: Type.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
  },
  { additionalProperties: false },
)
