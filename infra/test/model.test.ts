// The service model: what both renderers read.
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { configProperties as gatewayEnv, readConfig as readGatewayConfig } from '../../services/gateway/src/config.ts'
import { configProperties as orderEnv } from '../../services/order-service/src/config.ts'
import { configProperties as userEnv } from '../../services/user-service/src/config.ts'
import {
  appServices,
  cpuCores,
  GATEWAY_ROUTER_RULE,
  isPlatformDependency,
  mebibytes,
  missingSecrets,
  nodeOptions,
  PLATFORM_DEPENDENCIES,
  resolveDependencies,
  resolveEnv,
  resourceAmounts,
  RUNTIME_VARIABLES,
  runtimeEnv,
  secretsOf,
  startAllowanceSeconds,
  terminationGracePeriodSeconds,
} from '../model.ts'

const services = appServices({ replicas: { 'user-service': 2, 'order-service': 3, gateway: 1 }, logLevel: 'debug' })
const byName = Object.fromEntries(services.map((service) => [service.name, service]))

describe('appServices', () => {
  it('describes the three services on their ports with the replicas asked for', () => {
    expect(services.map((service) => [service.name, service.port, service.replicas])).toEqual([
      ['user-service', 3001, 2],
      ['order-service', 3002, 3],
      ['gateway', 3000, 1],
    ])
  })

  it("names only variables each service's own schema declares", () => {
    const schemas: Record<string, object> = { 'user-service': userEnv, 'order-service': orderEnv, gateway: gatewayEnv }
    for (const service of services) {
      for (const key of Object.keys(service.env)) {
        if (!RUNTIME_VARIABLES.includes(key)) expect(Object.keys(schemas[service.name]!), `${service.name}: ${key}`).toContain(key)
      }
    }
  })

  it('lists the secrets each service needs: a Consul token for all, a database URL for the data services', () => {
    expect(secretsOf(byName['user-service']!).sort()).toEqual(['consul-token', 'database-url'])
    expect(secretsOf(byName.gateway!)).toEqual(['consul-token'])
    expect(byName['order-service']!.database).toEqual({ name: 'orders', role: 'order_service' })
  })

  it('keeps the grace period above the in-service shutdown deadline, which is above the drain delay', () => {
    for (const service of services) {
      expect(service.shutdown.gracePeriodSeconds * 1000).toBeGreaterThan(service.shutdown.timeoutMs)
      expect(service.shutdown.timeoutMs).toBeGreaterThan(service.shutdown.drainDelayMs)
      expect(service.env.DRAIN_DELAY_MS).toEqual({ kind: 'value', value: String(service.shutdown.drainDelayMs) })
    }
  })

  it('publishes only the gateway at the edge, with the router rule it registers', () => {
    expect(services.filter((service) => service.ingress !== undefined).map((service) => service.name)).toEqual(['gateway'])
    expect(byName.gateway!.env.ROUTER_RULE).toEqual({ kind: 'value', value: byName.gateway!.ingress!.routerRule })
  })

  it('orders services so each depends only on ones declared before it', () => {
    const seen = new Set<string>()
    for (const service of services) {
      for (const dependency of service.dependsOn) {
        if (byName[dependency] !== undefined) expect(seen.has(dependency), `${service.name} after ${dependency}`).toBe(true)
      }
      seen.add(service.name)
    }
  })
})

describe('quantities', () => {
  it('converts Kubernetes quantities to what Docker takes', () => {
    expect(cpuCores('500m')).toBe(0.5)
    expect(cpuCores('2')).toBe(2)
    expect(mebibytes('256Mi')).toBe(256)
    expect(mebibytes('1Gi')).toBe(1024)
    expect(() => mebibytes('256MB')).toThrow(/256Mi or 1Gi/)
    expect(() => cpuCores('half')).toThrow(/500m or 2/)
  })
})

describe('nodeOptions', () => {
  it("sizes V8's heap inside each service's memory limit, with options Node itself accepts", () => {
    for (const service of services) {
      const options = service.env.NODE_OPTIONS
      expect(options).toEqual({ kind: 'value', value: nodeOptions(mebibytes(service.resources.limits.memory)) })
      const limitMiB = mebibytes(service.resources.limits.memory)
      // A real Node with these options: it starts, and its heap limit sits below the container's.
      const heapLimit = execFileSync(process.execPath, ['-p', 'v8.getHeapStatistics().heap_size_limit'], {
        env: { PATH: process.env.PATH, NODE_OPTIONS: options?.kind === 'value' ? options.value : '' },
        encoding: 'utf8',
      })
      const heapMiB = Number(heapLimit) / 2 ** 20
      expect(heapMiB, service.name).toBeGreaterThan(limitMiB / 2)
      expect(heapMiB, service.name).toBeLessThan(limitMiB * 0.8)
    }
  })

  it('refuses a limit too small for a Node service, in one line', () => {
    expect(() => nodeOptions(64)).toThrow('a Node service needs at least 128 MiB of memory (got 64)')
  })
})

