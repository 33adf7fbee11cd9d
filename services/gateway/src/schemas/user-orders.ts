import { TOTAL_COUNT_HEADER } from '@platform/kit'
import Type, { type Static } from 'typebox'

/** A user as user-service returns it. */
export const User = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  email: Type.String(),
  createdAt: Type.String(),
})

/** An order as order-service returns it. */
export const Order = Type.Object({
  id: Type.Integer(),
  userId: Type.Integer(),
  item: Type.String(),
  price: Type.Number(),
  quantity: Type.Integer(),
  createdAt: Type.String(),
})

export const UserWithOrders = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    email: Type.String(),
    createdAt: Type.String(),
    orders: Type.Array(Order, { description: "one page of the user's orders, by id" }),
  },
  { headers: { 'x-total-count': { ...TOTAL_COUNT_HEADER, description: 'how many orders the user has, across all pages' } } },
)

export const UserIdParams = Type.Object(
  { id: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'user id' }) },
  { additionalProperties: false },
)

/** The page of orders, as order-service's list takes it. */
export const OrdersPageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
    offset: Type.Integer({ minimum: 0, maximum: 2_147_483_647, default: 0 }),
  },
  { additionalProperties: false },
)

export type User = Static<typeof User>
export type Order = Static<typeof Order>
