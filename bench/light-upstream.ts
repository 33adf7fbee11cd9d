// The light upstream of `npm run bench`: a minimal Fastify app that answers GET /users/1 with
// the bytes user-service answered (passed in by the bench, which fetched them once), so that
// behind it the proxy, not the upstream, is what costs: the proxy-bound regime. Keep-alive as
// Fastify's defaults have it; no logging, no schema, no database.
//
// Environment:
//   PORT          port to listen on (127.0.0.1)
//   BODY          the exact response body
//   CONTENT_TYPE  its content type, as user-service sent it
import Fastify from 'fastify'

const port = Number(process.env.PORT)
const body = process.env.BODY
const contentType = process.env.CONTENT_TYPE
if (!Number.isInteger(port) || body === undefined || contentType === undefined) {
  process.stderr.write('light-upstream: PORT, BODY and CONTENT_TYPE are required\n')
  process.exit(2)
}

const app = Fastify()
app.get('/users/1', (_request, reply) => reply.type(contentType).send(body))
app.get('/health/ready', async () => ({ status: 'ok' }))

await app.listen({ host: '127.0.0.1', port })
