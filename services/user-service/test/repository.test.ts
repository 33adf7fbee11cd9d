import { expect } from 'vitest'
import { describeRepository } from '../../../test/support/repository-suite.ts'
import { SERVICE_NAME } from '../src/config.ts'
import { migrations } from '../src/migrations.ts'
import { EmailTakenError, userRepository } from '../src/repository.ts'

describeRepository({ name: 'userRepository', owner: SERVICE_NAME, migrations, seeded: { table: 'users', rows: 2 } }, ({ it, db }) => {
  it('get returns the seeded users 1 and 2 with numeric ids and ISO timestamps', async () => {
    const users = userRepository(db())

    const [alice, bob] = await Promise.all([users.get(1), users.get(2)])

    expect(alice).toEqual({ id: 1, name: 'Alice', email: 'alice@example.com', createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) })
    expect(bob).toMatchObject({ id: 2, name: 'Bob', email: 'bob@example.com' })
  })

  it('get of a missing id returns undefined', async () => {
    expect(await userRepository(db()).get(2_147_483_647)).toBeUndefined()
  })

  it('create returns the stored user and list pages it with a numeric total', async () => {
    const users = userRepository(db())
    const created = await users.create({ name: 'Carol', email: 'carol@example.com' })

    const { users: page, total } = await users.list({ limit: 1, offset: 2 })

    expect(created).toMatchObject({ id: expect.any(Number), name: 'Carol', email: 'carol@example.com' })
    expect(page).toEqual([created])
    expect(total).toBe(3)
  })

  it('create with an email taken in another case throws EmailTakenError', async () => {
    await expect(userRepository(db()).create({ name: 'Al', email: 'Alice@EXAMPLE.com' })).rejects.toBeInstanceOf(EmailTakenError)
  })

  it('update changes only the given fields and returns undefined for a missing id', async () => {
    const users = userRepository(db())
    const created = await users.create({ name: 'Dave', email: 'dave@example.com' })

    const renamed = await users.update(created.id, { name: 'David' })
    const missing = await users.update(2_147_483_647, { name: 'x' })

    expect(renamed).toEqual({ ...created, name: 'David' })
    expect(missing).toBeUndefined()
  })

  it('update of a user to its own email in another case succeeds', async () => {
    const users = userRepository(db())
    const created = await users.create({ name: 'Gina', email: 'gina@example.com' })

    expect(await users.update(created.id, { email: 'GINA@example.com' })).toEqual({ ...created, email: 'GINA@example.com' })
  })

  it("update to another user's email throws EmailTakenError", async () => {
    const users = userRepository(db())
    const created = await users.create({ name: 'Erin', email: 'erin@example.com' })

    await expect(users.update(created.id, { email: 'BOB@example.com' })).rejects.toBeInstanceOf(EmailTakenError)
  })

  it('remove deletes once and then reports false', async () => {
    const users = userRepository(db())
    const created = await users.create({ name: 'Frank', email: 'frank@example.com' })

    expect(await users.remove(created.id)).toBe(true)
    expect(await users.remove(created.id)).toBe(false)
    expect(await users.get(created.id)).toBeUndefined()
  })
})
