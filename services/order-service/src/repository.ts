import type { Queryable } from '@platform/kit'

export interface Order {
  readonly id: number
  readonly userId: number
  readonly item: string
  readonly price: number
  readonly quantity: number
  /** ISO 8601. */
  readonly createdAt: string
}

export interface NewOrder {
  readonly userId: number
  readonly item: string
  readonly price: number
  readonly quantity: number
}

export interface OrderQuery {
  /** Only this user's orders, when given. */
  readonly userId?: number | undefined
  readonly limit: number
  readonly offset: number
}

export interface OrderRepository {
  /** One page ordered by id, and how many orders match in all. */
  list(query: OrderQuery): Promise<{ orders: Order[]; total: number }>
  get(id: number): Promise<Order | undefined>
  create(order: NewOrder): Promise<Order>
  /** False when there was no such order. */
  remove(id: number): Promise<boolean>
}

interface OrderRow {
  id: number
  user_id: number
  item: string
  price: number
  quantity: number
  created_at: Date | string
}

// numeric comes back as a string from both engines; float8 as a number. Two decimals of up to
// twelve digits survive the conversion exactly.
const COLUMNS = 'id, user_id, item, price::float8 AS price, quantity, created_at'

const toOrder = (row: OrderRow): Order => ({
  id: row.id,
  userId: row.user_id,
  item: row.item,
  price: row.price,
  quantity: row.quantity,
  createdAt: new Date(row.created_at).toISOString(),
})

/** All of order-service's SQL: plain parameterised statements that run on PostgreSQL and PGlite. */
export function orderRepository(db: Queryable): OrderRepository {
  return {
    async list({ userId, limit, offset }) {
      const filter = userId ?? null
      const [page, count] = await Promise.all([
        db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders WHERE ($1::integer IS NULL OR user_id = $1) ORDER BY id LIMIT $2 OFFSET $3`, [
          filter,
          limit,
          offset,
        ]),
        // count(*) is bigint, which the two engines return differently (string, BigInt).
        db.query<{ total: number }>('SELECT count(*)::integer AS total FROM orders WHERE ($1::integer IS NULL OR user_id = $1)', [filter]),
      ])
      return { orders: page.rows.map(toOrder), total: count.rows[0]?.total ?? 0 }
    },

    async get(id) {
      const result = await db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id])
      const row = result.rows[0]
      return row === undefined ? undefined : toOrder(row)
    },

    async create({ userId, item, price, quantity }) {
      const result = await db.query<OrderRow>(
        `INSERT INTO orders (user_id, item, price, quantity) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
        [userId, item, price, quantity],
      )
      return toOrder(result.rows[0]!)
    },

    async remove(id) {
      const result = await db.query('DELETE FROM orders WHERE id = $1', [id])
      return result.rowCount > 0
    },
  }
}
