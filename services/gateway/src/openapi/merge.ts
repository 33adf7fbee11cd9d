import { isDeepStrictEqual } from 'node:util'
import { addCommonResponses, errorResponse, type OpenApiDocument } from '@platform/kit'

/** One service's own document and the path prefix the gateway forwards to it. */
export interface ServiceDocument {
  readonly service: string
  /** `/users`: the prefix itself and every path below it are public through the gateway. */
  readonly prefix: string
  readonly document: OpenApiDocument
}

/** What only the gateway answers, on top of what each service may answer. */
const GATEWAY_RESPONSES = {
  TooManyRequests: errorResponse('over RATE_LIMIT_MAX requests in RATE_LIMIT_WINDOW_MS from this client', {
    'retry-after': {
      description: 'seconds until the window lets this client in again',
      required: true,
      schema: { type: 'string', pattern: '^[0-9]+$' },
    },
  }),
  BadGateway: errorResponse('the service behind the gateway failed or broke its contract'),
  GatewayTimeout: errorResponse('the service behind the gateway did not answer in time; it may have acted on the request'),
} as const

const GATEWAY_COMMON = {
  always: { 429: 'TooManyRequests', 502: 'BadGateway', 504: 'GatewayTimeout' },
  withBody: {},
} as const

const isBelow = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`)

/**
 * The public document: the gateway's own operations (the aggregate) and, from each service's
 * document, the paths the gateway forwards to it, with the components they refer to and the
 * answers only the gateway gives (429, 502, 504). Throws when two documents define one
 * component differently: the merge would silently describe one of them wrongly.
 */
export function mergeDocuments(gateway: OpenApiDocument, services: readonly ServiceDocument[]): OpenApiDocument {
  const merged: OpenApiDocument = structuredClone({ ...gateway, paths: {}, components: {}, tags: [] })
  const origin = new Map<string, string>()
  for (const { service, prefix, document } of [...services, { service: 'gateway', prefix: '/', document: gateway }]) {
    for (const [path, operations] of Object.entries(document.paths)) {
      if (service !== 'gateway' && !isBelow(path, prefix)) continue
      // The gateway's own routes answer before the proxy's prefix routes do.
      merged.paths[path] = { ...merged.paths[path], ...structuredClone(operations) }
    }
    for (const [section, entries] of Object.entries(document.components) as [
      keyof OpenApiDocument['components'],
      Record<string, unknown>,
    ][]) {
      const target = (merged.components[section] ??= {})
      for (const [name, value] of Object.entries(entries)) {
        const key = `${section}.${name}`
        if (name in target && !isDeepStrictEqual(target[name], value)) {
          throw new Error(`components.${key} differs between ${origin.get(key) ?? 'gateway'} and ${service}`)
        }
        target[name] = structuredClone(value)
        if (!origin.has(key)) origin.set(key, service)
      }
    }
    for (const tag of document.tags ?? []) {
      if (!merged.tags?.some(({ name }) => name === tag.name)) merged.tags?.push({ ...tag })
    }
  }
  // Relative: the document describes whichever address the gateway is reached at. No
  // authentication (an empty requirement list says so explicitly).
  merged.servers = [{ url: '/', description: 'the API gateway' }]
  merged.security = []
  merged.paths = Object.fromEntries(Object.entries(merged.paths).sort(([a], [b]) => a.localeCompare(b)))
  return addCommonResponses(merged, GATEWAY_RESPONSES, GATEWAY_COMMON)
}
