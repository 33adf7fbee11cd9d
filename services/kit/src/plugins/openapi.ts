import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { addCommonResponses, errorResponse, type CommonResponses, type OpenApiDocument } from '../openapi.ts'

export interface OpenApiOptions {
  readonly title: string
  readonly version: string
  readonly description?: string
  /** Tags of the document, with what each groups. Untagged routes (probes, metrics) stay out. */
  readonly tags?: readonly { readonly name: string; readonly description: string }[]
  /** Whether to serve the document at `/openapi.json` (default true; the gateway serves a merged one). */
  readonly serve?: boolean
}

/**
 * Error answers any operation of any service can give, whatever its route declares: the kit's
 * error handler, body parsing and load shedding produce them before or around the handler.
 */
const SERVICE_RESPONSES = {
  BadRequest: errorResponse('a parameter or the body does not match the schema; `field` names it'),
  PayloadTooLarge: errorResponse('the body is larger than BODY_LIMIT_BYTES'),
  UnsupportedMediaType: errorResponse('the body is not JSON'),
  RequestTimeout: errorResponse('the whole request did not arrive within 30 s'),
  UriTooLong: errorResponse('a path segment is longer than the router takes (200 characters)'),
  HeadersTooLarge: errorResponse("the request's headers are larger than Node takes"),
  InternalError: errorResponse('an unexpected failure; the message points at the service log'),
  Unavailable: errorResponse('overloaded (with Retry-After) or a dependency cannot answer', {
    'retry-after': { $ref: '#/components/headers/RetryAfter' },
  }),
} as const

const SERVICE_COMMON: CommonResponses = {
  always: { 400: 'BadRequest', 408: 'RequestTimeout', 414: 'UriTooLong', 431: 'HeadersTooLarge', 500: 'InternalError', 503: 'Unavailable' },
  withBody: { 413: 'PayloadTooLarge', 415: 'UnsupportedMediaType' },
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's own OpenAPI document, as `/openapi.json` serves it. */
    openapi(): OpenApiDocument
  }
}

/**
 * Describes the service's tagged routes with `@fastify/swagger` (OpenAPI 3.1) from their own
 * schemas, and serves the document at `/openapi.json`. Schemas registered with `addSchema`
 * become `components.schemas` under their `$id`.
 */
async function openapiPlugin(app: FastifyInstance, options: OpenApiOptions) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: options.title,
        version: options.version,
        ...(options.description === undefined ? {} : { description: options.description }),
      },
      tags: (options.tags ?? []).map((tag) => ({ ...tag })),
    },
    hideUntagged: true,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `schema-${i}`) },
    transformObject: (documents) =>
      addCommonResponses(
        ('openapiObject' in documents ? documents.openapiObject : {}) as OpenApiDocument,
        SERVICE_RESPONSES,
        SERVICE_COMMON,
      ),
  })
  let document: OpenApiDocument | undefined
  // Built once: the routes cannot change after the instance is ready.
  app.decorate('openapi', () => (document ??= app.swagger() as unknown as OpenApiDocument))
  if (options.serve === false) return
  app.get('/openapi.json', { logLevel: 'warn', config: { rateLimit: false, loadShedding: false } }, async () => app.openapi())
}

export default fp(openapiPlugin, { name: 'platform-openapi', fastify: '5.x' })
