// Checks requests and answers against an OpenAPI 3.1 document with Ajv (JSON Schema 2020-12,
// the dialect 3.1 uses): the contract suites' own oracle, for what Prism cannot see (requests
// meant to be refused, which Prism would refuse before they reach the gateway).
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import type { OpenApiDocument, Operation } from '@platform/kit'

// ajv-formats is CommonJS: its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

export interface Parameter {
  readonly in: string
  readonly name: string
  readonly required?: boolean
  readonly schema: Record<string, unknown>
}

export interface ResponseObject {
  readonly description: string
  readonly headers?: Record<string, { required?: boolean; schema?: Record<string, unknown>; $ref?: string }>
  readonly content?: Record<string, { schema: Record<string, unknown> }>
}

export interface OperationEntry {
  readonly method: string
  /** `/users/{id}` */
  readonly template: string
  readonly operation: Operation
  readonly parameters: readonly Parameter[]
}

export interface Contract {
  readonly document: OpenApiDocument
  readonly operations: readonly OperationEntry[]
  /** The operation serving `method` and a concrete `path` (no query string), if the document has one. */
  find(method: string, path: string): OperationEntry | undefined
  /** Why `body` is not a valid request body of `entry`; undefined when it is. */
  requestProblem(entry: OperationEntry, body: unknown): string | undefined
  /** Why the answer is not one the document allows for `entry`; undefined when it is. */
  answerProblem(entry: OperationEntry, status: number, headers: Headers, body: string): string | undefined
  /** The response object for `status`, with `$ref`s resolved. */
  response(entry: OperationEntry, status: number): ResponseObject | undefined
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch']

/** `#/components/schemas/User` → `openapi#/components/schemas/User`, so Ajv resolves it in the document it holds. */
function rebased(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebased)
  if (typeof schema !== 'object' || schema === null) return schema
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#') ? `openapi${value}` : rebased(value),
    ]),
  )
}

export function contract(document: OpenApiDocument): Contract {
  const ajv = new Ajv2020({ strict: false, allErrors: false })
  addFormats(ajv)
  ajv.addSchema({ $id: 'openapi', components: rebased({ schemas: document.components.schemas ?? {} }) })
  const cache = new Map<object, ValidateFunction>()
  const validator = (schema: Record<string, unknown>) => {
    let validate = cache.get(schema)
    if (validate === undefined) cache.set(schema, (validate = ajv.compile(rebased(schema) as object)))
    return validate
  }
  const problem = (validate: ValidateFunction, value: unknown, what: string) =>
    validate(value) ? undefined : `${what}: ${ajv.errorsText(validate.errors)}`

  const operations: OperationEntry[] = []
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method]
      if (operation !== undefined) {
        operations.push({ method: method.toUpperCase(), template, operation, parameters: (operation.parameters ?? []) as Parameter[] })
      }
    }
  }
  const matchers = operations.map((entry) => ({
    entry,
    pattern: new RegExp(`^${entry.template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
  }))

  const resolveResponse = (response: unknown): ResponseObject | undefined => {
    const ref = (response as { $ref?: string } | undefined)?.$ref
    if (ref === undefined) return response as ResponseObject | undefined
    return document.components.responses?.[ref.split('/').pop()!] as ResponseObject | undefined
  }
  const resolveHeader = (header: NonNullable<ResponseObject['headers']>[string]) => {
    if (header.$ref === undefined) return header
    return document.components.headers?.[header.$ref.split('/').pop()!] as typeof header
  }

  const response = (entry: OperationEntry, status: number) =>
    resolveResponse(entry.operation.responses[String(status)] ?? entry.operation.responses[`${String(status)[0]}XX`])

  return {
    document,
    operations,
    response,
    find(method, path) {
      // The most specific template first: `/users/{id}/orders` is not `/users/{id}`.
      const candidates = matchers.filter(({ entry, pattern }) => entry.method === method && pattern.test(path))
      return candidates.sort((a, b) => b.entry.template.length - a.entry.template.length)[0]?.entry
    },
    requestProblem(entry, body) {
      const schema = (entry.operation.requestBody as { content?: Record<string, { schema: Record<string, unknown> }> } | undefined)
        ?.content?.['application/json']?.schema
      if (schema === undefined) return body === undefined ? undefined : 'the operation takes no body'
      return problem(validator(schema), body, 'request body')
    },
    answerProblem(entry, status, headers, body) {
      const declared = response(entry, status)
      if (declared === undefined) return `status ${status} is not declared for ${entry.method} ${entry.template}`
      for (const [name, raw] of Object.entries(declared.headers ?? {})) {
        const header = resolveHeader(raw)
        const value = headers.get(name)
        if (value === null) {
          if (header.required === true) return `header ${name} is required on ${status}`
          continue
        }
        const schema = header.schema ?? {}
        const typed = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value
        const wrong = problem(validator(schema), typed, `header ${name}=${value}`)
        if (wrong !== undefined) return wrong
      }
      const media = declared.content?.['application/json']
      if (media === undefined) return body === '' ? undefined : `status ${status} declares no body, got ${body.slice(0, 200)}`
      if (!(headers.get('content-type') ?? '').startsWith('application/json'))
        return `content-type ${headers.get('content-type')} on ${status}`
      let parsed: unknown
      try {
        parsed = JSON.parse(body)
      } catch {
        return `not JSON: ${body.slice(0, 200)}`
      }
      return problem(validator(media.schema), parsed, `${status} body ${body.slice(0, 200)}`)
    },
  }
}
