// Schema-driven fuzzing of the public API: fast-check arbitraries derived from the gateway's own
// /openapi.json (so from the services' route schemas) generate requests for every operation,
// valid ones and broken ones, sent straight to the gateway (Prism would refuse the broken ones
// before they arrive). Every answer must be below 500 and one the document allows, and a
// refused request must leave both tables exactly as they were.
import type { OpenApiDocument } from '@platform/kit'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { contract, type Contract, type OperationEntry } from '../support/openapi.ts'
import { startPlatform, type Platform } from '../support/platform.ts'

/**
 * Requests per run, and the bound on the run's duration: whichever comes first ends it.
 * FUZZ_RUNS asks for more (or fewer) requests; FUZZ_SEED replays the run that printed it.
 */
const RUNS = positiveInteger('FUZZ_RUNS') ?? 3000
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
const TIME_LIMIT_MS = 150_000
/** Fewer than this many requests (a very slow machine) fails the run rather than passing vacuously. */
const AT_LEAST = 1000

function positiveInteger(name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${JSON.stringify(raw)}: must be a positive integer`)
  return value
}

type Schema = {
  type?: string
  $ref?: string
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  enum?: unknown[]
  default?: unknown
}

interface FuzzRequest {
  readonly entry: OperationEntry
  readonly path: string
  /** A JSON value, or raw text when `raw` is set (malformed or non-JSON bodies). */
  readonly body?: unknown
  readonly raw?: string
  readonly contentType?: string
}

const INT32 = 2_147_483_647
/** Creations outweigh deletions, so the rows the other operations look for keep existing. */
const WEIGHTS: Record<string, number> = { POST: 4, GET: 2, PATCH: 2, DELETE: 1 }
// A few common words among the random ones, so emails collide (409) now and then.
const word = fc.oneof(
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z][a-z0-9]{0,11}$/) },
  { weight: 1, arbitrary: fc.constantFrom('ada', 'bob', 'mail') },
)

/** Values the schema accepts (as far as its keywords say; a handler may still refuse some). */
function validValue(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
  switch (schema.type) {
    case 'integer': {
      const min = schema.minimum ?? -INT32
      const max = schema.maximum ?? INT32
      // Small values hit rows that exist (ids up to what the run creates) and common cases; the
      // whole range covers the rest.
      return fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min, max: Math.min(max, min + 200) }) },
        { weight: 1, arbitrary: fc.integer({ min, max }) },
      )
    }
    case 'number': {
      const min = schema.minimum ?? -1e9
      const max = schema.maximum ?? 1e9
      return fc.oneof(
        fc.integer({ min: Math.ceil(min * 100), max: Math.floor(max * 100) }).map((cents) => cents / 100),
        fc.double({ min, max, noNaN: true, noDefaultInfinity: true }),
      )
    }
    case 'string': {
      // Now and then in capitals: emails are unique whatever their case.
      if (schema.format === 'email') {
        return fc.tuple(word, word, fc.boolean()).map(([user, domain, loud]) => `${loud ? user.toUpperCase() : user}@${domain}.example`)
      }
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((date) => date.toISOString())
      const text = fc.string({
        minLength: schema.minLength ?? 0,
        maxLength: Math.min(schema.maxLength ?? 40, 40),
        unit: fc.constantFrom('grapheme', 'grapheme-ascii', 'binary') as never,
      })
      const pattern = schema.pattern === undefined ? undefined : new RegExp(schema.pattern, 'u')
      return pattern === undefined ? text : text.filter((value) => pattern.test(value))
    }
    case 'boolean':
      return fc.boolean()
    case 'array':
      return fc.array(validValue(schema.items ?? {}), { maxLength: 3 })
    case 'object': {
      const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, property]) => [name, validValue(property)]))
      return fc.record(properties, { requiredKeys: (schema.required ?? []).filter((name) => name in properties) })
    }
    default:
      return fc.constant(null)
  }
}

/** Values the schema refuses, or that only the handler can judge, on the edges of each keyword. */
function invalidValue(schema: Schema): fc.Arbitrary<unknown> {
  const wrongType = fc.constantFrom<unknown>(null, true, [], {}, 'text', 12, -1.5)
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const edges: number[] = [1.005, 0.5, 1e21, -1e21]
      if (schema.minimum !== undefined) edges.push(schema.minimum - 1)
      if (schema.maximum !== undefined) edges.push(schema.maximum + 1)
      return fc.oneof(fc.constantFrom(...edges), fc.constantFrom('12', '1e400', 'NaN'), wrongType)
    }
    case 'string':
      return fc.oneof(
        fc.constantFrom('', ' ', '\t\n', 'a\u0000b', 'x\u007f', '\ud800', 'not-an-email', '@', 'a'.repeat((schema.maxLength ?? 200) + 1)),
        wrongType,
      )
    default:
      return wrongType
  }
}

/** A body for the operation: valid, or broken in one place (a missing, unknown or wrong property, or no JSON at all). */
function bodyFor(schema: Schema): fc.Arbitrary<Pick<FuzzRequest, 'body' | 'raw' | 'contentType'>> {
  const valid = validValue(schema) as fc.Arbitrary<Record<string, unknown>>
  const names = Object.keys(schema.properties ?? {})
  const broken: fc.Arbitrary<Pick<FuzzRequest, 'body' | 'raw' | 'contentType'>>[] = [
    valid.map((body) => ({ body: { ...body, admin: true } })),
    fc.constantFrom(
      { raw: '{"name": ', contentType: 'application/json' },
      { raw: '{"__proto__": {"admin": true}}', contentType: 'application/json' },
      { raw: '{"constructor": {"prototype": {}}}', contentType: 'application/json' },
      { raw: 'name=x', contentType: 'application/x-www-form-urlencoded' },
      { raw: 'plain', contentType: 'text/plain' },
      { raw: '[]', contentType: 'application/json' },
      { raw: 'null', contentType: 'application/json' },
    ),
  ]
  if (names.length > 0) {
    broken.push(
      fc.tuple(valid, fc.constantFrom(...names)).map(([body, name]) => ({
        body: Object.fromEntries(Object.entries(body).filter(([key]) => key !== name)),
      })),
      fc
        .constantFrom(...names)
        .chain((name) => fc.tuple(valid, fc.constant(name), invalidValue(schema.properties![name]!)))
        .map(([body, name, value]) => ({ body: { ...body, [name]: value } })),
    )
  }
  return fc.oneof({ weight: 3, arbitrary: valid.map((body) => ({ body })) }, { weight: 2, arbitrary: fc.oneof(...broken) })
}

const BAD_IDS = [
  '0',
  '-1',
  'abc',
  '1.5',
  '1e400',
  '2147483648',
  '99999999999999999999',
  '0x10',
  '+1',
  '01',
  '%20',
  'Infinity',
  '%E2%80%8B1',
]

/** A request for `entry`, from its parameters' and body's schemas. */
function requestFor(entry: OperationEntry): fc.Arbitrary<FuzzRequest> {
  const pathParams = entry.parameters.filter((parameter) => parameter.in === 'path')
  const queryParams = entry.parameters.filter((parameter) => parameter.in === 'query')
  const path = fc.tuple(
    ...pathParams.map((parameter) =>
      fc.oneof(
        { weight: 4, arbitrary: validValue(parameter.schema as Schema).map((value) => encodeURIComponent(String(value))) },
        { weight: 1, arbitrary: fc.constantFrom(...BAD_IDS) },
      ),
    ),
  )
  const query = fc.tuple(
    ...queryParams.map((parameter) =>
      fc.oneof(
        { weight: 2, arbitrary: fc.constant(undefined) },
        { weight: 3, arbitrary: validValue(parameter.schema as Schema).map(String) },
        {
          weight: 1,
          arbitrary: invalidValue(parameter.schema as Schema).map((value) => (typeof value === 'string' ? value : JSON.stringify(value))),
        },
      ),
    ),
  )
  const extraQuery = fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('limt=5') })
  const schema = (entry.operation.requestBody as { content?: { 'application/json'?: { schema: Schema } } } | undefined)?.content?.[
    'application/json'
  ]?.schema
  const body = schema === undefined ? fc.constant({}) : bodyFor(schema)
  return fc.tuple(path, query, extraQuery, body).map(([values, queryValues, extra, payload]) => {
    let resolved = entry.template
    pathParams.forEach((parameter, i) => (resolved = resolved.replace(`{${parameter.name}}`, values[i]!)))
    const search = new URLSearchParams()
    queryParams.forEach((parameter, i) => {
      if (queryValues[i] !== undefined) search.set(parameter.name, queryValues[i]!)
    })
    const queryString = [search.toString(), extra].filter(Boolean).join('&')
    return { entry, path: queryString === '' ? resolved : `${resolved}?${queryString}`, ...payload }
  })
}

/** Both tables, row by row: any write shows as a different fingerprint. */
async function fingerprint(platform: Platform): Promise<string> {
  const { rows } = await platform.database.query<{ users: string | null; orders: string | null }>(
    `select (select md5(string_agg(u::text, '|' order by u.id)) from users u) as users,
            (select md5(string_agg(o::text, '|' order by o.id)) from orders o) as orders`,
  )
  return `${rows[0]?.users}/${rows[0]?.orders}`
}

let platform: Platform
let api: Contract

beforeAll(async () => {
  platform = await startPlatform({ seed: true, gateway: { RATE_LIMIT_MAX: '1000000' } })
  api = contract((await (await fetch(`${platform.url}/openapi.json`)).json()) as OpenApiDocument)
})

afterAll(async () => {
  await platform?.close()
})

describe('schema-driven fuzzing through the gateway', () => {
  it(
    `answers ${RUNS} generated requests over every operation below 500, as the document says, writing nothing when it refuses`,
    async () => {
      const seen = new Map<string, Map<number, number>>()
      const failures: string[] = []
      const started = performance.now()
      const operations = fc.oneof(...api.operations.map((entry) => ({ weight: WEIGHTS[entry.method] ?? 1, arbitrary: requestFor(entry) })))
      const property = fc.asyncProperty(operations, async (request) => {
        const before = await fingerprint(platform)
        const headers: Record<string, string> = {}
        let body: string | undefined
        if (request.raw !== undefined) {
          body = request.raw
          headers['content-type'] = request.contentType ?? 'application/json'
        } else if (request.body !== undefined) {
          body = JSON.stringify(request.body)
          headers['content-type'] = 'application/json'
        }
        const response = await fetch(`${platform.url}${request.path}`, {
          method: request.entry.method,
          headers,
          ...(body === undefined ? {} : { body }),
        })
        const text = await response.text()
        const key = `${request.entry.method} ${request.entry.template}`
        const statuses = seen.get(key) ?? new Map<number, number>()
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        seen.set(key, statuses)

        const sent = `${request.entry.method} ${request.path} ${body ?? ''}`
        const problem =
          response.status >= 500
            ? `answered ${response.status}: ${text.slice(0, 200)}`
            : (api.answerProblem(request.entry, response.status, response.headers, text) ??
              (response.status >= 400 && (await fingerprint(platform)) !== before
                ? `answered ${response.status} but wrote a row`
                : undefined))
        if (problem !== undefined) failures.push(`${sent} → ${problem}`)
        return problem === undefined
      })
      const result = await fc.check(property, {
        numRuns: RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: false,
        endOnFailure: true,
        ...(SEED === undefined ? {} : { seed: SEED }),
      })
      const total = [...seen.values()].reduce((sum, statuses) => sum + [...statuses.values()].reduce((a, b) => a + b, 0), 0)
      const table = [...seen].map(
        ([operation, statuses]) =>
          `  ${operation.padEnd(24)} ${[...statuses]
            .sort(([a], [b]) => a - b)
            .map(([status, count]) => `${status}×${count}`)
            .join(' ')}`,
      )
      console.log(
        `fuzz: ${total} requests in ${Math.round(performance.now() - started)} ms (seed ${result.seed}), ${failures.length} failing\n${table.join('\n')}`,
      )

      expect(failures).toEqual([])
      expect(total).toBeGreaterThanOrEqual(Math.min(AT_LEAST, RUNS))
      // Every operation was exercised, and each answered both a success and a refusal.
      expect([...seen.keys()].sort()).toEqual(api.operations.map(({ method, template }) => `${method} ${template}`).sort())
      for (const [operation, statuses] of seen) {
        const codes = [...statuses.keys()]
        expect(
          codes.some((code) => code < 300),
          `${operation} never succeeded`,
        ).toBe(true)
        expect(
          codes.some((code) => code >= 400),
          `${operation} never refused`,
        ).toBe(true)
      }
    },
    TIME_LIMIT_MS + 60_000,
  )
})