describe('runtimeEnv', () => {
  it("gives every service V8's sizing and two malloc arenas, as its containers get them", () => {
    for (const service of services) {
      expect(runtimeEnv(service)).toEqual({
        NODE_OPTIONS: nodeOptions(mebibytes(service.resources.limits.memory)),
        MALLOC_ARENA_MAX: '2',
      })
    }
  })

  it('names the service and the variable when one is not a plain value', () => {
    const gateway = byName.gateway!
    const env = Object.fromEntries(Object.entries(gateway.env).filter(([name]) => name !== 'MALLOC_ARENA_MAX'))
    expect(() => runtimeEnv({ ...gateway, env })).toThrow('gateway: the model sets no MALLOC_ARENA_MAX value')
  })
})

describe('the edge', () => {
  it("routes to the gateway by the gateway's own default rule, which leaves out metrics and probes", () => {
    expect(byName.gateway!.ingress!.routerRule).toBe(GATEWAY_ROUTER_RULE)
    expect(readGatewayConfig({}).ROUTER_RULE).toBe(GATEWAY_ROUTER_RULE)
    expect(GATEWAY_ROUTER_RULE).toMatch(/!PathPrefix\(`\/metrics`\)/)
    expect(GATEWAY_ROUTER_RULE).toMatch(/!PathPrefix\(`\/health`\)/)
  })
})

describe('apiDocs', () => {
  it("turns the gateway's /docs on by default and off when the stack says so", () => {
    expect(byName.gateway!.env.API_DOCS).toEqual({ kind: 'value', value: 'true' })
    const off = appServices({ replicas: { 'user-service': 1, 'order-service': 1, gateway: 1 }, logLevel: 'info', apiDocs: false })
    const gateway = off.find((service) => service.name === 'gateway')!
    expect(gateway.env.API_DOCS).toEqual({ kind: 'value', value: 'false' })
    expect(readGatewayConfig({ API_DOCS: 'false' }).API_DOCS).toBe(false)
  })
})

describe('what each renderer derives from a service', () => {
  const order = byName['order-service']!
  const platform = Object.fromEntries(PLATFORM_DEPENDENCIES.map((dependency) => [dependency, [`${dependency}-a`, `${dependency}-b`]]))

  it("resolves a service's dependencies in its own order: each platform piece given, then the upstream services' components", () => {
    const { resolved, unresolved } = resolveDependencies(order, {
      platform,
      services: { 'user-service': 'user-service-component', gateway: 'unrelated' },
    })
    expect(resolved).toEqual([
      'database-a',
      'database-b',
      'discovery-a',
      'discovery-b',
      'tracing-a',
      'tracing-b',
      'logging-a',
      'logging-b',
      'user-service-component',
    ])
    expect(unresolved).toEqual([])
  })

  it('names every dependency nothing was given for: a platform piece left out, a service not made yet', () => {
    const withoutDatabase = Object.fromEntries(Object.entries(platform).filter(([dependency]) => dependency !== 'database'))
    expect(resolveDependencies(order, { platform: withoutDatabase, services: {} }).unresolved).toEqual(['database', 'user-service'])
    // Only own keys count: an upstream is never found on the object's prototype.
    expect(resolveDependencies({ ...order, dependsOn: ['toString' as 'gateway'] }, { platform, services: {} }).unresolved).toEqual([
      'toString',
    ])
  })

  it('tells the platform concerns from app services', () => {
    expect(PLATFORM_DEPENDENCIES.every(isPlatformDependency)).toBe(true)
    expect(services.some((service) => isPlatformDependency(service.name))).toBe(false)
  })

  it('lists the secrets a renderer was not given, and none when it has them all', () => {
    expect(missingSecrets(order, {})).toEqual(['consul-token', 'database-url'])
    expect(missingSecrets(order, { 'consul-token': 'token' })).toEqual(['database-url'])
    expect(missingSecrets(order, { 'consul-token': 'token', 'database-url': 'url' })).toEqual([])
  })

  it("resolves every variable through the renderer's resolver, in the model's order", () => {
    const env = resolveEnv(order, {
      value: (text) => `value:${text}`,
      secret: (secret) => `secret:${secret}`,
      endpoint: (endpoint) => `endpoint:${endpoint}`,
      instanceAddress: () => 'address',
    })
    expect(env.map(([name]) => name)).toEqual(Object.keys(order.env))
    expect(Object.fromEntries(env)).toMatchObject({
      PORT: 'value:3002',
      SERVICE_ADDRESS: 'address',
      CONSUL_HTTP_ADDR: 'endpoint:consul-http',
      CONSUL_HTTP_TOKEN: 'secret:consul-token',
      DATABASE_URL: 'secret:database-url',
    })
  })

  it('allows a minute to start (migrations), and gives the pod its preStop pause on top of the grace', () => {
    expect(startAllowanceSeconds(order)).toBe(60)
    expect(terminationGracePeriodSeconds(order)).toBe(35)
    expect((terminationGracePeriodSeconds(order) - order.shutdown.preStopSeconds) * 1000).toBeGreaterThan(order.shutdown.timeoutMs)
  })

  it('reads the requests and limits as cores and MiB', () => {
    expect(resourceAmounts(order)).toEqual({ cpu: { request: 0.1, limit: 0.5 }, memoryMiB: { request: 128, limit: 256 } })
  })
})
