import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type HookHandlerDoneFunction,
} from 'fastify'
import { urlList, type ServiceEnv } from './config.ts'
import type { Database } from './database.ts'
import { answerClientError, answerFrameworkError, answerNoRoute, HttpError } from './errors.ts'
import { createLogger, REQUEST_ID_LOG_LABEL, requestId } from './logger.ts'
import accessLog from './plugins/access-log.ts'
import discovery, { type StaticList } from './plugins/discovery.ts'
import errors from './plugins/errors.ts'
import health from './plugins/health.ts'
import loadShedding from './plugins/load-shedding.ts'
import metrics from './plugins/metrics.ts'
import openapi, { type OpenApiOptions } from './plugins/openapi.ts'
import tracing from './plugins/tracing.ts'

/** A Fastify instance typed by the TypeBox schemas of its routes. */
export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>

/** The part of a service's configuration the shared plumbing reads. */
export type ServiceConfig = ServiceEnv & {
  readonly UPSTREAM_TRY_TIMEOUT_MS?: number
  readonly UPSTREAM_MAX_TRIES?: number
  readonly UPSTREAM_EJECT_AFTER?: number
  readonly UPSTREAM_EJECTION_MS?: number
  readonly DISCOVERY_PANIC_THRESHOLD?: number
}

export interface ServiceOptions {
  /** Service name: Consul service, `service.name` in logs and traces, `service` metric label. */
  readonly name: string
  readonly config: ServiceConfig
  /** pino options or `false`; defaults to ECS JSON at `LOG_LEVEL`. */
  readonly logger?: FastifyServerOptions['logger']
  /** Static instance lists by service name, used when Consul is not configured. */
  readonly upstreams?: Readonly<Record<string, { readonly urls: string | undefined; readonly variable: string }>>
  /** Fastify's `trustProxy`: believe the peer's X-Forwarded-* (a service behind Traefik). Default false. */
  readonly trustProxy?: boolean
  /**
   * Published at the edge (the gateway): the operational routes (`/health/*`, `/metrics`) then
   * answer 404 to every request a proxy forwarded (one carrying X-Forwarded-For, which Traefik
   * always sets). Prometheus, Consul, Docker and the kubelet call the instance directly. The
   * edge's router rule leaves those paths out too; this holds when a path slips past it.
   */
  readonly published?: boolean
  /** What the service's OpenAPI document says about itself; its tagged routes fill the rest. */
  readonly openapi?: OpenApiOptions
  /** Consul tags `runService` registers the instance with (Traefik's router on the gateway). */
  readonly tags?: readonly string[]
}

/** What every service's `buildApp({ config, logger })` in `src/app.ts` takes. */
export interface BuildOptions<C extends ServiceConfig> {
  readonly config: C
  /** pino options or `false`; defaults to ECS JSON at `LOG_LEVEL`. */
  readonly logger?: ServiceOptions['logger']
  /** A service with a database: an open one to use instead of opening one from the config (tests share one). */
  readonly database?: Database
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route for the platform, not for clients: probes and metrics. */
    readonly operational?: boolean
  }
}

/**
 * Query strings, params and headers are text, so they are coerced to the schema's types; a JSON
 * body already has types, so `{"price": "12"}` is a 400, not a silent conversion.
 */
const strictBodies: ValidatorFactory = (externalSchemas, options) => {
  const coercing = AjvCompiler()(externalSchemas, options)
  // Built for the first body schema only: each Ajv instance compiles the JSON Schema meta-schema
  // to check the shared schemas, ~20 ms of the start, and a service without bodies (the
  // gateway) never needs this one.
  let strict: typeof coercing | undefined
  return (route) => {
    if (route.httpPart !== 'body') return coercing(route)
    strict ??= AjvCompiler()(externalSchemas, {
      ...options,
      mode: undefined,
      customOptions: { ...options?.customOptions, coerceTypes: false },
    } as typeof options)
    return strict(route)
  }
}

/**
 * Builds a Fastify instance with the plumbing every service shares: ECS logging with request
 * ids, one error format, metrics, health probes, load shedding and discovery. It never listens;
 * `runService` does.
 */
