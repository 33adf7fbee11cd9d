import { register } from 'node:module'
import Type from 'typebox'
import { loadConfig } from './config.ts'

interface Sdk {
  shutdown(): Promise<void>
}

let sdk: Sdk | undefined

/**
 * Starts OpenTelemetry tracing when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: spans for incoming
 * HTTP and Fastify routes, outgoing undici calls (with W3C `traceparent`), and `trace.id` /
 * `span.id` on every ECS log line. It must run before Fastify, pino or undici are imported, so
 * each service loads it with `node --import ./src/telemetry.ts`. The SDK is process-wide by
 * nature, hence the module state.
 */
export async function startTelemetry(serviceName: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const config = loadConfig(
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(
        Type.String({ pattern: '^https?://[^\\s/]+', description: 'OTLP/HTTP collector base URL; enables tracing' }),
      ),
    },
    env,
  )
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined || sdk !== undefined) return false

  // ESM modules can only be patched through a loader hook, registered before they load.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)
  const [{ NodeSDK }, { OTLPTraceExporter }, { HttpInstrumentation }, { UndiciInstrumentation }, { PinoInstrumentation }, { FastifyOtelInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-undici'),
      import('@opentelemetry/instrumentation-pino'),
      import('@fastify/otel'),
    ])

  const started = new NodeSDK({
    serviceName,
    // Traces only: logs go to stdout (ELK) and metrics to /metrics (Prometheus). Left to its
    // defaults the SDK would also export every log line and the instrumentations' metrics over
    // OTLP to the same endpoint, which a traces backend such as Jaeger does not accept, at a cost
    // on every request.
    logRecordProcessors: [],
    metricReaders: [],
    traceExporter: new OTLPTraceExporter({ url: `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` }),
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes would drown the traces that matter.
        ignoreIncomingRequestHook: (request) => /^\/(health|metrics)/.test(request.url ?? ''),
      }),
      new UndiciInstrumentation(),
      // Request and handler spans only: a span per lifecycle hook (five per request here) says
      // little and costs about 15% of the gateway's CPU per request (npm run bench).
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        ignorePaths: (route) => /^\/(health|metrics)/.test(route.url),
      }),
      new PinoInstrumentation({ disableLogSending: true, logKeys: { traceId: 'trace.id', spanId: 'span.id', traceFlags: 'trace.flags' } }),
    ],
  })
  started.start()
  sdk = started
  return true
}

/** Flushes spans still buffered; called last in a graceful shutdown. */
export async function shutdownTelemetry(): Promise<void> {
  await sdk?.shutdown().catch(() => {})
}
