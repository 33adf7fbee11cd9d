// Every policy against what the prod program declares (Pulumi.prod.yaml with a registry
// password, run under mocks the way infra/test does): no violation, and the Kubernetes policies
// had workloads, releases and custom resources to look at.
import { beforeAll, describe, expect, it } from 'vitest'
import { noSecretsInPlainEnv, pinnedImages, podSecurityRestricted, policies, replicasAndDisruptionBudget } from '../policies.ts'
import { chartName, TYPES } from '../resources.ts'
import { runProd } from '../../infra/test/support/kubernetes.ts'
import { asPolicyResources, violationsOf, type TestResource } from './support/harness.ts'

let resources: TestResource[]

beforeAll(async () => {
  const run = await runProd()
  resources = asPolicyResources(run.resources)
})

describe('the policy pack on the prod program', () => {
  it('sees the Deployments, PodDisruptionBudgets, Helm releases and the Elasticsearch resource the policies apply to', () => {
    const ofType = (type: string) => resources.filter((resource) => resource.type === type)
    expect(ofType(TYPES.deployment)).toHaveLength(3)
    expect(ofType(TYPES.job).length).toBeGreaterThanOrEqual(1)
    expect(ofType(TYPES.podDisruptionBudget)).toHaveLength(3)
    expect(ofType(TYPES.elasticsearch)).toHaveLength(1)
    expect(ofType(TYPES.helmRelease).map((release) => chartName(release.props))).toEqual(
      expect.arrayContaining(['traefik', 'kube-prometheus-stack']),
    )
    expect(ofType(TYPES.dockerContainer)).toEqual([])
  })

  it.each(policies.map((policy) => [policy.name, policy] as const))('%s: no violation', async (_name, policy) => {
    expect(await violationsOf(policy, resources)).toEqual([])
  })

  it('catches violations planted in the real objects: a gateway pod allowed to escalate, on latest, with a literal token; one replica; no budget', async () => {
    const planted = structuredClone(resources)
    const gateway = planted.find((resource) => resource.type === TYPES.deployment && resource.name === 'apps-gateway')!
    const spec = (gateway.props as { spec: { replicas: number; template: { spec: { containers: Record<string, unknown>[] } } } }).spec
    const container = spec.template.spec.containers[0]!
    container.securityContext = { ...(container.securityContext as object), allowPrivilegeEscalation: true }
    container.image = String(container.image).replace(/:[^:/]+$/, ':latest')
    container.env = [...(container.env as object[]), { name: 'UPSTREAM_API_TOKEN', value: 'a-literal-token-value' }]
    spec.replicas = 1
    const withoutBudget = planted.filter(
      (resource) => !(resource.type === TYPES.podDisruptionBudget && JSON.stringify(resource.props).includes('"gateway"')),
    )
    const messages = async (policy: (typeof policies)[number]) =>
      (await violationsOf(policy, withoutBudget)).map((violation) => violation.message)
    expect(await messages(podSecurityRestricted)).toEqual([
      expect.stringMatching(
        /^Deployment platform\/gateway: container "gateway" does not set securityContext\.allowPrivilegeEscalation: false\. Fix:/,
      ),
    ])
    expect(await messages(pinnedImages)).toEqual([expect.stringMatching(/gateway:latest" uses the latest tag\. Fix:/)])
    expect(await messages(noSecretsInPlainEnv)).toEqual([expect.stringMatching(/env UPSTREAM_API_TOKEN looks like a secret/)])
    expect(await messages(replicasAndDisruptionBudget)).toEqual([
      expect.stringMatching(/gateway: runs 1 replica/),
      expect.stringMatching(/gateway: no PodDisruptionBudget selects its pods/),
    ])
  })
})
