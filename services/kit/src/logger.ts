import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { ecsFormat } from '@elastic/ecs-pino-format'
import { destination, pino, type Logger, type LoggerOptions } from 'pino'

export interface LoggerSettings {
  /** ECS `service.name` on every line. */
  readonly service: string
  readonly level: string
}

/** Request headers that carry credentials, as redaction path suffixes. */
const SECRET_HEADERS = ['.authorization', '.cookie', '["x-consul-token"]', '["proxy-authorization"]']

/**
 * pino options for ECS JSON on stdout: Logstash and Filebeat ship these lines unchanged into
 * Elasticsearch. `trace.id` and `span.id` are added by the OpenTelemetry pino instrumentation
 * when tracing is on (see telemetry.ts).
 */
export function loggerOptions(settings: LoggerSettings): LoggerOptions {
  const ecs = ecsFormat({ convertReqRes: true, apmIntegration: false, serviceName: settings.service })
  return {
    ...ecs,
    level: settings.level,
    // The ECS formatter turns a logged `req` into `http.request` (and `res` into
    // `http.response`) before pino redacts, so the paths name the ECS fields; `req.*` stays for
    // a request logged under that name some other way.
    redact: {
      paths: SECRET_HEADERS.flatMap((header) => [`http.request.headers${header}`, `req.headers${header}`]).concat(
        'http.response.headers["set-cookie"]',
      ),
      censor: '[redacted]',
    },
  }
}

/** Buffered lines go out at least this often, whatever the traffic. */
const FLUSH_INTERVAL_MS = 100

/**
 * The service's logger: ECS JSON lines on stdout, buffered and written in batches of 4 KiB or
 * every FLUSH_INTERVAL_MS, whichever comes first. A write per line (synchronous, or handed to
 * the thread pool) was about a fifth of the gateway's CPU per request; a batch costs the same
 * as one line. Nothing is lost at exit: the 'exit' handler writes what is still buffered,
 * synchronously, and every way the process ends (a signal's graceful shutdown, a fatal error
 * handled by close-with-grace, `process.exit`) passes through it. A SIGKILL loses at most the
 * last FLUSH_INTERVAL_MS of lines.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const stdout = destination({ dest: 1, sync: false, minLength: 4096 })
  const timer = setInterval(() => stdout.flush(), FLUSH_INTERVAL_MS)
  timer.unref()
  process.once('exit', () => {
    clearInterval(timer)
    try {
      stdout.flushSync()
    } catch {
      // Nothing buffered, or stdout already closed: nothing left to save.
    }
  })
  return pino(loggerOptions(settings), stdout)
}

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Keeps a caller's `x-request-id` when it is sane, so one id follows a request across services. */
export function requestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}
