/** An OpenAPI 3.1 document, as plain JSON: only the parts read or written here are typed. */
export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string; description?: string }
  paths: Record<string, Record<string, Operation>>
  components: {
    schemas?: Record<string, unknown>
    headers?: Record<string, unknown>
    responses?: Record<string, unknown>
  }
  tags?: { name: string; description?: string }[]
  [key: string]: unknown
}

export interface Operation {
  operationId?: string
  tags?: string[]
  parameters?: { in: string; name: string; required?: boolean; schema?: { default?: unknown } }[]
  requestBody?: unknown
  responses: Record<string, ResponseObject | { $ref: string }>
  [key: string]: unknown
}

interface ResponseObject {
  description: string
  headers?: Record<string, unknown>
  content?: Record<string, unknown>
}

const ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } }

/** The header of every list: the rows that match across all pages. */
export const TOTAL_COUNT_HEADER = { type: 'integer', minimum: 0, description: 'how many rows match, across all pages' } as const

/** Headers every service may send, by the name the document refers to them with. */
export const COMMON_HEADERS = {
  RequestId: {
    description: "the request id (the client's `x-request-id` when it sent one): it finds the request in every service's log",
    schema: { type: 'string' },
  },
  RetryAfter: { description: 'seconds to wait before retrying', schema: { type: 'string', pattern: '^[0-9]+$' } },
} as const

/** Which of `responses` every operation gets (by status code), and which only those with a body. */
export interface CommonResponses {
  readonly always: Readonly<Record<string, string>>
  readonly withBody: Readonly<Record<string, string>>
}

/** A response with the common error body and `x-request-id`, plus `headers`. */
export function errorResponse(description: string, headers: Record<string, unknown> = {}) {
  return {
    description,
    headers: { 'x-request-id': { $ref: '#/components/headers/RequestId' }, ...headers },
    content: ERROR_CONTENT,
  }
}

const STATUS_DESCRIPTIONS: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'a parameter or the body does not match the schema; `field` names it',
  404: 'no such resource; `field` names the id',
  409: 'conflicts with a stored row; `field` names the field',
  422: 'refers to a row that does not exist; `field` names it',
}

/**
 * Adds `responses` to `document` (under components) and to every operation that does not
 * already declare the status code, and `x-request-id` to every response an operation declares.
 * A query parameter or body property with a default is optional, whatever the schema's
 * `required` says: the server fills it in (Ajv's `useDefaults`).
 */
export function addCommonResponses(
  document: OpenApiDocument,
  responses: Readonly<Record<string, unknown>>,
  common: CommonResponses,
): OpenApiDocument {
  const used = new Set<string>()
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query' && parameter.schema?.default !== undefined) parameter.required = false
      }
      for (const media of Object.values(
        (operation.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content ?? {},
      )) {
        optionalDefaults(media.schema)
      }
      for (const [status, response] of Object.entries(operation.responses)) {
        if ('$ref' in response) continue
        // @fastify/swagger's placeholder when the schema has no description of its own.
        if (response.description === 'Default Response') response.description = STATUS_DESCRIPTIONS[status] ?? response.description
        response.headers = { 'x-request-id': { $ref: '#/components/headers/RequestId' }, ...response.headers }
      }
      const added = operation.requestBody === undefined ? common.always : { ...common.always, ...common.withBody }
      for (const [status, name] of Object.entries(added)) {
        const declared = operation.responses[status]
        if (declared === undefined) {
          operation.responses[status] = { $ref: `#/components/responses/${name}` }
          used.add(name)
        } else if (!('$ref' in declared)) {
          // The route's own description stands; the headers any such answer may carry are added.
          declared.headers = { ...(responses[name] as ResponseObject | undefined)?.headers, ...declared.headers }
        }
      }
      operation.responses = sortedByStatus(operation.responses)
    }
  }
  document.components.headers = { ...COMMON_HEADERS, ...document.components.headers }
  // Only what an operation refers to: an unused component is noise to a reader (and to linters).
  const usedResponses = Object.entries(responses).filter(([name]) => used.has(name))
  if (usedResponses.length > 0) document.components.responses = { ...document.components.responses, ...Object.fromEntries(usedResponses) }
  return document
}

/** Drops from `required` the properties that have a default, in `schema` and the objects below it. */
function optionalDefaults(schema: unknown): void {
  if (typeof schema !== 'object' || schema === null) return
  const object = schema as { properties?: Record<string, { default?: unknown }>; required?: string[] }
  if (object.properties !== undefined) {
    if (object.required !== undefined) object.required = object.required.filter((name) => object.properties?.[name]?.default === undefined)
    for (const property of Object.values(object.properties)) optionalDefaults(property)
  }
}

function sortedByStatus<T>(responses: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)))
}
