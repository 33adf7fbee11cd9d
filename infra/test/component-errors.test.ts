// A component given bad input fails as Pulumi reports resource errors: naming the resource
// (its URN), not as a bare Error from somewhere in the program.
import * as pulumi from '@pulumi/pulumi'
import { beforeAll, describe, expect, it } from 'vitest'
import { DockerService, type DockerServiceArgs } from '../docker/services.ts'
import { KubernetesService, type KubernetesServiceArgs } from '../kubernetes/services.ts'
import { appServices, type AppService } from '../model.ts'

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    { newResource: ({ name, inputs }) => ({ id: `${name}-id`, state: inputs }), call: () => ({}) },
    'microservice-platform',
    'dev',
    false,
  )
})

const services = appServices({ replicas: { 'user-service': 1, 'order-service': 1, gateway: 1 }, logLevel: 'info' })
const service = (name: string): AppService => services.find((candidate) => candidate.name === name)!
/** A stand-in for a platform piece or an upstream service's component. */
const piece = (name: string) => new pulumi.ComponentResource('test:platform:Piece', name)

function dockerArgs(overrides: Partial<DockerServiceArgs> = {}): DockerServiceArgs {
  return {
    service: service('order-service'),
    image: 'platform/order-service:0123456789abcdef',
    network: 'net',
    namePrefix: 'platform-dev',
    stack: 'dev',
    endpoints: { 'consul-http': 'http://consul:8500', 'otlp-http': 'http://jaeger:4318' },
    secrets: { 'consul-token': 'token', 'database-url': 'postgresql://orders' },
    platform: {
      database: [piece('docker-database')],
      discovery: [piece('docker-discovery')],
      tracing: [piece('docker-tracing')],
      logging: [piece('docker-logging')],
    },
    upstreams: { 'user-service': piece('docker-user-service') },
    gelfAddress: 'udp://127.0.0.1:12201',
    ...overrides,
  }
}

function kubernetesArgs(overrides: Partial<KubernetesServiceArgs> = {}): KubernetesServiceArgs {
  return {
    service: service('order-service'),
    image: 'ghcr.io/example/order-service:0123456789abcdef',
    namespace: { name: 'platform', output: pulumi.output('platform') },
    imagePullSecret: 'registry-credentials',
    endpoints: { 'consul-http': 'https://$(HOST_IP):8501', 'otlp-http': 'http://jaeger:4318' },
    secrets: {
      'consul-token': { name: 'consul-token-order-service', key: 'token' },
      'database-url': { name: 'order-service-db', key: 'uri' },
    },
    consulCaSecret: 'consul-ca-cert',
    platform: {
      database: [piece('k8s-database')],
      discovery: [piece('k8s-discovery')],
      tracing: [piece('k8s-tracing')],
      logging: [piece('k8s-logging')],
    },
    upstreams: { 'user-service': piece('k8s-user-service') },
    secretResources: [],
    traefik: piece('k8s-traefik'),
    tlsEntryPoint: 'websecure',
    prometheusOperator: piece('k8s-operator'),
    ingressHost: 'api.example.com',
    networkPolicy: { name: 'order-service', purposes: [], spec: { podSelector: {} } },
    ...overrides,
  }
}

const renderers = [
  ['DockerService', (name: string, overrides: Record<string, unknown>) => new DockerService(name, dockerArgs(overrides))],
  ['KubernetesService', (name: string, overrides: Record<string, unknown>) => new KubernetesService(name, kubernetesArgs(overrides))],
] as const

describe.each(renderers)('%s', (_type, make) => {
  let count = 0
  /** Builds the component under a fresh name and returns what it threw. */
  const failureOf = (overrides: Record<string, unknown>): unknown => {
    try {
      make(`apps-order-service-${(count += 1)}`, overrides)
    } catch (error) {
      return error
    }
    return undefined
  }

  it('builds from complete input without throwing', () => {
    expect(failureOf({})).toBeUndefined()
  })

  it('refuses a service without an image with a ResourceError naming the component', () => {
    const error = failureOf({ image: undefined })
    expect(error).toBeInstanceOf(pulumi.ResourceError)
    expect((error as Error).message).toBe('no image for order-service')
  })

  it('refuses a service whose environment needs a secret the stack did not give', () => {
    const error = failureOf({ secrets: {} })
    expect(error).toBeInstanceOf(pulumi.ResourceError)
    expect((error as Error).message).toBe(
      'order-service needs the secret consul-token and the secret database-url, which the stack did not provide',
    )
  })

  it('refuses a dependency that is neither a platform piece given nor a service made before it', () => {
    const error = failureOf({ upstreams: {}, platform: {} })
    expect(error).toBeInstanceOf(pulumi.ResourceError)
    expect((error as Error).message).toBe(
      'order-service depends on database, discovery, tracing, logging, user-service: given neither as a platform component nor as a service made before it',
    )
  })
})
