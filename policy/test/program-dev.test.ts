// Every policy against what the dev program declares (Pulumi.dev.yaml, run under mocks the way
// infra/test does): no violation, and the Docker policies had containers to look at.
import { beforeAll, describe, expect, it } from 'vitest'
import { dockerPortsOnLoopback, pinnedImages, policies } from '../policies.ts'
import { TYPES } from '../resources.ts'
import { runProgram, stackConfigFile } from '../../infra/test/support/program.ts'
import { asPolicyResources, violationsOf, type TestResource } from './support/harness.ts'

let resources: TestResource[]

beforeAll(async () => {
  const run = await runProgram('dev', stackConfigFile(new URL('../../Pulumi.dev.yaml', import.meta.url)))
  resources = asPolicyResources(run.resources)
})

describe('the policy pack on the dev program', () => {
  it('sees the containers, their ports and the image builds the policies apply to', () => {
    const containers = resources.filter((resource) => resource.type === TYPES.dockerContainer)
    expect(containers.length).toBeGreaterThanOrEqual(10)
    expect(containers.flatMap((container) => (container.props.ports as unknown[] | undefined) ?? []).length).toBeGreaterThanOrEqual(8)
    expect(resources.filter((resource) => resource.type === TYPES.dockerImage)).toHaveLength(3)
    expect(containers.map((container) => String(container.props.image))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^traefik:/),
        expect.stringMatching(/^grafana\/grafana:/),
        expect.stringMatching(/elasticsearch:/),
      ]),
    )
  })

  it.each(policies.map((policy) => [policy.name, policy] as const))('%s: no violation', async (_name, policy) => {
    expect(await violationsOf(policy, resources)).toEqual([])
  })

  it('catches violations planted in the real containers: Postgres published on every interface, Grafana on an untagged image', async () => {
    const planted = structuredClone(resources)
    const containers = planted.filter((resource) => resource.type === TYPES.dockerContainer)
    const postgres = containers.find((resource) => String(resource.props.image).startsWith('postgres:'))!
    ;(postgres.props.ports as { ip?: string }[]).forEach((port) => delete port.ip)
    containers.find((resource) => String(resource.props.image).startsWith('grafana/'))!.props.image = 'grafana/grafana'
    expect((await violationsOf(dockerPortsOnLoopback, planted)).map((violation) => violation.message)).toEqual([
      expect.stringMatching(/port 5432→5432 is published on every interface \(0\.0\.0\.0\)\. Fix: set ip: '127\.0\.0\.1'/),
    ])
    expect((await violationsOf(pinnedImages, planted)).map((violation) => violation.message)).toEqual([
      expect.stringMatching(/"grafana\/grafana" has no tag, so it means latest\. Fix:/),
    ])
  })
})
