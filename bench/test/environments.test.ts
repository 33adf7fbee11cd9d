import { describe, expect, it } from 'vitest'
import { nodeOptions } from '../../infra/model.ts'
import { gatewayEnv, runtimeEnv, userServiceEnv } from '../lib/environments.ts'

// Every app container's limit in the stacks: 256Mi.
const NODE_OPTIONS = nodeOptions(256)
const RUNTIME = { NODE_OPTIONS, MALLOC_ARENA_MAX: '2' }

const urls = { upstreamUrl: 'http://127.0.0.1:3001', unusedUpstreamUrl: 'http://127.0.0.1:9', otlpUrl: 'http://127.0.0.1:4318' }
const production = { logging: 'production', gatewayEnv: {} } as const

describe('gatewayEnv', () => {
  it('leaves the production defaults to the gateway, tracing to the sink, the rate limit out of the way', () => {
    expect(gatewayEnv(production, urls)).toEqual({
      ...RUNTIME,
      USER_SERVICE_URLS: 'http://127.0.0.1:3001',
      ORDER_SERVICE_URLS: 'http://127.0.0.1:9',
      RATE_LIMIT_MAX: '1000000000',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    })
  })

  it('turns tracing off by leaving the endpoint out', () => {
    expect(gatewayEnv(production, { ...urls, otlpUrl: undefined })).not.toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT')
  })

  it('turns the access log off with --logging off', () => {
    expect(gatewayEnv({ ...production, logging: 'off' }, urls)).toMatchObject({ LOG_REQUESTS: 'false' })
  })

  it('applies --gateway-env last, over anything the bench sets', () => {
    expect(gatewayEnv({ ...production, gatewayEnv: { RATE_LIMIT_MAX: '10', OTEL_TRACES_SAMPLER: 'always_off' } }, urls)).toMatchObject({
      RATE_LIMIT_MAX: '10',
      OTEL_TRACES_SAMPLER: 'always_off',
    })
  })
})

describe('userServiceEnv', () => {
  it('runs a lean user-service on PostgreSQL when given its URL, on PGlite otherwise', () => {
    expect(userServiceEnv({ userEnv: {} }, 'postgres://postgres@127.0.0.1:5432/bench')).toEqual({
      ...RUNTIME,
      LOG_LEVEL: 'warn',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/bench',
    })
    expect(userServiceEnv({ userEnv: {} })).toEqual({ ...RUNTIME, LOG_LEVEL: 'warn' })
  })

  it('applies --user-env last', () => {
    expect(userServiceEnv({ userEnv: { LOG_LEVEL: 'info' } })).toEqual({ ...RUNTIME, LOG_LEVEL: 'info' })
  })
})

describe('runtimeEnv', () => {
  it("sizes V8 as the stacks do, from each service's memory limit in the model", () => {
    expect(runtimeEnv('gateway')).toEqual(RUNTIME)
    expect(runtimeEnv('user-service')).toEqual(RUNTIME)
  })
})
