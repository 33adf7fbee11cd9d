import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { ecsFormat } from '@elastic/ecs-pino-format'
import type { LoggerOptions } from 'pino'

export interface LoggerSettings {
  /** ECS `service.name` on every line. */
  readonly service: string
  readonly level: string
}

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
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-consul-token"]'],
      censor: '[redacted]',
    },
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Keeps a caller's `x-request-id` when it is sane, so one id follows a request across services. */
export function requestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}
