// The throwaway stack of .github/workflows/e2e.yml, with the config the workflow writes (read
// from the workflow itself), run under mocks: the config is accepted, the images go to the
// kind registry, and the policy pack that `pulumi up` enforces there finds nothing.
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { beforeAll, describe, expect, it } from 'vitest'
import { policies } from '../policies.ts'
import { TYPES } from '../resources.ts'
import { kubernetesState } from '../../infra/test/support/kubernetes.ts'
import { PROJECT, runProgram, valueOf } from '../../infra/test/support/program.ts'
import type { Output } from '@pulumi/pulumi'
import { asPolicyResources, violationsOf, type TestResource } from './support/harness.ts'

interface Step {
  name?: string
  run?: string
  with?: Record<string, unknown>
}
const workflow = parse(readFileSync(new URL('../../.github/workflows/e2e.yml', import.meta.url), 'utf8')) as {
  jobs: { kind: { env: Record<string, string>; steps: Step[] } }
}
const job = workflow.jobs.kind

/** The stack file the workflow writes with a heredoc, its shell variables expanded from the job's env. */
function e2eStackConfig(): { config: Record<string, string>; secretKeys: string[] } {
  const script = job.steps.find((step) => step.run?.includes('<<YAML') === true)!.run!
  const heredoc = /<<YAML\n([\s\S]*?)\nYAML/
    .exec(script)![1]!
    .replace(/\$(\w+)/g, (_, name: string) => job.env[name] ?? expect.unreachable(`$${name} is not in the job env`))
  const file = parse(heredoc) as { config: Record<string, unknown> }
  const config = Object.fromEntries(
    Object.entries(file.config).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]),
  )
  // The secret the `pulumi up` step passes through pulumi/actions' config-map.
  const up = job.steps.find((step) => step.with?.command === 'up')!
  const configMap = parse(String(up.with!['config-map'])) as Record<string, { value: string; secret: boolean }>
  const secretKeys: string[] = []
  for (const [key, { value, secret }] of Object.entries(configMap)) {
    config[`${PROJECT}:${key}`] = value
    if (secret) secretKeys.push(`${PROJECT}:${key}`)
  }
  return { config, secretKeys }
}

let resources: TestResource[]
let gatewayUrl: string

beforeAll(async () => {
  const run = await runProgram('e2e', e2eStackConfig(), '../../index.ts', { state: kubernetesState })
  resources = asPolicyResources(run.resources)
  gatewayUrl = await valueOf(run.program.gatewayUrl as Output<string>)
})

describe('the e2e stack the kind workflow brings up', () => {
  it('renders the prod stack on the kind context, pushing to the kind registry, with two replicas and one PostgreSQL instance', () => {
    const ofType = (type: string) => resources.filter((resource) => resource.type === type)
    expect(ofType('pulumi:providers:kubernetes').map((provider) => provider.props.context)).toEqual([job.env.KUBE_CONTEXT])
    expect(ofType(TYPES.dockerImage).map((image) => String(image.props.imageName))).toEqual([
      expect.stringMatching(/^kind-registry:5000\/e2e\/user-service:[0-9a-f]{16}$/),
      expect.stringMatching(/^kind-registry:5000\/e2e\/order-service:[0-9a-f]{16}$/),
      expect.stringMatching(/^kind-registry:5000\/e2e\/gateway:[0-9a-f]{16}$/),
    ])
    expect(ofType(TYPES.deployment).map((deployment) => (deployment.props.spec as { replicas: number }).replicas)).toEqual([2, 2, 2])
    // The smoke test points this host at Traefik's LoadBalancer address.
    expect(gatewayUrl).toBe(`https://api.${job.env.DOMAIN}`)
    expect(
      ofType('kubernetes:postgresql.cnpg.io/v1:Cluster').map((cluster) => (cluster.props.spec as { instances: number }).instances),
    ).toEqual([1])
  })

  it.each(policies.map((policy) => [policy.name, policy] as const))('%s: no violation', async (_name, policy) => {
    expect(await violationsOf(policy, resources)).toEqual([])
  })
})
