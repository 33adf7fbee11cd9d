import { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

// Not `import … from 'node:http'`: an ES module's view of node:http loads Node's bundled undici
// at start (see the kit's errors.ts).
const { IncomingMessage, ServerResponse } = process.getBuiltinModule('node:http')

/**
 * helmet's defaults, with the strictest Content-Security-Policy: the gateway serves JSON, never a
 * page, so nothing may load and nothing may frame a response if a browser ever renders one.
 */
export const HELMET_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
}

/** The headers helmet sets with `options`, read once from a detached response. */
export function helmetHeaders(options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  const request = new IncomingMessage(new Socket())
  const response = new ServerResponse(request)
  helmet(options)(request, response, (error) => {
    if (error !== undefined) throw error
  })
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(response.getHeaders())) {
    if (value !== undefined) headers[name] = String(value)
  }
  return Object.freeze(headers)
}

/**
 * helmet's security headers on every response. Without CSP nonces they never vary, so they are
 * computed once at boot and copied in one synchronous hook. (`@fastify/helmet` rebuilds helmet's
 * middleware, re-parsing the CSP, in an async hook on every request: about 20 µs of CPU each,
 * a third of a proxied request's budget.)
 */
async function securityHeaders(app: FastifyInstance) {
  const headers = helmetHeaders(HELMET_OPTIONS)
  app.addHook('onRequest', function setSecurityHeaders(_request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    reply.headers(headers)
    done()
  })
}

export default fp(securityHeaders, { name: 'gateway-security-headers', fastify: '5.x' })
