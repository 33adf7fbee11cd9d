import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { propagation, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import * as samplers from '@opentelemetry/sdk-trace'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, portEnv, serviceEnv, upstreamEnv } from '../src/config.ts'
import { createService, type App } from '../src/service.ts'
import { batchOptionsFromEnv, DEFAULT_EXPORT_BATCH_SIZE, DEFAULT_SAMPLE_RATIO, samplerFromEnv } from '../src/telemetry.ts'

// The provider a real start registers (telemetry.ts), with an in-memory exporter and a sampler
// that follows the caller and samples every new trace, so each test decides by its traceparent.
const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(
  new TracerProvider({
    sampler: new samplers.ParentBasedSampler({ root: new samplers.AlwaysOnSampler() }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  }),
)
propagation.setGlobalPropagator(new W3CTraceContextPropagator())

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT_ID = '00f067aa0ba902b7'
const sampled = `00-${TRACE_ID}-${PARENT_ID}-01`
const unsampled = `00-${TRACE_ID}-${PARENT_ID}-00`

let app: App
let upstreamUrl: string
const seenUpstream: IncomingHttpHeaders[] = []
const lines: Record<string, unknown>[] = []
const upstream = createServer((request, response) => {
  seenUpstream.push(request.headers)
  response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
})

beforeAll(async () => {
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  const config = loadConfig(
    { ...serviceEnv, ...portEnv(0), ...upstreamEnv },
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', USER_SERVICE_URLS: upstreamUrl },
  )
  app = createService({
    name: 'probe',
    config,
    logger: { level: 'info', stream },
    upstreams: { 'user-service': { urls: config.USER_SERVICE_URLS, variable: 'USER_SERVICE_URLS' } },
  })
  app.get('/things/:id', async (request) => {
    const answer = await app.discovery.upstream('user-service').request({ method: 'GET', path: '/users/1', trace: request.traceContext })
    return answer.body.json()
  })
  app.get('/boom', async () => {
    throw new Error('boom')
  })
  await app.ready()
})

afterAll(async () => {
  await app?.close()
  await new Promise((resolve) => upstream.close(resolve))
})

beforeEach(() => {
  exporter.reset()
  seenUpstream.length = 0
  lines.length = 0
})

describe('tracing (a span per request served and per upstream try)', () => {
  it("continues a sampled caller's trace: a server span named after the route, a client span under it, and that span's id in the upstream's traceparent", async () => {
    const response = await app.inject({ url: '/things/7', headers: { traceparent: sampled } })
    expect(response.statusCode).toBe(200)

    const spans = exporter.getFinishedSpans()
    const server = spans.find((span) => span.name === 'GET /things/:id')!
    const client = spans.find((span) => span.name === 'GET')!
    expect(server.spanContext().traceId).toBe(TRACE_ID)
    expect(server.parentSpanContext?.spanId).toBe(PARENT_ID)
    expect(server.attributes).toMatchObject({
      'http.route': '/things/:id',
      'url.path': '/things/7',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
    })
    expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId)
    expect(client.attributes).toMatchObject({
      'peer.service': 'user-service',
      'http.response.status_code': 200,
      'url.full': `${upstreamUrl}/users/1`,
    })
    expect(seenUpstream[0]?.traceparent).toBe(`00-${TRACE_ID}-${client.spanContext().spanId}-01`)
  })

  it("writes trace.id and span.id on the sampled request's log lines", async () => {
    const response = await app.inject({ url: '/things/7', headers: { traceparent: sampled } })
    const server = exporter.getFinishedSpans().find((span) => span.name === 'GET /things/:id')!
    const completed = lines.find((line) => line.msg === 'request completed')
    expect(completed).toMatchObject({
      'trace.id': TRACE_ID,
      'span.id': server.spanContext().spanId,
      'http.route': '/things/:id',
      // The request's own binding is kept beside the trace's.
      'http.request.id': response.headers['x-request-id'],
    })
  })

  it('records nothing for a caller that does not sample, yet passes the unsampled context on so the next service drops it too', async () => {
    await app.inject({ url: '/things/7', headers: { traceparent: unsampled } })
    expect(exporter.getFinishedSpans()).toEqual([])
    expect(seenUpstream[0]?.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`))
    expect(lines.find((line) => line.msg === 'request completed')).not.toHaveProperty('trace.id')
  })

  it('leaves probes and scrapes out', async () => {
    await app.inject('/health/ready')
    await app.inject('/metrics')
    expect(exporter.getFinishedSpans()).toEqual([])
  })

  it('marks a 5xx answer as an error', async () => {
    await app.inject({ url: '/boom', headers: { traceparent: sampled } })
    const server = exporter.getFinishedSpans().find((span) => span.name === 'GET /boom')!
    expect(server.status.code).toBe(2)
    expect(server.attributes['http.response.status_code']).toBe(500)
  })
})

describe('samplerFromEnv', () => {
  it("defaults to the caller's decision, else one in DEFAULT_SAMPLE_RATIO", () => {
    expect(samplerFromEnv({}, samplers).toString()).toBe(
      `ParentBased{root=TraceIdRatioBased{${DEFAULT_SAMPLE_RATIO}}, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}`,
    )
  })

  it.each([
    ['parentbased_always_on', undefined, /^ParentBased\{root=AlwaysOnSampler/],
    ['always_off', undefined, /^AlwaysOffSampler$/],
    ['traceidratio', '0.25', /^TraceIdRatioBased\{0\.25\}$/],
    ['traceidratio', undefined, /^TraceIdRatioBased\{1\}$/],
  ])('builds %s (arg %s)', (name, arg, expected) => {
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: name, ...(arg === undefined ? {} : { OTEL_TRACES_SAMPLER_ARG: arg }) }, samplers).toString(),
    ).toMatch(expected)
  })

  it('refuses an unknown sampler or a ratio outside 0..1 with a one-line error naming the variable', () => {
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' }, samplers)).toThrow(ConfigError)
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' }, samplers)).toThrow(
      /^invalid environment variable OTEL_TRACES_SAMPLER="sometimes": must be one of always_on/,
    )
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1.5' }, samplers)).toThrow(
      /OTEL_TRACES_SAMPLER_ARG="1.5": must be a ratio from 0 to 1/,
    )
  })
})

describe('batchOptionsFromEnv', () => {
  it('exports DEFAULT_EXPORT_BATCH_SIZE spans at a time, the SDK defaulting the rest', () => {
    expect(DEFAULT_EXPORT_BATCH_SIZE).toBe(128)
    expect(batchOptionsFromEnv({})).toEqual({ maxExportBatchSize: 128 })
  })

  it('takes every OTEL_BSP_* variable given, the batch size included', () => {
    expect(
      batchOptionsFromEnv({
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        OTEL_BSP_EXPORT_TIMEOUT: '10000',
        OTEL_BSP_MAX_QUEUE_SIZE: '4096',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512',
      }),
    ).toEqual({ scheduledDelayMillis: 1000, exportTimeoutMillis: 10000, maxQueueSize: 4096, maxExportBatchSize: 512 })
  })

  it('refuses a value that is not a positive integer, naming the variable', () => {
    expect(() => batchOptionsFromEnv({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '0' })).toThrow(
      'invalid environment variable OTEL_BSP_MAX_EXPORT_BATCH_SIZE="0": must be a positive integer',
    )
  })
})
