import { createRequire } from 'node:module'
import type { ExportResult } from '@opentelemetry/core'
import type { ReadableSpan, Sampler, SpanExporter } from '@opentelemetry/sdk-trace'
import Type from 'typebox'
import { ConfigError, loadConfig } from './config.ts'

interface Provider {
  shutdown(): Promise<void>
}

let provider: Provider | undefined

/** Share of the traces starting in this service that are sampled when OTEL_TRACES_SAMPLER is unset. */
export const DEFAULT_SAMPLE_RATIO = 0.1

/**
 * Spans per export when OTEL_BSP_MAX_EXPORT_BATCH_SIZE is unset (the SDK's default is 512). A
 * batch is turned into OTLP JSON in one synchronous go, which holds every request waiting
 * behind it: 512 spans shaped like the gateway's took 4.3 ms (median; 13.7 ms at worst) on the
 * bench's machine, 128 took 0.6 ms. The processor exports as soon as a batch is full, one export
 * at a time, so 128 still carries thousands of spans per second to a collector a few ms away.
 */
export const DEFAULT_EXPORT_BATCH_SIZE = 128

/**
 * Starts OpenTelemetry tracing when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: a tracer provider with
 * the OTLP/HTTP exporter and W3C trace-context propagation, registered globally. The spans
 * themselves come from the kit: one per request served (plugins/tracing.ts) and one per try of an
 * upstream call (upstream.ts), so only application traffic is traced (not the Consul client's
 * blocking queries) and no module is patched at load time. The standard variables apply:
 * `OTEL_TRACES_SAMPLER` (+ `_ARG`), `OTEL_BSP_*`, `OTEL_RESOURCE_ATTRIBUTES`.
 *
 * `runService` calls it before the service listens; the SDK is loaded only when tracing is on, and
 * the exporter only when the first batch of spans leaves (see `LazyOtlpExporter`).
 * The provider is process-wide by nature, hence the module state.
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
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined || provider !== undefined) return false

  const { propagation, trace } = openTelemetry('@opentelemetry/api')
  const { W3CTraceContextPropagator } = openTelemetry('@opentelemetry/core')
  const sdk = openTelemetry('@opentelemetry/sdk-trace')
  const { detectResources, envDetector, resourceFromAttributes } = openTelemetry('@opentelemetry/resources')
  const started = new sdk.TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }).merge(detectResources({ detectors: [envDetector] })),
    sampler: samplerFromEnv(env, sdk),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new LazyOtlpExporter(`${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`),
        ...batchOptionsFromEnv(env),
      }),
    ],
  })
  trace.setGlobalTracerProvider(started)
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  provider = started
  return true
}

const require = createRequire(import.meta.url)

interface OpenTelemetryPackages {
  '@opentelemetry/api': typeof import('@opentelemetry/api')
  '@opentelemetry/core': typeof import('@opentelemetry/core')
  '@opentelemetry/sdk-trace': typeof import('@opentelemetry/sdk-trace')
  '@opentelemetry/resources': typeof import('@opentelemetry/resources')
  '@opentelemetry/exporter-trace-otlp-http': typeof import('@opentelemetry/exporter-trace-otlp-http')
}

/**
 * An OpenTelemetry package's CommonJS build. prom-client, which every service loads, requires
 * the API's CommonJS build (for exemplars); `import()` would load its ES build beside it, about
 * fifty more modules at start, and the SDK's ES builds import that one. One copy serves both (the
 * API keeps its registrations on a global either way).
 */
export function openTelemetry<N extends keyof OpenTelemetryPackages>(name: N): OpenTelemetryPackages[N] {
  return require(name) as OpenTelemetryPackages[N]
}

/**
 * The OTLP/HTTP exporter, loaded when the first batch leaves rather than at start: it and what it
 * brings (the OTLP transformer, the metrics SDK among its dependencies) are ~130 modules, ~40 ms
 * of CPU on the way to ready, and nothing is exported before the batch processor's first flush
 * (`OTEL_BSP_SCHEDULE_DELAY`, 5 s by default). The exporter reads its `OTEL_EXPORTER_OTLP_*`
 * variables when it is built, as before, from the same environment.
 */
