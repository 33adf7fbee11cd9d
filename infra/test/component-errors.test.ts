// A component given bad input fails as Pulumi reports resource errors: naming the resource
// (its URN), not as a bare Error from somewhere in the program.
import * as pulumi from '@pulumi/pulumi'
import { beforeAll, describe, expect, it } from 'vitest'
import { AppServices } from '../docker/services.ts'
import { appServices } from '../model.ts'

beforeAll(async () => {
  await pulumi.runtime.setMocks({ newResource: ({ name, inputs }) => ({ id: `${name}-id`, state: inputs }), call: () => ({}) }, 'microservice-platform', 'dev', false)
})

describe('AppServices', () => {
  it('refuses a service without an image with a ResourceError naming the component', () => {
    const services = appServices({ replicas: { 'user-service': 1, 'order-service': 1, gateway: 1 }, logLevel: 'info' })
    const build = () =>
      new AppServices('apps', {
        services,
        images: {},
        network: 'net',
        namePrefix: 'platform-dev',
        stack: 'dev',
        endpoints: { 'consul-http': 'http://consul:8500', 'otlp-http': 'http://jaeger:4318' },
        secrets: {},
        platform: {},
        gelfAddress: 'udp://127.0.0.1:12201',
      })
    expect(build).toThrow(pulumi.ResourceError)
    expect(build).toThrow('no image for user-service')
  })
})
