import { Writable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, portEnv, serviceEnv } from '../src/config.ts'
import { loggerOptions } from '../src/logger.ts'
import { createService, type App } from '../src/service.ts'

const lines: string[] = []
let app: App

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const config = loadConfig({ ...serviceEnv, ...portEnv(0) }, {})
  app = createService({ name: 'probe', config, logger: { ...loggerOptions({ service: 'probe', level: 'info' }), stream } })
  // pino's convention for logging a request and its response: `req` and `res`.
  app.get('/logged', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.raw.setHeader('set-cookie', 'sid=s3t-c00kie')
    request.log.info({ req: request.raw, res: reply.raw }, 'request seen')
    return { ok: true }
  })
  app.get('/crash', async () => {
    throw new Error('boom')
  })
  await app.ready()
})

afterAll(() => app?.close())

describe('service logs', () => {
  it('never print the credentials in the headers of a request or its response, whatever logs them', async () => {
    const headers = {
      authorization: 'Bearer s3cr3t-t0ken',
      cookie: 'session=c00kie-value',
      'x-consul-token': 'c0nsul-t0ken',
      'x-visible': 'shown',
    }
    for (const url of ['/logged', '/crash', '/nowhere']) await app.inject({ method: 'GET', url, headers })

    const seen = lines.find((line) => line.includes('request seen'))
    // The request was logged with its headers: the harmless one is there, the secrets are not.
    expect(seen).toContain('shown')
    expect(lines.filter((line) => line.includes('request completed'))).toHaveLength(3)
    for (const secret of ['s3cr3t-t0ken', 'c00kie-value', 'c0nsul-t0ken', 's3t-c00kie']) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([])
    }
  })
})