export function createService(options: ServiceOptions): App {
  const { config } = options
  const logging =
    options.logger === undefined
      ? { loggerInstance: createLogger({ service: options.name, level: config.LOG_LEVEL }) as FastifyBaseLogger }
      : { logger: options.logger }
  const app = Fastify({
    ...logging,
    genReqId: requestId,
    trustProxy: options.trustProxy ?? false,
    // Fastify's own request lines are off: one line per request at completion instead
    // (plugins/access-log.ts, LOG_REQUESTS).
    logController: new LogController({ requestIdLogLabel: REQUEST_ID_LOG_LABEL, disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    // Node's bound on receiving one whole request, headers and body: a client trickling one in
    // cannot hold a socket (408). Idle connections between requests are keepAliveTimeout's.
    requestTimeout: 30_000,
    // Fastify's default gives each plugin 10 s to start. PGlite's WASM start on a machine whose
    // cores are busy takes longer than that and is still healthy; the bound that matters is the
    // caller's (a readiness deadline, a startup probe), so each plugin here gets two minutes.
    pluginTimeout: 120_000,
    // What Node's parser and Fastify's router refuse before any route answers in the common format too.
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: {
      // Unknown properties are rejected with 400 naming them, never silently dropped.
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
    schemaController: { compilersFactory: { buildValidator: strictBodies } },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Node forgets a socket's address once the socket is destroyed, unless it was read before; a
  // malformed pipelined request can destroy it before the next request's hooks run, and
  // request.ip (the rate limiter's key) would be undefined. Reading it at connect keeps it.
  app.server.on('connection', rememberPeer)

  // Hooks on every request take a callback, not a promise: cheaper per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })

  // Ajv coerces "1e400" or "Infinity" in a query string or path to Infinity, which then slips
  // past minimum and maximum: refuse it on the routes that declare such schemas. It also
  // coerces "0x1", "+1", "01", "1.0" and "1e2" to integers: an integer in a path or query
  // string must be written canonically, so one id has one URL.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { querystring?: unknown; params?: unknown } | undefined
    if (schema?.querystring === undefined && schema?.params === undefined) return
    const existing = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler]
    route.preHandler = [rejectNonFinite, ...existing]
    const integers = { querystring: integerFields(schema.querystring), params: integerFields(schema.params) }
    if (integers.querystring.length + integers.params.length === 0) return
    const validating =
      route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation]
    route.preValidation = [canonicalIntegers(integers), ...validating]
  })

  if (options.published === true) {
    app.addHook('onRoute', (route) => {
      if (route.config?.operational !== true) return
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
      route.onRequest = [hiddenFromProxies, ...existing]
    })
  }

  app.register(errors)
  // Before any route: @fastify/swagger describes the routes registered after it.
  if (options.openapi !== undefined) app.register(openapi, options.openapi)
  if (config.LOG_REQUESTS) app.register(accessLog)
  // runService starts the tracer provider (telemetry.ts) exactly when this is set.
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) app.register(tracing, { service: options.name })
  app.register(metrics, { service: options.name })
  app.register(health)
  app.register(loadShedding, { service: options.name, maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS })
  const staticLists: Record<string, StaticList> = {}
  for (const [service, list] of Object.entries(options.upstreams ?? {})) {
    staticLists[service] = { urls: urlList(list.urls), variable: list.variable }
  }
  app.register(discovery, {
    tags: options.tags ?? [],
    ...(config.CONSUL_HTTP_ADDR ? { consul: { address: config.CONSUL_HTTP_ADDR, token: config.CONSUL_HTTP_TOKEN } } : {}),
    ...(config.DISCOVERY_PANIC_THRESHOLD === undefined ? {} : { panicThresholdPercent: config.DISCOVERY_PANIC_THRESHOLD }),
    staticLists,
    upstream: {
      tryTimeoutMs: config.UPSTREAM_TRY_TIMEOUT_MS,
      maxTries: config.UPSTREAM_MAX_TRIES,
      ejectAfterFailures: config.UPSTREAM_EJECT_AFTER,
      ejectionMs: config.UPSTREAM_EJECTION_MS,
    },
  })
  return app
}

function rememberPeer(socket: Socket): void {
  void socket.remoteAddress
}

/** The names of an object schema's integer properties. */
function integerFields(schema: unknown): string[] {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {}
  return Object.keys(properties).filter((name) => properties[name]?.type === 'integer')
}

const CANONICAL_INTEGER = /^(0|[1-9][0-9]*)$/

/** Refuses, before Ajv coerces them, integers in the query string or path not written as plain digits. */
function canonicalIntegers(fields: { readonly querystring: readonly string[]; readonly params: readonly string[] }) {
  return function checkIntegers(request: FastifyRequest, _reply: unknown, done: (error?: Error) => void) {
    const field = nonCanonical('querystring', request.query, fields.querystring) ?? nonCanonical('params', request.params, fields.params)
    if (field === undefined) return done()
    done(
      new HttpError(
        400,
        `${field} must be a decimal integer: digits only, without sign, leading zeros or exponent, at most ${Number.MAX_SAFE_INTEGER}`,
        field,
      ),
    )
  }
}

function nonCanonical(part: string, values: unknown, names: readonly string[]): string | undefined {
  if (typeof values !== 'object' || values === null) return undefined
  for (const name of names) {
    const value = (values as Record<string, unknown>)[name]
    const items: unknown[] = Array.isArray(value) ? value : [value]
    for (const item of items) {
      if (typeof item === 'string' && !(CANONICAL_INTEGER.test(item) && Number.isSafeInteger(Number(item)))) return `${part}.${name}`
    }
  }
  return undefined
}

/** The first field of a coerced query or params object holding a non-finite number. */
async function rejectNonFinite(request: FastifyRequest) {
  const field = nonFinite('querystring', request.query) ?? nonFinite('params', request.params)
  if (field !== undefined) throw new HttpError(400, `${field} must be a finite number`, field)
}

function nonFinite(part: string, values: unknown): string | undefined {
  if (typeof values !== 'object' || values === null) return undefined
  for (const [key, value] of Object.entries(values)) {
    const items: unknown[] = Array.isArray(value) ? value : [value]
    if (items.some((item) => typeof item === 'number' && !Number.isFinite(item))) return `${part}.${key}`
  }
  return undefined
}

function hiddenFromProxies(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (request.headers['x-forwarded-for'] === undefined) done()
  else answerNoRoute(request, reply)
}
