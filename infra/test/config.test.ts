// The stack config schema: one error naming the key for each kind of mistake, and nothing
// created when the config is wrong.
import * as pulumi from '@pulumi/pulumi'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { stackSettings } from '../../scripts/pulumi/config-table.ts'
import { configTable, loadStackConfig, StackConfigError } from '../config.ts'
import { countingMocks, PROJECT, stackConfigFile } from './support/program.ts'

let mocks: Awaited<ReturnType<typeof countingMocks>>

beforeAll(async () => {
  mocks = await countingMocks('dev')
})

function load(config: Record<string, string>, secretKeys: string[] = []) {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([key, value]) => [`${PROJECT}:${key}`, value])),
    secretKeys.map((key) => `${PROJECT}:${key}`),
  )
  return loadStackConfig()
}

function errorOf(config: Record<string, string>, secretKeys: string[] = []): string {
  try {
    load(config, secretKeys)
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError)
    const message = (error as Error).message
    expect(message).not.toContain('\n')
    return message
  }
  throw new Error('expected a StackConfigError')
}

describe('loadStackConfig', () => {
  it('applies every default to an empty config: docker target, one replica each, pinned images', () => {
    const config = load({})
    expect(config.target).toBe('docker')
    expect(config.services.gateway.replicas).toBe(1)
    expect(config.images.consul).toBe('hashicorp/consul:1.22.1')
    expect(config.images.elasticsearch.split(':')[1]).toBe(config.images.kibana.split(':')[1])
    expect(config.ports.web).toBe(8000)
    expect(config.registry).toBeUndefined()
  })

  it('reads Pulumi.dev.yaml as the CLI hands it over: two replicas of each service', () => {
    const { config, secretKeys } = stackConfigFile(new URL('../../Pulumi.dev.yaml', import.meta.url))
    pulumi.runtime.setAllConfig(config, secretKeys)
    const loaded = loadStackConfig()
    expect(loaded.target).toBe('docker')
    expect(Object.values(loaded.services).map((service) => service.replicas)).toEqual([2, 2, 2])
  })

  it('parses Pulumi.prod.yaml: kubernetes with a registry, the password a secret output', async () => {
    const { config, secretKeys } = stackConfigFile(new URL('../../Pulumi.prod.yaml', import.meta.url), {
      [`${PROJECT}:registryPassword`]: 'token-from-ci',
    })
    pulumi.runtime.setAllConfig(config, secretKeys)
    const loaded = loadStackConfig()
    expect(loaded.target).toBe('kubernetes')
    expect(loaded.registry?.server).toBe('ghcr.io')
    expect(await pulumi.isSecret(loaded.registry!.password)).toBe(true)
  })

  it('rejects an unknown top-level key, naming it and listing the known ones', () => {
    expect(errorOf({ replicas: '3' })).toMatch(
      /^microservice-platform:replicas is not a configuration key of microservice-platform \(known keys: target, logLevel, apiDocs, services, /,
    )
  })

  it('rejects an unknown nested key, naming its full path and what its parent takes', () => {
    expect(errorOf({ services: JSON.stringify({ gatway: { replicas: 2 } }) })).toBe(
      'microservice-platform:services.gatway is not a configuration key (services takes user-service, order-service, gateway)',
    )
    expect(errorOf({ images: JSON.stringify({ consul: 'hashicorp/consul:1.22.1', redis: 'redis:7.4.1' }) })).toMatch(
      /^microservice-platform:images\.redis is not a configuration key/,
    )
  })

  it('rejects a wrong type, naming the key, the value and the expected type', () => {
    expect(errorOf({ services: JSON.stringify({ gateway: { replicas: 'two' } }) })).toBe(
      'microservice-platform:services.gateway.replicas="two": must be integer (instances of gateway (containers on docker, pods on kubernetes))',
    )
    expect(errorOf({ ports: 'eighty' })).toBe('microservice-platform:ports="eighty": must be object')
  })

  it('rejects a replica count out of range, naming the key and the bound', () => {
    expect(errorOf({ services: JSON.stringify({ 'order-service': { replicas: 0 } }) })).toMatch(
      /^microservice-platform:services\.order-service\.replicas=0: must be >= 1 /,
    )
    expect(errorOf({ services: JSON.stringify({ 'user-service': { replicas: 11 } }) })).toMatch(
      /^microservice-platform:services\.user-service\.replicas=11: must be <= 10 /,
    )
    expect(errorOf({ services: JSON.stringify({ gateway: { replicas: 1.5 } }) })).toMatch(
      /^microservice-platform:services\.gateway\.replicas=1\.5: must be integer/,
    )
  })

  it('accepts replicas typed as text, as `pulumi config set --path` may store them', () => {
    expect(load({ services: JSON.stringify({ gateway: { replicas: '3' } }) }).services.gateway.replicas).toBe(3)
  })

  it('rejects a target outside docker and kubernetes, listing both', () => {
    expect(errorOf({ target: 'k8s' })).toBe(
      'microservice-platform:target="k8s": must be one of docker, kubernetes (where the stack runs: the local Docker engine (dev) or a Kubernetes cluster (prod))',
    )
  })

  it('rejects floating and latest image tags', () => {
    for (const image of ['hashicorp/consul:latest', 'hashicorp/consul', 'hashicorp/consul:1.22']) {
      expect(errorOf({ images: JSON.stringify({ consul: image }) })).toBe(
        `microservice-platform:images.consul=${JSON.stringify(image)}: must be an image reference with an exact version tag, like hashicorp/consul:1.22.1`,
      )
    }
    expect(load({ images: JSON.stringify({ postgres: 'registry.local:5000/mirror/postgres:17.10-bookworm' }) }).images.postgres).toBe(
      'registry.local:5000/mirror/postgres:17.10-bookworm',
    )
  })

  it('rejects Elastic images of different versions, naming the odd one', () => {
    expect(errorOf({ images: JSON.stringify({ kibana: 'docker.elastic.co/kibana/kibana:8.19.9' }) })).toMatch(
      /^microservice-platform:images\.kibana="docker\.elastic\.co\/kibana\/kibana:8\.19\.9": must carry the same version as images\.elasticsearch \(8\.19\.13\)/,
    )
  })

  it('rejects two services on one host port', () => {
    expect(errorOf({ ports: JSON.stringify({ grafana: 8000 }) })).toBe(
      'microservice-platform:ports.grafana=8000: must differ from ports.web, which is also 8000',
    )
  })

  it('requires a registry on kubernetes and its password as a secret', () => {
    expect(errorOf({ target: 'kubernetes' })).toMatch(/^microservice-platform:registry is required when target is kubernetes/)
    const registry = JSON.stringify({ server: 'ghcr.io', repository: 'acme/platform', username: 'ci' })
    expect(errorOf({ target: 'kubernetes', registry })).toMatch(/^microservice-platform:registryPassword is required with registry/)
    const plaintext = errorOf({ target: 'kubernetes', registry, registryPassword: 'hunter2' })
    expect(plaintext).toBe(
      'microservice-platform:registryPassword must be stored as a secret: pulumi config set --secret registryPassword <password>',
    )
    expect(plaintext).not.toContain('hunter2')
  })

  it('never echoes a secret value in an error', () => {
    expect(errorOf({ registryPassword: '' }, ['registryPassword'])).toBe(
      'microservice-platform:registryPassword: must not have fewer than 1 characters (password or token of registry.username (secret: pulumi config set --secret registryPassword ...))',
    )
  })

  it('leaves other namespaces (provider settings) alone', () => {
    pulumi.runtime.setAllConfig({ 'docker:host': 'unix:///var/run/docker.sock', [`${PROJECT}:target`]: 'docker' })
    expect(loadStackConfig().target).toBe('docker')
  })
})

describe('the program with a wrong config', () => {
  it('stops with the config error before any resource is created', async () => {
    pulumi.runtime.setAllConfig({ [`${PROJECT}:services`]: JSON.stringify({ gateway: { replicas: 0 } }) })
    vi.resetModules()
    mocks.reset()
    await expect(import('../index.ts')).rejects.toThrow(/^microservice-platform:services\.gateway\.replicas=0: must be >= 1/)
    expect(mocks.count()).toBe(0)
  })
})

describe('configTable', () => {
  it('lists every leaf key with its default, secrets marked', () => {
    const table = configTable()
    expect(table).toContain('| `services.gateway.replicas` | integer 1–10 | `1` |')
    expect(table).toContain('| `images.consul` | string | `hashicorp/consul:1.22.1` |')
    expect(table).toContain('| `registryPassword` | string (secret) | unset |')
    expect(table).toContain('| `target` | `docker` \\| `kubernetes` | `docker` |')
  })

  it('shows what each stack file sets beside the default, an override of a pinned version included', () => {
    const stacks = stackSettings(
      'config:\n  microservice-platform:target: kubernetes\n  microservice-platform:kubernetes:\n    charts:\n      traefik: 41.1.0\n  microservice-platform:registryPassword:\n    secure: v1:abc\n  other:key: 1\n',
    )

    expect(stacks).toEqual({ target: 'kubernetes', 'kubernetes.charts.traefik': '41.1.0', registryPassword: '(secret)' })
    const table = configTable({ prod: stacks })
    expect(table).toContain('| Key | Type | Default | prod stack | Meaning |')
    expect(table).toMatch(/\| `kubernetes\.charts\.traefik` \| string \| `[0-9.]+` \| `41\.1\.0` \| /)
    expect(table).toContain('| `services.gateway.replicas` | integer 1–10 | `1` |  | ')
  })
})
