// The prod stack file's Kubernetes keys: a mistake in Pulumi.prod.yaml stops the run with one
// line naming the key, before a single resource is registered.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as pulumi from '@pulumi/pulumi'
import { parse, stringify } from 'yaml'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { configTable, DEFAULT_CHARTS, DEFAULT_REPLICAS, loadStackConfig, StackConfigError } from '../config.ts'
import { CHARTS } from '../kubernetes/charts.ts'
import { countingMocks, PROJECT, stackConfigFile } from './support/program.ts'
import { PROD_STACK_FILE } from './support/kubernetes.ts'

let mocks: Awaited<ReturnType<typeof countingMocks>>

beforeAll(async () => {
  mocks = await countingMocks('prod')
})

afterEach(() => {
  mocks.reset()
})

type StackDocument = { config: Record<string, unknown> }

let variants: string

beforeAll(() => {
  variants = mkdtempSync(join(tmpdir(), 'prod-variant-'))
})

afterAll(() => {
  rmSync(variants, { recursive: true, force: true })
})

/** Sets the config as the CLI would hand over Pulumi.prod.yaml after `change` edited it. */
function prodWith(change: (config: Record<string, unknown>) => void): void {
  const document = parse(readFileSync(PROD_STACK_FILE, 'utf8')) as StackDocument
  change(document.config)
  const file = join(variants, 'Pulumi.prod.yaml')
  writeFileSync(file, stringify(document))
  const input = stackConfigFile(file, { [`${PROJECT}:registryPassword`]: 'registry-token' })
  pulumi.runtime.setAllConfig(input.config, input.secretKeys)
}

function errorOf(): string {
  try {
    loadStackConfig()
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError)
    const message = (error as Error).message
    expect(message).not.toContain('\n')
    return message
  }
  throw new Error('expected a StackConfigError')
}

const kubernetesKeys = (config: Record<string, unknown>) => {
  const kubernetes = config[`${PROJECT}:kubernetes`] as Record<string, unknown> & { charts?: Record<string, unknown> }
  kubernetes.charts ??= {} // the stack file pins no chart: infra/config.ts does
  return kubernetes as typeof kubernetes & { charts: Record<string, unknown> }
}
const servicesKeys = (config: Record<string, unknown>) => config[`${PROJECT}:services`] as Record<string, { replicas?: unknown }>

describe('Pulumi.prod.yaml', () => {
  it('loads as it is: kubernetes keys, every chart at the one pin in infra/config.ts, replicas as written', () => {
    prodWith(() => {})
    const config = loadStackConfig()
    expect(config.kubernetes).toMatchObject({
      namespace: 'platform',
      observabilityNamespace: 'platform-observability',
      systemNamespace: 'platform-system',
      context: 'prod',
    })
    expect(Object.keys(config.kubernetes.charts).sort()).toEqual(Object.keys(CHARTS).sort())
    expect(config.kubernetes.charts).toEqual(DEFAULT_CHARTS)
    expect(Object.values(config.services).map((service) => service.replicas)).toEqual([3, 3, 2])
  })

  it('rejects an invalid replica count with one message naming the key', () => {
    prodWith((config) => {
      servicesKeys(config).gateway!.replicas = 0
    })
    expect(errorOf()).toBe(
      'microservice-platform:services.gateway.replicas=0: must be >= 1 (instances of gateway (containers on docker, pods on kubernetes))',
    )
    prodWith((config) => {
      servicesKeys(config)['order-service']!.replicas = 'three'
    })
    expect(errorOf()).toMatch(/^microservice-platform:services\.order-service\.replicas="three": must be integer/)
  })

  it('rejects an unknown chart version key with one message naming it and the known ones', () => {
    prodWith((config) => {
      kubernetesKeys(config).charts.prometheus = '81.4.5'
    })
    expect(errorOf()).toBe(
      'microservice-platform:kubernetes.charts.prometheus is not a configuration key (kubernetes.charts takes consul, traefik, eckOperator, kubePrometheusStack, jaeger, cloudnativePg)',
    )
  })

  it('rejects a chart version that is a range or a prefix, naming the key', () => {
    for (const version of ['^1.9.3', '1.9', 'latest']) {
      prodWith((config) => {
        kubernetesKeys(config).charts.consul = version
      })
      expect(errorOf()).toBe(
        `microservice-platform:kubernetes.charts.consul=${JSON.stringify(version)}: must be an exact chart version like 1.9.3`,
      )
    }
  })

  it('rejects an unknown kubernetes key and a namespace that is not a DNS label', () => {
    prodWith((config) => {
      kubernetesKeys(config).namepsace = 'platform'
    })
    expect(errorOf()).toMatch(
      /^microservice-platform:kubernetes\.namepsace is not a configuration key \(kubernetes takes namespace, observabilityNamespace, systemNamespace, /,
    )
    prodWith((config) => {
      kubernetesKeys(config).systemNamespace = 'Platform_System'
    })
    expect(errorOf()).toMatch(/^microservice-platform:kubernetes\.systemNamespace="Platform_System": must be a DNS label/)
  })

  it('runs two pods of a service whose replicas the file leaves unset, one container on docker', () => {
    prodWith((config) => {
      delete servicesKeys(config).gateway!.replicas
    })
    expect(loadStackConfig().services.gateway.replicas).toBe(DEFAULT_REPLICAS.kubernetes)
    pulumi.runtime.setAllConfig({ [`${PROJECT}:target`]: 'docker' })
    expect(loadStackConfig().services.gateway.replicas).toBe(DEFAULT_REPLICAS.docker)
    expect(configTable()).toContain(
      '| `services.gateway.replicas` | integer 1–10 | `1` | instances of gateway (containers on docker, pods on kubernetes); 2 when unset and target is kubernetes |',
    )
  })
})

describe('the program with a broken Pulumi.prod.yaml', () => {
  it('stops on an invalid replica count before any resource is registered', async () => {
    prodWith((config) => {
      servicesKeys(config)['user-service']!.replicas = 11
    })
    vi.resetModules()
    await expect(import('../index.ts')).rejects.toThrow(/^microservice-platform:services\.user-service\.replicas=11: must be <= 10/)
    expect(mocks.count()).toBe(0)
  })

  it('stops on an unknown chart key before any resource is registered', async () => {
    prodWith((config) => {
      kubernetesKeys(config).charts.grafana = '10.5.12'
    })
    vi.resetModules()
    await expect(import('../index.ts')).rejects.toThrow(/^microservice-platform:kubernetes\.charts\.grafana is not a configuration key/)
    expect(mocks.count()).toBe(0)
  })
})
