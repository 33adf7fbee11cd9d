import { PrintableText, TOTAL_COUNT_HEADER } from '@platform/kit'
import Type, { type Static } from 'typebox'

/** A PostgreSQL `integer` id: anything larger could never exist, so it is a 400, not a query. */
export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 })

export const Name = PrintableText({ maxLength: 200, description: 'trimmed before it is stored', examples: ['Carol'] })
export const Email = Type.String({ format: 'email', maxLength: 254, examples: ['carol@example.com'] })

export const User = Type.Object(
  {
    id: Id,
    name: Type.String(),
    email: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'User', additionalProperties: false },
)
export type User = Static<typeof User>

/** `User` by reference, keeping its static type: routes share the one registered schema. */
export const UserRef = Type.Unsafe<User>(Type.Ref('User'))

// Response headers, as @fastify/swagger reads them next to a response schema (documentation
// only: Fastify's serializer ignores them).
const Location = { type: 'string', description: 'path of the created user, e.g. /users/3' }

export const UserPage = Type.Array(UserRef, { description: 'one page of users, by id', headers: { 'x-total-count': TOTAL_COUNT_HEADER } })
export const CreatedUser = Type.Unsafe<User>({ ...Type.Ref('User'), description: 'the user as stored', headers: { location: Location } })
export const NoContent = Type.Null({ description: 'deleted' })

/** The kit's error body (`{statusCode, error, message, field?}`), registered by createService. */
export const ErrorRef = Type.Ref('ErrorBody')

export const UserParams = Type.Object({ id: Id }, { additionalProperties: false })

export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
    offset: Type.Integer({ minimum: 0, maximum: 2_147_483_647, default: 0 }),
  },
  { additionalProperties: false },
)

export const CreateUser = Type.Object({ name: Name, email: Email }, { additionalProperties: false })

export const UpdateUser = Type.Object(
  { name: Type.Optional(Name), email: Type.Optional(Email) },
  { additionalProperties: false, minProperties: 1 },
)
