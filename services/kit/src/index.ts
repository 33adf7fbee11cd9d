// The kit's public surface: services import from `@platform/kit` only (README.md).

// Building and running a service.
export { createService, type App, type BuildOptions, type ServiceConfig, type ServiceOptions } from './service.ts'
export { main, runService, type RunOptions } from './server.ts'

// Library modules.
export {
  ConfigError,
  databaseEnv,
  loadConfig,
  portEnv,
  serviceEnv,
  upstreamEnv,
  urlList,
  type DatabaseEnv,
  type ServiceEnv,
} from './config.ts'
export {
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
export { ConsulClient, instanceId, staticResolver, type Registration, type Resolver, type ServiceInstance } from './discovery/index.ts'
export { answerNoRoute, describeValidation, ErrorBody, HttpError } from './errors.ts'
export { loggerOptions, requestId } from './logger.ts'
export {
  addCommonResponses,
  COMMON_HEADERS,
  TOTAL_COUNT_HEADER,
  errorResponse,
  type CommonResponses,
  type OpenApiDocument,
  type Operation,
} from './openapi.ts'
export { PrintableText } from './text.ts'
export {
  hopByHop,
  Upstream,
  UpstreamUnavailableError,
  type ForwardedResponse,
  type UpstreamRequest,
  type UpstreamResponse,
} from './upstream/index.ts'

// Plugins: createService registers all but the database, which a data service registers itself.
export { default as databasePlugin } from './plugins/database.ts'
export { type Discovery } from './plugins/discovery.ts'
export { type Health, type ReadinessCheck } from './plugins/health.ts'
export { LATENCY_BUCKETS } from './plugins/metrics.ts'
export { type OpenApiOptions } from './plugins/openapi.ts'
