// Preloaded with `node --import`, so tracing patches Fastify, pino and undici before they load.
import { startTelemetry } from '@platform/kit/telemetry'

await startTelemetry('order-service')
