import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { ecsFormat } from '@elastic/ecs-pino-format'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, portEnv, serviceEnv } from '../src/config.ts'
import { BatchedLines, loggerOptions } from '../src/logger.ts'
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

describe('loggerOptions', () => {
  /** What a logger built with these options writes for each call, the clock fixed. */
  function linesOf(options: pino.LoggerOptions, log: (logger: pino.Logger) => void): string[] {
    const written: string[] = []
    const logger = pino(
      { ...options, timestamp: () => ',"@timestamp":"2026-12-03T00:00:00.000Z"' },
      { write: (line: string) => written.push(line) },
    )
    log(logger)
    return written
  }

  it('writes the lines of the ECS formatter, byte for byte, for plain fields, errors, requests and child loggers', () => {
    const service = { service: 'probe', level: 'debug' }
    const error = new TypeError('bad input')
    const calls = (logger: pino.Logger) => {
      logger.info({ 'http.response.status_code': 200, 'url.original': '/users/1' }, 'request completed')
      logger.warn('plain message')
      logger.error({ err: error }, 'failed')
      logger.child({ 'http.request.id': 'abc' }).debug({ req: { method: 'GET', url: '/x', headers: { authorization: 'secret' } } }, 'seen')
    }
    const ecs = ecsFormat({ convertReqRes: true, apmIntegration: false, serviceName: 'probe' })
    const reference = linesOf({ ...loggerOptions(service), formatters: ecs.formatters }, calls)
    const ours = linesOf(loggerOptions(service), calls)
    expect(ours).toHaveLength(4)
    expect(ours).toEqual(reference)
    expect(ours[3]).not.toContain('secret')
  })

  it('stamps each line with the time it was written, to the millisecond', async () => {
    const written: string[] = []
    const logger = pino(loggerOptions({ service: 'probe', level: 'info' }), { write: (line: string) => written.push(line) })
    const before = Date.now()
    logger.info('one')
    await new Promise((resolve) => setTimeout(resolve, 5))
    logger.info('two')
    const stamps = written.map((line) => Date.parse((JSON.parse(line) as { '@timestamp': string })['@timestamp']))
    expect(stamps[0]).toBeGreaterThanOrEqual(before)
    expect(stamps[1]! - stamps[0]!).toBeGreaterThanOrEqual(4)
  })
})

describe('BatchedLines', () => {
  const line = (i: number) => `${JSON.stringify({ i, text: 'x'.repeat(200) })}\n`

  it('writes nothing until a batch is full or flushed, then every line in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lines-'))
    const fd = openSync(join(dir, 'out'), 'w')
    try {
      const out = new BatchedLines(fd)
      out.write(line(0))
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('')
      for (let i = 1; i < 30; i++) out.write(line(i))
      // 30 lines of ~220 bytes: at least one batch of 4 KiB went out, the rest waits.
      const early = readFileSync(join(dir, 'out'), 'utf8')
      expect(early.length).toBeGreaterThanOrEqual(4096)
      expect(early.length).toBeLessThan(30 * line(0).length)
      expect(out.flush()).toBe(true)
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe(Array.from({ length: 30 }, (_, i) => line(i)).join(''))
    } finally {
      closeSync(fd)
      rmSync(dir, { recursive: true })
    }
  })

  it('keeps what a full non-blocking pipe refuses and writes it once the reader catches up: no line lost, none reordered', async () => {
    // cat copies our pipe to its stdout; while we do not read that, both pipes fill up.
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] })
    cat.stdout.pause()
    const fd = (cat.stdin as unknown as { _handle: { fd: number } })._handle.fd
    const out = new BatchedLines(fd)
    const sent: string[] = []
    let refused = false
    for (let i = 0; i < 20_000 && !refused; i++) {
      sent.push(line(i))
      out.write(line(i))
      if (i % 50 === 49) refused = !out.flush()
    }
    expect(refused).toBe(true)
    // More lines while the pipe is full: gathered behind the refused ones.
    for (let i = sent.length; i < sent.length + 10; i++) out.write(line(i))
    for (let i = sent.length, end = sent.length + 10; i < end; i++) sent.push(line(i))

    const chunks: Buffer[] = []
    cat.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
    cat.stdout.resume()
    while (!out.flush()) await new Promise((resolve) => setTimeout(resolve, 5))
    cat.stdin.end()
    await once(cat, 'close')
    expect(Buffer.concat(chunks).toString()).toBe(sent.join(''))
  })
})