class LazyOtlpExporter implements SpanExporter {
  readonly #url: string
  #exporter: SpanExporter | undefined

  constructor(url: string) {
    this.#url = url
  }

  #load(): SpanExporter {
    if (this.#exporter === undefined) {
      const { OTLPTraceExporter } = openTelemetry('@opentelemetry/exporter-trace-otlp-http')
      this.#exporter = new OTLPTraceExporter({ url: this.#url })
    }
    return this.#exporter
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    let exporter: SpanExporter
    try {
      exporter = this.#load()
    } catch (error) {
      resultCallback({ code: openTelemetry('@opentelemetry/core').ExportResultCode.FAILED, error: error as Error })
      return
    }
    exporter.export(spans, resultCallback)
  }

  async shutdown(): Promise<void> {
    await this.#exporter?.shutdown()
  }

  async forceFlush(): Promise<void> {
    await this.#exporter?.forceFlush?.()
  }
}

/** Flushes spans still buffered; called last in a graceful shutdown. */
export async function shutdownTelemetry(): Promise<void> {
  await provider?.shutdown().catch(() => {})
}

type Samplers = Pick<
  typeof import('@opentelemetry/sdk-trace'),
  'AlwaysOffSampler' | 'AlwaysOnSampler' | 'ParentBasedSampler' | 'TraceIdRatioBasedSampler'
>

/**
 * The sampler `OTEL_TRACES_SAMPLER` names (the specification's built-in ones), with its ratio
 * from `OTEL_TRACES_SAMPLER_ARG`. Unset: every trace a caller already samples, and one in
 * `DEFAULT_SAMPLE_RATIO` of those that start here (README, "Traces"). A name or ratio the
 * specification does not define stops the start with one line, like any bad variable.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv, samplers: Samplers): Sampler {
  const given = env.OTEL_TRACES_SAMPLER?.trim() ?? ''
  const name = given === '' ? 'parentbased_traceidratio' : given
  const ratio = () => {
    const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim() ?? ''
    // The specification's default ratio is 1; ours applies only when no sampler is named.
    if (raw === '') return given === '' ? DEFAULT_SAMPLE_RATIO : 1
    const value = Number(raw)
    if (!(value >= 0 && value <= 1)) throw invalid('OTEL_TRACES_SAMPLER_ARG', raw, 'a ratio from 0 to 1')
    return value
  }
  switch (name) {
    case 'always_on':
      return new samplers.AlwaysOnSampler()
    case 'always_off':
      return new samplers.AlwaysOffSampler()
    case 'traceidratio':
      return new samplers.TraceIdRatioBasedSampler(ratio())
    case 'parentbased_always_on':
      return new samplers.ParentBasedSampler({ root: new samplers.AlwaysOnSampler() })
    case 'parentbased_always_off':
      return new samplers.ParentBasedSampler({ root: new samplers.AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new samplers.ParentBasedSampler({ root: new samplers.TraceIdRatioBasedSampler(ratio()) })
    default:
      throw invalid(
        'OTEL_TRACES_SAMPLER',
        name,
        'one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio',
      )
  }
}

/**
 * The batch span processor's options from the standard `OTEL_BSP_*` variables: the SDK's defaults
 * for those unset, but `DEFAULT_EXPORT_BATCH_SIZE` spans per export.
 */
export function batchOptionsFromEnv(env: NodeJS.ProcessEnv): Record<string, number> {
  return {
    maxExportBatchSize: DEFAULT_EXPORT_BATCH_SIZE,
    ...positive(env, 'OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMillis'),
    ...positive(env, 'OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMillis'),
    ...positive(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize'),
    ...positive(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize'),
  }
}

function positive(env: NodeJS.ProcessEnv, variable: string, option: string): Record<string, number> {
  const raw = env[variable]?.trim()
  if (raw === undefined || raw === '') return {}
  const value = Number(raw)
  if (!Number.isInteger(value) || value <= 0) throw invalid(variable, raw, 'a positive integer')
  return { [option]: value }
}

function invalid(variable: string, value: string, expected: string): ConfigError {
  return new ConfigError(`invalid environment variable ${variable}=${JSON.stringify(value)}: must be ${expected}`)
}
