// The prod stack as Pulumi.prod.yaml configures it (with the registry password a CI would hold
// encrypted): the images pushed to the registry; the Kubernetes renderer is still a stub.
import * as pulumi from '@pulumi/pulumi'
import { beforeAll, describe, expect, it } from 'vitest'
import { byType, isSecretValue, named, PROJECT, plain, runProgram, stackConfigFile, valueOf, type ProgramRun } from './support/program.ts'

let run: ProgramRun

beforeAll(async () => {
  run = await runProgram('prod', stackConfigFile(new URL('../../Pulumi.prod.yaml', import.meta.url), { [`${PROJECT}:registryPassword`]: 'registry-token' }))
})

describe('prod stack', () => {
  it('pushes each service image to the configured registry, tagged by content, with the password as a secret', () => {
    for (const service of ['user-service', 'order-service', 'gateway']) {
      const image = named(run.resources, 'docker:index/image:Image', `images-${service}`)
      expect(image.inputs.imageName).toMatch(new RegExp(`^ghcr\\.io/example/microservice-platform/${service}:[0-9a-f]{16}$`))
      expect(image.inputs.skipPush).toBe(false)
      // The password makes the whole registry block travel as a secret.
      expect(isSecretValue(image.inputs.registry)).toBe(true)
      expect(plain(image.inputs.registry)).toEqual({ server: 'ghcr.io', username: 'platform-ci', password: 'registry-token' })
    }
  })

  it('creates no Docker containers: the Kubernetes renderer is a separate module, not written yet', () => {
    expect(byType(run.resources, 'docker:index/container:Container')).toEqual([])
    expect(run.program.gatewayUrl).toBeUndefined()
    expect(run.program.target).toBe('kubernetes')
  })

  it('exports the pushed image names', async () => {
    const names = run.program.imageNames as Record<string, pulumi.Output<string>>
    expect(Object.keys(names)).toEqual(['user-service', 'order-service', 'gateway'])
    expect(await valueOf(names.gateway!)).toMatch(/^ghcr\.io\/example\/microservice-platform\/gateway:[0-9a-f]{16}$/)
  })
})
