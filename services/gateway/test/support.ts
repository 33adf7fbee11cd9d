import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { App } from '@platform/kit'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.ts'
import { readConfig } from '../src/config.ts'

/** A running HTTP server on a random loopback port. */
export interface Running {
  readonly url: string
  close(): Promise<void>
}

/** What the echo upstream saw. */
export interface Echo {
  readonly instance: string
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string | null
}

/** Starts a Fastify instance on 127.0.0.1 with a random port. */
export async function listen(app: FastifyInstance): Promise<Running> {
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, close: () => app.close() }
}

/**
 * A fake upstream instance: answers any method and path with what it received. The request can
 * steer the answer: `x-echo-status` sets the status, `x-echo-delay-ms` delays it, `x-echo-size`
 * replaces the echo by that many bytes (`x-echo-chunked` sends them unsized). It also sends
 * headers a proxy must strip (`proxy-connection`) and keep (two `set-cookie`). `abandoned` lists
 * the URLs whose caller closed the connection before the answer.
 */
export async function echoServer(instance: string): Promise<Running & { readonly calls: Echo[]; readonly abandoned: string[] }> {
  const calls: Echo[] = []
  const abandoned: string[] = []
  const app = Fastify({ logger: false })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  // A route that parses JSON the usual way, to see an upstream's own 400 come back unchanged.
  app.register(async (strict) => {
    strict.addContentTypeParser('application/json', { parseAs: 'string' }, strict.getDefaultJsonParser('error', 'error'))
    strict.post('/users/strict', async (request) => ({ parsed: request.body }))
  })
  app.all('/*', async (request, reply) => {
    const echo: Echo = {
      instance,
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: Buffer.isBuffer(request.body) ? request.body.toString('latin1') : null,
    }
    calls.push(echo)
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) abandoned.push(request.url)
    })
    const delay = Number(request.headers['x-echo-delay-ms'] ?? 0)
    if (delay > 0) await sleep(delay)
    reply
      .code(Number(request.headers['x-echo-status'] ?? 200))
      .header('x-instance', instance)
      .header('proxy-connection', 'keep-alive')
      .header('set-cookie', ['a=1; Path=/', 'b=2; Path=/'])
    const size = Number(request.headers['x-echo-size'] ?? 0)
    if (size > 0) {
      const body = Buffer.alloc(size, 'x')
      // Chunked (no content-length) when asked, else sized.
      return reply.type('application/octet-stream').send(request.headers['x-echo-chunked'] ? Readable.from([body]) : body)
    }
    return echo
  })
  return { ...(await listen(app)), calls, abandoned }
}

/** A URL nobody listens on: connections to it are refused at once. */
export async function deadUrl(): Promise<string> {
  const app = Fastify({ logger: false })
  const { url, close } = await listen(app)
  await close()
  return url
}

/** The gateway as `buildApp` makes it, quiet, with the environment given. */
export async function gateway(env: Record<string, string>): Promise<App> {
  const app = await buildApp({ config: readConfig({ LOG_LEVEL: 'silent', ...env }), logger: false })
  await app.ready()
  return app
}
