import type { Queryable } from '@platform/kit'

export interface User {
  readonly id: number
  readonly name: string
  readonly email: string
  /** ISO 8601. */
  readonly createdAt: string
}

export interface NewUser {
  readonly name: string
  readonly email: string
}

export type UserChanges = Partial<NewUser>

export interface Page {
  readonly limit: number
  readonly offset: number
}

/** The email is taken by another user, compared case-insensitively. */
export class EmailTakenError extends Error {
  override readonly name = 'EmailTakenError'
}

export interface UserRepository {
  /** One page ordered by id, and how many users there are in all. */
  list(page: Page): Promise<{ users: User[]; total: number }>
  get(id: number): Promise<User | undefined>
  /** @throws EmailTakenError */
  create(user: NewUser): Promise<User>
  /** Undefined when there is no such user. @throws EmailTakenError */
  update(id: number, changes: UserChanges): Promise<User | undefined>
  /** False when there was no such user. */
  remove(id: number): Promise<boolean>
}

interface UserRow {
  id: number
  name: string
  email: string
  created_at: Date | string
}

const COLUMNS = 'id, name, email, created_at'

const toUser = (row: UserRow): User => ({
  id: row.id,
  name: row.name,
  email: row.email,
  createdAt: new Date(row.created_at).toISOString(),
})

// Both engines report a unique index violation with SQLSTATE 23505; the email index is the only
// unique constraint a client can hit (ids come from the identity column).
const isUniqueViolation = (error: unknown) => (error as { code?: unknown } | null)?.code === '23505'

async function guardEmail<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (isUniqueViolation(error)) throw new EmailTakenError('email is already in use', { cause: error })
    throw error
  }
}

/** All of user-service's SQL: plain parameterised statements that run on PostgreSQL and PGlite. */
export function userRepository(db: Queryable): UserRepository {
  return {
    async list({ limit, offset }) {
      const [page, count] = await Promise.all([
        db.query<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2`, [limit, offset]),
        // count(*) is bigint, which the two engines return differently (string, BigInt).
        db.query<{ total: number }>('SELECT count(*)::integer AS total FROM users'),
      ])
      return { users: page.rows.map(toUser), total: count.rows[0]?.total ?? 0 }
    },

    async get(id) {
      const result = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id])
      const row = result.rows[0]
      return row === undefined ? undefined : toUser(row)
    },

    async create({ name, email }) {
      const result = await guardEmail(
        db.query<UserRow>(`INSERT INTO users (name, email) VALUES ($1, $2) RETURNING ${COLUMNS}`, [name, email]),
      )
      return toUser(result.rows[0]!)
    },

    async update(id, { name, email }) {
      const result = await guardEmail(
        db.query<UserRow>(`UPDATE users SET name = coalesce($2, name), email = coalesce($3, email) WHERE id = $1 RETURNING ${COLUMNS}`, [
          id,
          name ?? null,
          email ?? null,
        ]),
      )
      const row = result.rows[0]
      return row === undefined ? undefined : toUser(row)
    },

    async remove(id) {
      const result = await db.query('DELETE FROM users WHERE id = $1', [id])
      return result.rowCount > 0
    },
  }
}
