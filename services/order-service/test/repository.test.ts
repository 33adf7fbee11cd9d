import { expect } from 'vitest'
import { describeRepository } from '../../../test/support/repository-suite.ts'
import { SERVICE_NAME } from '../src/config.ts'
import { migrations } from '../src/migrations.ts'
import { orderRepository } from '../src/repository.ts'

describeRepository({ name: 'orderRepository', owner: SERVICE_NAME, migrations, seeded: { table: 'orders', rows: 2 } }, ({ it, db }) => {
  it('get returns the seeded orders with numeric ids, prices and quantities', async () => {
    const orders = orderRepository(db())

    const [laptop, phone] = await Promise.all([orders.get(1), orders.get(2)])

    expect(laptop).toEqual({
      id: 1,
      userId: 1,
      item: 'Laptop',
      price: 1200,
      quantity: 1,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    })
    expect(phone).toMatchObject({ id: 2, userId: 2, item: 'Phone', price: 800, quantity: 1 })
  })

  it('create keeps two decimals exactly and returns the stored order', async () => {
    const orders = orderRepository(db())

    const created = await orders.create({ userId: 3, item: 'Cable', price: 1234567890.99, quantity: 3 })

    expect(created).toMatchObject({ id: expect.any(Number), userId: 3, item: 'Cable', price: 1234567890.99, quantity: 3 })
    expect(await orders.get(created.id)).toEqual(created)
  })

  it('list filters by user, pages by id and counts the matches', async () => {
    const orders = orderRepository(db())
    const first = await orders.create({ userId: 9, item: 'A', price: 1, quantity: 1 })
    const second = await orders.create({ userId: 9, item: 'B', price: 2.5, quantity: 2 })

    const all = await orders.list({ userId: 9, limit: 10, offset: 0 })
    const page = await orders.list({ userId: 9, limit: 1, offset: 1 })
    const none = await orders.list({ userId: 10, limit: 10, offset: 0 })

    expect(all).toEqual({ orders: [first, second], total: 2 })
    expect(page).toEqual({ orders: [second], total: 2 })
    expect(none).toEqual({ orders: [], total: 0 })
  })

  it('list without a user returns every order, the seeded ones first', async () => {
    const { orders, total } = await orderRepository(db()).list({ limit: 2, offset: 0 })

    expect(orders.map((order) => order.item)).toEqual(['Laptop', 'Phone'])
    expect(total).toBeGreaterThanOrEqual(2)
  })

  it('the table refuses a negative price and a zero quantity', async () => {
    const orders = orderRepository(db())

    await expect(orders.create({ userId: 1, item: 'x', price: -1, quantity: 1 })).rejects.toMatchObject({ code: '23514' })
    await expect(orders.create({ userId: 1, item: 'x', price: 1, quantity: 0 })).rejects.toMatchObject({ code: '23514' })
  })

  it('remove deletes once and then reports false', async () => {
    const orders = orderRepository(db())
    const created = await orders.create({ userId: 1, item: 'Pen', price: 0, quantity: 1 })

    expect(await orders.remove(created.id)).toBe(true)
    expect(await orders.remove(created.id)).toBe(false)
  })
})
