import { HttpError, type App } from '@platform/kit'
import { EmailTakenError, userRepository } from '../../repository.ts'
import {
  CreatedUser,
  CreateUser,
  ErrorRef,
  NoContent,
  PageQuery,
  UpdateUser,
  User,
  UserPage,
  UserParams,
  UserRef,
} from '../../schemas/users.ts'

const userNotFound = (id: number) => new HttpError(404, `user ${id} not found`, 'params.id')

/** Rethrows a taken email as 409; anything else unchanged. */
function conflictOnTakenEmail(email: string | undefined) {
  return (error: unknown): never => {
    if (error instanceof EmailTakenError) throw new HttpError(409, `email ${email ?? ''} is already in use`, 'body.email')
    throw error
  }
}

/** `/users`: thin handlers over the repository; validation lives in the schemas. */
export default async function userRoutes(app: App) {
  app.addSchema(User)
  const users = userRepository(app.db)

  app.get(
    '/users',
    {
      schema: {
        tags: ['users'],
        operationId: 'listUsers',
        summary: 'List users, a page at a time',
        querystring: PageQuery,
        response: { 200: UserPage, 400: ErrorRef },
      },
    },
    async (request, reply) => {
      const { users: page, total } = await users.list(request.query)
      reply.header('x-total-count', total)
      return page
    },
  )

  app.get(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        operationId: 'getUser',
        summary: 'Get one user',
        params: UserParams,
        response: { 200: UserRef, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const user = await users.get(request.params.id)
      if (user === undefined) throw userNotFound(request.params.id)
      return user
    },
  )

  app.post(
    '/users',
    {
      schema: {
        tags: ['users'],
        operationId: 'createUser',
        summary: 'Create a user (409 when the email is taken, whatever its case)',
        body: CreateUser,
        response: { 201: CreatedUser, 400: ErrorRef, 409: ErrorRef },
      },
    },
    async (request, reply) => {
      const { name, email } = request.body
      const user = await users.create({ name: name.trim(), email }).catch(conflictOnTakenEmail(email))
      return reply.code(201).header('location', `/users/${user.id}`).send(user)
    },
  )

  app.patch(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        operationId: 'updateUser',
        summary: "Change a user's name or email",
        params: UserParams,
        body: UpdateUser,
        response: { 200: UserRef, 400: ErrorRef, 404: ErrorRef, 409: ErrorRef },
      },
    },
    async (request) => {
      const { name, email } = request.body
      const user = await users.update(request.params.id, { name: name?.trim(), email }).catch(conflictOnTakenEmail(email))
      if (user === undefined) throw userNotFound(request.params.id)
      return user
    },
  )

  app.delete(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        operationId: 'deleteUser',
        summary: 'Delete a user',
        params: UserParams,
        response: { 204: NoContent, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request, reply) => {
      if (!(await users.remove(request.params.id))) throw userNotFound(request.params.id)
      return reply.code(204).send(null)
    },
  )
}
