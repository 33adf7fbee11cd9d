import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'

// Through the CommonJS module rather than `import … from 'node:http'`: Node builds an ES module's
// view of node:http by reading every export, and its lazy WebSocket getters then load Node's
// bundled undici, ~50 ms of a service's start for a table of reason phrases.
const { STATUS_CODES } = process.getBuiltinModule('node:http')

/** The body of every error response, in every service. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'the offending field, as body.email or params.id' })),
  },
  { $id: 'ErrorBody', additionalProperties: false },
)

/** Reason phrases of the statuses the services answer with, where Node's differ or are missing. */
export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  // nginx's status for a client that left before its answer; nobody receives it, the log does.
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export interface ValidationIssue {
  readonly instancePath: string
  readonly keyword: string
  readonly message?: string
  readonly params: Record<string, unknown>
}

/**
 * Turns Ajv's first issue into `body.price must be >= 0`: the field is named with its
 * location, so a client knows what to fix without reading a schema.
 */
export function describeValidation(context: string, issue: ValidationIssue): { field: string; message: string } {
  const path = issue.instancePath.split('/').filter(Boolean).join('.')
  const base = path ? `${context}.${path}` : context
  switch (issue.keyword) {
    case 'required':
      return { field: `${base}.${String(issue.params.missingProperty)}`, message: 'is required' }
    case 'additionalProperties':
      return { field: `${base}.${String(issue.params.additionalProperty)}`, message: 'is not allowed' }
    case 'pattern':
      // The regular expression means nothing to a client.
      return { field: base, message: 'contains characters or a shape that is not allowed' }
    default:
      return { field: base, message: issue.message ?? 'is invalid' }
  }
}

/** The JSON text of an error body. */
function errorText(statusCode: number, message: string): string {
  return JSON.stringify({ statusCode, error: STATUS_TEXT[statusCode] ?? STATUS_CODES[statusCode] ?? 'Error', message })
}

/**
 * Fastify's `frameworkErrors`: a URL the router refuses before any route is found (bad
 * percent-encoding, a path segment over `maxParamLength`) gets the common body and its
 * `x-request-id`, and the URL is not echoed back.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const statusCode = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : error.code === 'FST_ERR_BAD_URL' ? 400 : 500
  const message =
    statusCode === 414
      ? 'a segment of the path is too long'
      : statusCode === 400
        ? 'the path is not valid percent-encoded UTF-8'
        : 'Internal error; see the service log with this request id'
  request.log.info({ err: { message: error.message, code: error.code } }, 'request rejected')
  reply.code(statusCode).header('x-request-id', request.id).type('application/json; charset=utf-8').send(errorText(statusCode, message))
}

const CLIENT_ERRORS: Record<string, { readonly statusCode: number; readonly message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { statusCode: 408, message: 'the request did not arrive in time' },
  HPE_HEADER_OVERFLOW: { statusCode: 431, message: 'the request line and headers are too large' },
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (malformed requests, a
 * malformed chunked body, oversized headers, a request that never finished arriving) never
 * reaches a route, so it is answered here, in the common format with an `x-request-id` that
 * the log line carries too, and the connection is closed.
 */
export function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const { statusCode, message } = CLIENT_ERRORS[error.code ?? ''] ?? { statusCode: 400, message: 'the request is not valid HTTP' }
  const id = randomUUID()
  this.log.info(
    { 'http.request.id': id, 'http.response.status_code': statusCode, err: { message: error.message, code: error.code } },
    'client error',
  )
  if (socket.writable) {
    const body = errorText(statusCode, message)
    socket.write(
      `HTTP/1.1 ${statusCode} ${STATUS_TEXT[statusCode]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${id}\r\nconnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}

/**
 * Where a JSON text holds a key that could poison a prototype, as `body.a.__proto__`:
 * `__proto__`, or `constructor` holding a `prototype` (the keys secure-json-parse refuses).
 * JSON.parse keeps such keys as plain own properties, so the text can be walked safely.
 */
export function poisonedKey(text: string): string | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  return findPoisoned(value, 'body')
}

function findPoisoned(value: unknown, path: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key]
    if (key === '__proto__') return `${path}.${key}`
    if (key === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype')) return `${path}.${key}`
    const found = findPoisoned(child, `${path}.${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

/** The 404 of a request that no route serves, in the common format. Also a route handler. */
export function answerNoRoute(request: FastifyRequest, reply: FastifyReply): void {
  reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route for ${request.method} ${request.url.split('?')[0]}` })
}

/** An error whose message is safe for clients; `field` names what was wrong. */
export class HttpError extends Error {
  readonly statusCode: number
  readonly field?: string
  constructor(statusCode: number, message: string, field?: string) {
    super(message)
    this.statusCode = statusCode
    if (field !== undefined) this.field = field
  }
}
