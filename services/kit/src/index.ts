export { ConfigError, databaseEnv, loadConfig, portEnv, serviceEnv, upstreamEnv, urlList, type DatabaseEnv, type ServiceEnv } from './config.ts'
export {
  default as databasePlugin,
  migrate,
  openDatabase,
  sampleRows,
  type Database,
  type DatabaseOptions,
  type Migration,
  type MigrationOptions,
  type Migrations,
  type Queryable,
  type QueryResult,
} from './database.ts'
export { type Discovery } from './discovery-plugin.ts'
export { ConsulClient, instanceId, staticResolver, type Registration, type Resolver, type ServiceInstance } from './discovery/index.ts'
export { answerNoRoute, describeValidation, ErrorBody, HttpError } from './errors.ts'
export { type Health, type ReadinessCheck } from './health.ts'
export { loggerOptions, requestId } from './logger.ts'
export { PrintableText } from './text.ts'
export { LATENCY_BUCKETS } from './metrics.ts'
export { main, runService, type RunOptions } from './server.ts'
export { createService, type App, type BuildOptions, type ServiceConfig, type ServiceOptions } from './service.ts'
export { hopByHop, Upstream, UpstreamUnavailableError, type UpstreamRequest, type UpstreamResponse } from './upstream/index.ts'
export {
  addCommonResponses,
  COMMON_HEADERS,
  TOTAL_COUNT_HEADER,
  errorResponse,
  type CommonResponses,
  type OpenApiDocument,
  type OpenApiOptions,
  type Operation,
} from './openapi.ts'
