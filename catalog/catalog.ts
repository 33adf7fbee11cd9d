// The app services, listed once (services.json), validated on load and read through the helpers
// below by the infrastructure model, the stack config schema, the scripts and the tests. Shell
// scripts, the image build and the CI workflow read the JSON file directly.
//
// Every helper takes the catalog as its last parameter, the repository's by default, so a test
// can hand in a modified copy (a fourth service) without touching the file.
import { readFileSync } from 'node:fs'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'

/** A catalog problem: one line naming the entry and the field. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError'
}

/** A service name is its folder under services/, its Consul name and its image name. */
const NAME = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$'
/** PostgreSQL identifiers the platform creates unquoted. */
const IDENTIFIER = '^[a-z_][a-z0-9_]{0,62}$'

const entrySchema = Type.Object(
  {
    name: Type.String({ pattern: NAME, expected: 'a lowercase folder name under services/, like audit-service' }),
    port: Type.Integer({ minimum: 1024, maximum: 65_535, expected: 'an integer port from 1024 to 65535' }),
    kind: Type.Union([Type.Literal('edge'), Type.Literal('internal')], {
      expected: 'edge (published through Traefik, with a routerRule) or internal',
    }),
    database: Type.Optional(
      Type.Object(
        {
          name: Type.String({ pattern: IDENTIFIER, expected: 'a PostgreSQL identifier like audit' }),
          role: Type.String({ pattern: IDENTIFIER, expected: 'a PostgreSQL identifier like audit_service' }),
        },
        { additionalProperties: false },
      ),
    ),
    calls: Type.Array(Type.String({ pattern: NAME }), { expected: 'a list of service names' }),
    routerRule: Type.Optional(Type.String({ minLength: 1, expected: 'a Traefik router rule' })),
  },
  { additionalProperties: false },
)

export type CatalogEntry = Static<typeof entrySchema>
/** The services in start order: a service comes after every service it calls. */
export type Catalog = readonly CatalogEntry[]

const CATALOG_FILE = new URL('./services.json', import.meta.url)

/** Reads and validates a catalog file; throws a CatalogError naming the first bad entry and field. */
export function loadCatalog(file: URL | string = CATALOG_FILE): Catalog {
  const source = String(file instanceof URL ? file.pathname.split('/').slice(-2).join('/') : file)
  let value: unknown
  try {
    value = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new CatalogError(`${source}: ${(error as Error).message}`)
  }
  return validateCatalog(value, source)
}

/** Checks a catalog's shape and its cross-references; returns it typed, or throws a CatalogError. */
export function validateCatalog(value: unknown, source = 'catalog'): Catalog {
  if (!Array.isArray(value) || value.length === 0) throw new CatalogError(`${source}: must be a non-empty list of services`)
  const seen = new Map<string, CatalogEntry>()
  value.forEach((entry: unknown, index) => {
    const label = entryLabel(entry, index)
    const error = Value.Errors(entrySchema, entry)[0] as SchemaError | undefined
    if (error !== undefined) throw new CatalogError(`${source}: ${label}${describe(error, entry)}`)
    const service = entry as CatalogEntry
    const clash = [...seen.values()].find((other) => other.name === service.name || other.port === service.port)
    if (clash !== undefined) {
      const field = clash.name === service.name ? 'name' : 'port'
      throw new CatalogError(`${source}: ${label}.${field}=${JSON.stringify(service[field])}: already taken by entry ${clash.name}`)
    }
    service.calls.forEach((callee, position) => {
      if (!seen.has(callee)) {
        const why =
          callee === service.name
            ? 'a service cannot call itself'
            : value.some((other: { name?: unknown }) => other?.name === callee)
              ? 'must be listed before its caller (the order is the start order)'
              : 'not a service of the catalog'
        throw new CatalogError(`${source}: ${label}.calls[${position}]=${JSON.stringify(callee)}: ${why}`)
      }
    })
    if ((service.kind === 'edge') !== (service.routerRule !== undefined)) {
      throw new CatalogError(
        `${source}: ${label}.routerRule: ${service.kind === 'edge' ? 'an edge service needs the Traefik router rule it is published under' : 'only an edge service is published, so only it has a routerRule'}`,
      )
    }
    const sharedDatabase = [...seen.values()].find(
      (other) =>
        other.database !== undefined && (other.database.name === service.database?.name || other.database.role === service.database?.role),
    )
    if (sharedDatabase !== undefined)
      throw new CatalogError(
        `${source}: ${label}.database: its name and role must differ from ${sharedDatabase.name}'s (each service owns its database)`,
      )
    seen.set(service.name, service)
  })
  return value as Catalog
}

