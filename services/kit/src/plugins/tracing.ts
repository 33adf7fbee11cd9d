import type { Context, Span, Tracer } from '@opentelemetry/api'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { REQUEST_ID_LOG_LABEL } from '../logger.ts'
import { openTelemetry } from '../telemetry.ts'
import type { TryTrace, TryTracer } from '../upstream/index.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's trace context (its server span inside), when tracing is on: pass it as
     * `trace` to `Upstream.request`, so the calls a request makes join its trace.
     */
    traceContext: Context | undefined
    /** The request's server span, ended with the response. */
    traceSpan: Span | undefined
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Spans of upstream calls, for the balancer (plugins/discovery.ts); undefined when tracing is off. */
    tryTracer: TryTracer | undefined
  }
}

/** Probes and scrapes would drown the traces that matter. */
const UNTRACED = /^\/(health|metrics)(\/|\?|$)/

/**
 * A span per request served: extracted from the caller's `traceparent` (W3C), sampled by the
 * provider's sampler (../telemetry.ts), named after the route (`GET /users/:id`) and ended when the
 * response is. A sampled request's log lines carry `trace.id` and `span.id`, so Kibana and Jaeger
 * meet. Upstream calls get a span per try through `tryTracer`.
 *
 * Spans are started and handed on explicitly rather than through an async context manager and
 * patched modules: what a request costs without sampling is then a header read and a few objects,
 * and nothing but application traffic is traced. Registered only when tracing is on, so nothing
 * of OpenTelemetry loads otherwise.
 */
async function tracingPlugin(app: FastifyInstance, options: { readonly service: string }) {
  const api = openTelemetry('@opentelemetry/api')
  const { trace, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode } = api
  const tracer = trace.getTracer(options.service)
  app.decorateRequest('traceContext', undefined)
  // On the request rather than in a WeakMap: every entry of a WeakMap is an ephemeron that each
  // old-space collection processes in its final, stop-the-world pause.
  app.decorateRequest('traceSpan', undefined)
  app.decorate('tryTracer', upstreamTracer(api, tracer))

  app.addHook('onRequest', (request, _reply, done) => {
    if (UNTRACED.test(request.url)) return done()
    const parent = propagation.extract(ROOT_CONTEXT, request.headers)
    const route = request.routeOptions.url
    // The samplers the kit offers (telemetry.ts) decide on the trace id and the parent alone, so
    // the attributes are set once the span records: an unsampled request, nine in ten by
    // default, builds none of them.
    const span = tracer.startSpan(route === undefined ? request.method : `${request.method} ${route}`, { kind: SpanKind.SERVER }, parent)
    request.traceSpan = span
    request.traceContext = trace.setSpan(parent, span)
    if (span.isRecording()) {
      const { traceId, spanId } = span.spanContext()
      span.setAttributes({
        'http.request.method': request.method,
        'url.path': request.url.split('?', 1)[0],
        'url.scheme': request.protocol,
        'client.address': request.ip,
        ...(route === undefined ? {} : { 'http.route': route }),
      })
      // A child of the service's logger, not of the request's: pino makes a child from its
      // parent as a prototype, and a fresh prototype per sampled request would give every one
      // of these loggers a shape of its own, which V8 handles far more slowly than one shared.
      request.log = app.log.child(
        { [REQUEST_ID_LOG_LABEL]: request.id, 'trace.id': traceId, 'span.id': spanId },
        { level: request.log.level },
      ) as FastifyBaseLogger
    }
    done()
  })

  app.addHook('onResponse', (request, reply, done) => {
    const span = request.traceSpan
    if (span !== undefined) {
      span.setAttribute('http.response.status_code', reply.statusCode)
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      span.end()
    }
    done()
  })
}

const noop = () => {}

/** Client spans for the balancer's tries, children of the calling request's span. */
function upstreamTracer(api: typeof import('@opentelemetry/api'), tracer: Tracer): TryTracer {
  const { trace, propagation, SpanKind, SpanStatusCode } = api
  // Per instance origin, parsed once: a URL per try would cost more than the span.
  const servers = new Map<string, { readonly address: string; readonly port: number }>()
  const server = (origin: string) => {
    let found = servers.get(origin)
    if (found === undefined) {
      const url = new URL(origin)
      found = { address: url.hostname, port: Number(url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port) }
      servers.set(origin, found)
    }
    return found
  }
  const setter = { set: (carrier: string[], key: string, value: string) => void carrier.push(key, value) }
  return {
    start(parent, attempt): TryTrace {
      const context = parent as Context
      // A request its caller does not sample records nothing: its context is passed on as it
      // is (same trace, not sampled), without a span of its own.
      if (trace.getSpan(context)?.isRecording() !== true) {
        const headers: string[] = []
        propagation.inject(context, headers, setter)
        return { headers, end: noop }
      }
      const { address, port } = server(attempt.origin)
      const span = tracer.startSpan(
        attempt.method,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'http.request.method': attempt.method,
            'server.address': address,
            'server.port': port,
            'url.full': attempt.origin + attempt.path,
            'peer.service': attempt.service,
            ...(attempt.resend === 0 ? {} : { 'http.request.resend_count': attempt.resend }),
          },
        },
        context,
      )
      const headers: string[] = []
      propagation.inject(trace.setSpan(context, span), headers, setter)
      return {
        headers,
        end(outcome) {
          if (outcome.statusCode !== undefined) {
            span.setAttribute('http.response.status_code', outcome.statusCode)
            if (outcome.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
          } else {
            span.setAttribute('error.type', outcome.error ?? 'error')
            span.setStatus({ code: SpanStatusCode.ERROR })
          }
          span.end()
        },
      }
    },
  }
}

export default fp(tracingPlugin, { name: 'platform-tracing', fastify: '5.x' })
