import type { App, OpenApiDocument } from '@platform/kit'
import { documentSource } from '../../openapi/source.ts'
import docs from './docs.ts'

export interface OpenApiRoutesOptions {
  /** Each service whose routes the gateway forwards, by path prefix. */
  readonly routes: readonly { readonly prefix: string; readonly service: string }[]
  /** Whether to serve the interactive reference at `/docs` (API_DOCS). */
  readonly docs: boolean
}

/** Long enough that readers cost nothing, short enough that a redeployed service shows up soon. */
const MAX_AGE_MS = 60_000
/** The Retry-After of a 503 when no merged document exists yet (a service is not up). */
const RETRY_AFTER_SECONDS = '5'

const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; font-src 'self' data:; frame-ancestors 'none'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self'"

/**
 * `GET /openapi.json`: the public API, merged from the services' own documents and the
 * gateway's (src/openapi/). `GET /docs`: Swagger UI on that document, unless turned off.
 */
export default async function openapiRoutes(app: App, options: OpenApiRoutesOptions) {
  const source = documentSource({
    gateway: () => app.openapi(),
    services: options.routes.map(({ prefix, service }) => ({ service, prefix, upstream: app.discovery.upstream(service) })),
    maxAgeMs: MAX_AGE_MS,
  })

  app.get('/openapi.json', { logLevel: 'warn' }, async (_request, reply) => {
    try {
      return await source.current()
    } catch (error) {
      reply.header('retry-after', RETRY_AFTER_SECONDS)
      throw error
    }
  })

  if (!options.docs) return
  // Swagger UI reads its document from /docs/json, which serves what `transformSpecification`
  // returns (synchronously): the hook fetches the merged document first.
  let latest: OpenApiDocument | undefined
  // Swagger UI itself loads on the first request to /docs (docs.ts), not at start.
  await app.register(docs, {
    prefix: '/docs',
    swaggerUi: {
      // The page's own Content-Security-Policy replaces the gateway's `default-src 'none'`: its
      // scripts, styles and images from /docs only. (Swagger UI's default also upgrades requests
      // to https, which breaks the page on a plain-http gateway, and allows an outside validator.)
      staticCSP: DOCS_CSP,
      transformSpecificationClone: false,
      transformSpecification: () => latest ?? {},
    },
    preHandler: async (request, reply) => {
      if (!/\/(json|yaml)$/.test(request.routeOptions.url ?? '')) return
      try {
        latest = await source.current()
      } catch (error) {
        reply.header('retry-after', RETRY_AFTER_SECONDS)
        throw error
      }
    },
  })
}
