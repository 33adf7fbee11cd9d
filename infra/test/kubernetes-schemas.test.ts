// Every Kubernetes object the prod stack declares, validated against its published schema: the
// built-in kinds with `kubernetes-models`, Traefik's, the Prometheus Operator's and
// CloudNativePG's custom resources with their `@kubernetes-models/*` packages. ECK's custom
// resources have no published model; they are named here, so a new kind without a model fails.
import { beforeAll, describe, expect, it } from 'vitest'
import type { ProgramRun } from './support/program.ts'
import { kubernetesObjects, modelOf, runProd, UNPUBLISHED_MODELS, validateManifest, type Manifest } from './support/kubernetes.ts'

let run: ProgramRun
let objects: Manifest[]

beforeAll(async () => {
  run = await runProd()
  objects = kubernetesObjects(run)
})

const kindOf = (manifest: Manifest) => `${manifest.apiVersion}/${manifest.kind}`

describe('prod stack: Kubernetes schemas', () => {
  it('declares objects of the expected kinds, each with a published model except ECK', () => {
    expect(objects.length).toBeGreaterThan(60)
    const withoutModel = [...new Set(objects.filter((manifest) => modelOf(manifest) === undefined).map(kindOf))].sort()
    expect(withoutModel).toEqual([...UNPUBLISHED_MODELS].sort())
    const kinds = new Set(objects.map(kindOf))
    for (const kind of [
      'apps/v1/Deployment',
      'v1/Service',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'policy/v1/PodDisruptionBudget',
      'networking.k8s.io/v1/NetworkPolicy',
      'traefik.io/v1alpha1/IngressRoute',
      'monitoring.coreos.com/v1/ServiceMonitor',
      'monitoring.coreos.com/v1/PrometheusRule',
      'postgresql.cnpg.io/v1/Cluster',
    ]) {
      expect(kinds.has(kind), kind).toBe(true)
    }
  })

  it('validates every object that has a published model against it', () => {
    const failures: string[] = []
    let validated = 0
    for (const manifest of objects) {
      if (modelOf(manifest) === undefined) continue
      try {
        validateManifest(manifest)
        validated += 1
      } catch (error) {
        failures.push(`${kindOf(manifest)} ${manifest.metadata.namespace ?? ''}/${manifest.metadata.name}: ${(error as Error).message}`)
      }
    }
    expect(failures).toEqual([])
    expect(validated).toBe(objects.length - objects.filter((manifest) => UNPUBLISHED_MODELS.includes(kindOf(manifest))).length)
  })

  it('gives ECK objects at least the shape every custom resource needs, since no schema checks them', () => {
    for (const manifest of objects.filter((object) => UNPUBLISHED_MODELS.includes(kindOf(object)))) {
      expect(manifest.metadata.name, kindOf(manifest)).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      expect(manifest.metadata.namespace, kindOf(manifest)).toBe('platform-observability')
      expect(manifest.spec, kindOf(manifest)).toMatchObject({ version: expect.stringMatching(/^[0-9]+\.[0-9]+\.[0-9]+$/) })
    }
  })
})

describe('the schema validation itself', () => {
  const deployment = () =>
    structuredClone(objects.find((manifest) => manifest.kind === 'Deployment')!) as Manifest & { spec: Record<string, unknown> }

  it('rejects a Deployment whose replicas are not an integer, naming the path', () => {
    const broken = deployment()
    broken.spec.replicas = 'two'
    expect(() => validateManifest(broken)).toThrow(/spec\/replicas/)
  })

  it('rejects a container security context with an unknown field type, naming the path', () => {
    const broken = deployment() as Manifest & {
      spec: { template: { spec: { containers: { securityContext: Record<string, unknown> }[] } } }
    }
    broken.spec.template.spec.containers[0]!.securityContext.readOnlyRootFilesystem = 'yes'
    expect(() => validateManifest(broken)).toThrow(/readOnlyRootFilesystem/)
  })

  it("rejects a Traefik IngressRoute without its routes, and a ServiceMonitor endpoint's bad port type", () => {
    const route = structuredClone(objects.find((manifest) => manifest.kind === 'IngressRoute')!) as Manifest & {
      spec: Record<string, unknown>
    }
    delete route.spec.routes
    expect(() => validateManifest(route)).toThrow(/routes/)
    const monitor = structuredClone(objects.find((manifest) => manifest.kind === 'ServiceMonitor')!) as Manifest & {
      spec: { endpoints: Record<string, unknown>[] }
    }
    monitor.spec.endpoints[0]!.port = 3000
    expect(() => validateManifest(monitor)).toThrow(/port/)
  })
})
