// The peer baseline of `npm run bench`: a plain, idiomatic Fastify proxy built on
// @fastify/reply-from (its defaults: an undici Agent, 128 connections per origin) in front of the
// same user-service as our gateway. No discovery, metrics, tracing, rate limit, security headers
// or retries: only what a minimal reply-from gateway has.
//
// Environment:
//   PORT          port to listen on (127.0.0.1)
//   UPSTREAM_URL  user-service origin, e.g. http://127.0.0.1:3001
//   ACCESS_LOG    `true` (default): one pino JSON line per request at completion, the same kind
//                 and amount of logging as our gateway's production default (LOG_REQUESTS=true);
//                 `false`: no per-request logging.
import replyFrom from '@fastify/reply-from'
import Fastify, { LogController } from 'fastify'

const port = Number(process.env.PORT ?? 3000)
const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:3001'
const accessLog = process.env.ACCESS_LOG !== 'false'

// Fastify's own pair of lines per request (and reply-from's own pair, below) give way to one line
// at completion, as in the gateway.
const app = Fastify({ logger: { level: 'info' }, logController: new LogController({ disableRequestLogging: true }) })

if (accessLog) {
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      { method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime },
      'request completed',
    )
    done()
  })
}

await app.register(replyFrom, { base: upstream, disableRequestLogging: true })

app.get('/health/ready', async () => ({ status: 'ok' }))
app.all('/users', (request, reply) => reply.from(request.url))
app.all('/users/*', (request, reply) => reply.from(request.url))

await app.listen({ host: '127.0.0.1', port })
