import { randomUUID } from 'node:crypto'
import { writeSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { ecsFormat } from '@elastic/ecs-pino-format'
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'

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
  const ecsLog = ecs.formatters!.log!
  const levels = new Map<string, object>()
  let stampedAt = 0
  let stamp = ''
  return {
    ...ecs,
    // The ECS formatters, with the same output for less work per line: the line's object is
    // copied only when it holds a `req`, `res` or `err` to convert, the level field is built
    // once per level, and the timestamp once per millisecond.
    formatters: {
      ...ecs.formatters,
      level(label: string) {
        let field = levels.get(label)
        if (field === undefined) levels.set(label, (field = { 'log.level': label }))
        return field
      },
      log(object: Record<string, unknown>) {
        return object.req === undefined && object.res === undefined && object.err === undefined ? object : ecsLog(object)
      },
    },
    timestamp() {
      const now = Date.now()
      if (now !== stampedAt) {
        stampedAt = now
        stamp = `,"@timestamp":"${new Date(now).toISOString()}"`
      }
      return stamp
    },
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
/** A batch this long (in UTF-16 units, about bytes for log lines) is written at once. */
const BATCH_LENGTH = 4096

/**
 * Log lines gathered in memory and written to a file descriptor in batches of BATCH_LENGTH, with
 * one synchronous write each: on a pipe that is one system call per batch and no hop through
 * the thread pool (pino's sonic-boom in asynchronous mode cost about 6.5 µs of CPU per line,
 * this 2). A reader that falls behind makes the write wait, as a full disk would for a file:
 * the lines are held back, not piled up in memory. On a non-blocking descriptor a full pipe
 * keeps the batch for the next write or flush.
 */
export class BatchedLines implements DestinationStream {
  readonly #fd: number
  #lines = ''
  /** Bytes a full non-blocking pipe refused: written before any newer line. */
  #refused: Buffer | undefined

  constructor(fd: number) {
    this.#fd = fd
  }

  write(line: string): void {
    this.#lines += line
    if (this.#lines.length >= BATCH_LENGTH) this.flush()
  }

  /** Writes what is gathered. Returns false when a non-blocking pipe refused part of it (kept for later). */
  flush(): boolean {
    if (this.#refused === undefined) {
      if (this.#lines.length === 0) return true
      const lines = this.#lines
      this.#lines = ''
      let written: number
      try {
        written = writeSync(this.#fd, lines)
      } catch (error) {
        return this.#failed(error, Buffer.from(lines))
      }
      // A short write is rare (a pipe with less room than the batch): the rest as bytes.
      if (written === Buffer.byteLength(lines)) return true
      this.#refused = Buffer.from(lines).subarray(written)
    } else if (this.#lines.length > 0) {
      this.#refused = Buffer.concat([this.#refused, Buffer.from(this.#lines)])
      this.#lines = ''
    }
    let data = this.#refused
    this.#refused = undefined
    while (data.length > 0) {
      try {
        data = data.subarray(writeSync(this.#fd, data))
      } catch (error) {
        return this.#failed(error, data)
      }
    }
    return true
  }

  #failed(error: unknown, data: Buffer): boolean {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
      this.#refused = data
      return false
    }
    // Nowhere to write (the reader is gone): these lines are lost, and logging must not take
    // the service down with it.
    return true
  }
}

/**
 * The service's logger: ECS JSON lines on stdout, written in batches of BATCH_LENGTH or every
 * FLUSH_INTERVAL_MS, whichever comes first (see BatchedLines). Nothing is lost at exit: the
 * 'exit' handler writes what is still gathered, and every way the process ends (a signal's
 * graceful shutdown, a fatal error handled by close-with-grace, `process.exit`) passes through
 * it. A SIGKILL loses at most the last FLUSH_INTERVAL_MS of lines.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const stdout = new BatchedLines(1)
  const timer = setInterval(() => stdout.flush(), FLUSH_INTERVAL_MS)
  timer.unref()
  process.once('exit', () => {
    clearInterval(timer)
    // A full non-blocking pipe gets a few more chances, a second at most.
    const pause = new Int32Array(new SharedArrayBuffer(4))
    for (let i = 0; i < 100 && !stdout.flush(); i++) Atomics.wait(pause, 0, 0, 10)
  })
  return pino(loggerOptions(settings), stdout)
}

/** The field of every request's log lines that holds its id. */
export const REQUEST_ID_LOG_LABEL = 'http.request.id'

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Keeps a caller's `x-request-id` when it is sane, so one id follows a request across services. */
export function requestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}
