import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { answerNoRoute, describeValidation, ErrorBody, HttpError, poisonedKey, STATUS_TEXT, type ValidationIssue } from '../errors.ts'

/** How long the rest of a body over the limit is read (and discarded) after the 413. */
const BODY_DRAIN_MS = 10_000

/**
 * One error format for every answer a route gives: `ErrorBody` as a shared schema, validation
 * errors naming the field, 5xx details kept in the log, a JSON-only body parser that names a
 * prototype-poisoning key, and the common 404.
 */
function errorsPlugin(app: FastifyInstance) {
  app.addSchema(ErrorBody)

  // A JSON body with a prototype-poisoning key is refused as Fastify's parser does, but as a
  // validation error naming the key rather than "not valid JSON".
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string
    parseJson(request, text, (error: Error | null, value?: unknown) => {
      if (error === null) return done(null, value)
      const field = poisonedKey(text)
      done(field === undefined ? error : new HttpError(400, `${field} is not allowed`, field), undefined)
    })
  })
  // Bodies are JSON: the README promises 415 for anything else, text included.
  app.removeContentTypeParser('text/plain')

  app.setErrorHandler((error: FastifyError & { field?: string }, request, reply) => {
    if (error.validation && error.validation.length > 0) {
      const { field, message } = describeValidation(error.validationContext ?? 'request', error.validation[0] as ValidationIssue)
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `${field} ${message}`, field })
    }
    const statusCode = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    if (statusCode >= 500 && statusCode !== 503) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(statusCode).send({
        statusCode,
        error: STATUS_TEXT[statusCode] ?? 'Error',
        message: 'Internal error; see the service log with this request id',
      })
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // Fastify asks for the connection to close, as the client may still be sending. Closing
      // with unread bytes makes the kernel reset the connection, and a client still uploading
      // (a chunked body past the limit) then often gets a write error (EPIPE) instead of this
      // 413. Kept open, Node reads and discards the rest of the body, as it does for every
      // request answered before its body was read; a client still sending after
      // BODY_DRAIN_MS has its connection closed.
      reply.removeHeader('connection')
      const raw = request.raw
      setTimeout(() => {
        if (!raw.complete) raw.socket.destroy()
      }, BODY_DRAIN_MS).unref()
    }
    // Our own HttpErrors are expected answers (a shed request, a missing user): their message
    // says it all, and a stack trace per request would flood the log exactly when it is busiest.
    const expected = error instanceof HttpError || statusCode < 500
    if (statusCode >= 500) request.log.warn({ err: expected ? { message: error.message } : error }, 'request rejected')
    else request.log.info({ err: { message: error.message, code: error.code } }, 'request rejected')
    // 4xx and 503 messages are written for clients: ours name the field or id, Fastify's
    // name the problem (FST_ERR_CTP_INVALID_JSON_BODY, FST_ERR_CTP_BODY_TOO_LARGE, ...).
    const body: Record<string, unknown> = { statusCode, error: STATUS_TEXT[statusCode] ?? 'Error', message: error.message }
    if (error.field !== undefined) body.field = error.field
    return reply.code(statusCode).send(body)
  })

  app.setNotFoundHandler(answerNoRoute)
}

export default fp(errorsPlugin, { name: 'platform-errors', fastify: '5.x' })
