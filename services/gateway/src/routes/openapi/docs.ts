import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import Fastify from 'fastify'
import fp from 'fastify-plugin'

export interface DocsOptions {
  /** The options `@fastify/swagger-ui` is registered with (its `routePrefix` is this plugin's prefix). */
  readonly swaggerUi: Readonly<Record<string, unknown>> & { readonly staticCSP: string }
  /** Runs before every route of the reference, on the gateway's own request, as `uiHooks.preHandler` would. */
  readonly preHandler: preHandlerAsyncHookHandler
}

/**
 * The routes `@fastify/swagger-ui` registers under its prefix (`lib/routes.js`, with
 * `@fastify/static` for its files), declared here without loading either: the two and what they
 * bring (send, mime, …) are ~50 ms of the gateway's start for a page few requests ever ask for.
 * Registered with this plugin's prefix, they are the same routes (`/docs`, `/docs/`,
 * `/docs/json`, `/docs/static/*`, their HEAD routes): the same route labels in metrics and logs,
 * the same hooks (security headers, rate limit, access log, tracing). test/docs.test.ts checks
 * the list against the library's.
 */
export const SWAGGER_UI_ROUTES: readonly { readonly method: readonly string[]; readonly url: string; readonly uiHooks: boolean }[] = [
  { method: ['GET'], url: '/', uiHooks: true },
  { method: ['GET'], url: '/static/index.html', uiHooks: true },
  { method: ['GET'], url: '/static/swagger-initializer.js', uiHooks: true },
  { method: ['GET'], url: '/json', uiHooks: true },
  { method: ['GET'], url: '/yaml', uiHooks: true },
  // @fastify/static's, which Swagger UI's hooks do not reach.
  { method: ['HEAD', 'GET'], url: '/static/*', uiHooks: false },
]

/** Request headers that belong to the gateway's connection, not to what it asks of Swagger UI. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'content-length', 'transfer-encoding', 'host', 'expect'])
/** Answer headers the gateway's own reply sets (or Node does) for the buffered body it sends. */
const NOT_COPIED = new Set(['connection', 'keep-alive', 'content-length', 'transfer-encoding', 'date'])

/** Names the delegated request, so the inner instance can hand its error or not-found back. */
const CALL_HEADER = 'x-gateway-docs-call'

interface Outcome {
  error?: unknown
  notFound?: boolean
}

/**
 * Swagger UI at this plugin's prefix, loaded when its first request arrives. Each request runs
 * the gateway's hooks on its own route, then `preHandler`, then is answered by `@fastify/swagger-ui`
 * in a private Fastify instance built on that first request (`inject`, no socket): its status,
 * headers and body become the answer. What the library would have left to the gateway stays
 * the gateway's: an error it raises (a forbidden path) goes to the gateway's error handler, a
 * file it does not have to the gateway's 404, as when it was registered here directly.
 */
export default async function docs(app: FastifyInstance, options: DocsOptions) {
  let inner: Promise<FastifyInstance> | undefined
  const outcomes = new Map<string, Outcome>()
  let calls = 0
  const prefix = app.prefix

  async function build(): Promise<FastifyInstance> {
    const { default: swaggerUi } = await import('@fastify/swagger-ui')
    const instance = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 } })
    instance.setErrorHandler((error, request, reply) => {
      outcomes.set(String(request.headers[CALL_HEADER]), { error })
      return reply.code(500).send()
    })
    instance.setNotFoundHandler((request, reply) => {
      outcomes.set(String(request.headers[CALL_HEADER]), { notFound: true })
      return reply.code(404).send()
    })
    // Swagger UI declares @fastify/swagger a dependency for `app.swagger()`, whose document its
    // /json and /yaml pass to `transformSpecification`: the gateway's ignores it (it serves the
    // merged document), so a stand-in under that name does.
    const ignored = {} as ReturnType<FastifyInstance['swagger']>
    await instance.register(fp(async (scope) => void scope.decorate('swagger', () => ignored), { name: '@fastify/swagger' }))
    await instance.register(swaggerUi, { ...options.swaggerUi, routePrefix: prefix })
    await instance.ready()
    return instance
  }

  async function delegate(this: { readonly method: 'GET' | 'HEAD' | undefined }, request: FastifyRequest, reply: FastifyReply) {
    inner ??= build().catch((error: unknown) => {
      inner = undefined
      throw error
    })
    const instance = await inner
    const call = String(++calls)
    const headers: Record<string, string | string[]> = { [CALL_HEADER]: call }
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !NOT_FORWARDED.has(name) && name !== CALL_HEADER) headers[name] = value
    }
    // A GET route's HEAD is Fastify's (the GET answer without its body): the GET is asked for.
    const answer = await instance.inject({ method: this.method ?? (request.method as 'GET' | 'HEAD'), url: request.url, headers })
    const outcome = outcomes.get(call)
    outcomes.delete(call)
    if (outcome?.error !== undefined) throw outcome.error
    if (outcome?.notFound === true) return reply.callNotFound()
    reply.code(answer.statusCode)
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !NOT_COPIED.has(name)) reply.header(name, value)
    }
    // @fastify/static answers HEAD itself: the file's length, no body.
    if (request.method === 'HEAD' && answer.headers['content-length'] !== undefined) {
      reply.header('content-length', answer.headers['content-length'])
    }
    // An empty answer (a redirect) is sent as one, without the content type a Buffer would get.
    return answer.rawPayload.length === 0 && answer.headers['content-type'] === undefined ? reply.send() : reply.send(answer.rawPayload)
  }

  // Swagger UI's own hook: its CSP on every answer of its routes, errors and 404s included.
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('content-security-policy', options.swaggerUi.staticCSP)
    done(null, payload)
  })

  for (const { method, url, uiHooks } of SWAGGER_UI_ROUTES) {
    const handler = delegate.bind({ method: method.length === 1 ? 'GET' : undefined })
    app.route({ method: [...method], url, schema: { hide: true }, ...(uiHooks ? { preHandler: options.preHandler } : {}), handler })
  }

  app.addHook('onClose', async () => {
    const instance = await inner?.catch(() => undefined)
    await instance?.close()
  })
}