/** The repository's catalog, catalog/services.json. */
export const CATALOG: Catalog = loadCatalog()

/** The service names, in start order. */
export function serviceNames(catalog: Catalog = CATALOG): string[] {
  return catalog.map((service) => service.name)
}

/** One entry by name; throws when the catalog has no such service. */
export function catalogEntry(name: string, catalog: Catalog = CATALOG): CatalogEntry {
  const entry = catalog.find((service) => service.name === name)
  if (entry === undefined) throw new CatalogError(`${name} is not a service of the catalog (${serviceNames(catalog).join(', ')})`)
  return entry
}

/** The services that call `name`. */
export function callersOf(name: string, catalog: Catalog = CATALOG): string[] {
  return catalog.filter((service) => service.calls.includes(name)).map((service) => service.name)
}

/** The services published at the edge. */
export function edgeServices(catalog: Catalog = CATALOG): CatalogEntry[] {
  return catalog.filter((service) => service.kind === 'edge')
}

/**
 * The variable a caller reads a service's static instance list from when Consul is not
 * configured (the kit's upstream convention): `user-service` → `USER_SERVICE_URLS`.
 */
export function upstreamUrlsVariable(name: string): string {
  return `${name.toUpperCase().replace(/-/g, '_')}_URLS`
}

interface SchemaError {
  readonly keyword: string
  readonly instancePath: string
  readonly message: string
  readonly params: Record<string, unknown>
}

function entryLabel(entry: unknown, index: number): string {
  const name = (entry as { name?: unknown } | null)?.name
  return typeof name === 'string' && name !== '' ? `entry ${name}` : `entry [${index}]`
}

/** `.port=80: must be an integer port from 1024 to 65535`, from the first schema error. */
function describe(error: SchemaError, entry: unknown): string {
  const segments = error.instancePath.split('/').slice(1)
  const path = segments.map((segment) => (/^[0-9]+$/.test(segment) ? `[${segment}]` : `.${segment}`)).join('')
  // typebox reports an unknown field either way, depending on the schema's compilation.
  if (error.keyword === 'additionalProperties' || error.message === 'schema is false') {
    const field =
      error.keyword === 'additionalProperties' ? [...segments, String((error.params.additionalProperties as unknown[])[0])] : segments
    const known = Object.keys(schemaAt(field.slice(0, -1))?.properties ?? {}).join(', ')
    return `${field.map((segment) => `.${segment}`).join('')}: not a catalog field (${known})`
  }
  if (error.keyword === 'required') {
    const missing = String((error.params.requiredProperties as unknown[] | undefined)?.[0] ?? '')
    return `${path}.${missing}: is required`
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return ': must be an object'
  const expected = schemaAt(segments)?.expected
  let got: unknown = entry
  for (const segment of segments) got = (got as Record<string, unknown> | undefined)?.[segment]
  return `${path}=${JSON.stringify(got)}: ${expected === undefined ? error.message : `must be ${expected}`}`
}

interface Described {
  readonly expected?: string
  readonly properties?: Record<string, Described>
  readonly items?: Described
}

function schemaAt(segments: readonly string[]): Described | undefined {
  let schema: Described | undefined = entrySchema as unknown as Described
  for (const segment of segments) schema = /^[0-9]+$/.test(segment) ? schema?.items : schema?.properties?.[segment]
  return schema
}
