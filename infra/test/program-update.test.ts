// A second `pulumi up` on the dev stack, and the order of the first one. The program is rendered
// twice under mocks: as it is, then with new image digests (every service image rebuilt, every
// platform image pinned by digest). Every Docker resource whose inputs differ would be replaced
// (nearly every input of a container forces a new one), and Pulumi replaces create-first unless
// the resource says `deleteBeforeReplace`: a replacement created next to its predecessor must not
// take its name or its host ports, or Docker refuses it (pulumi/pulumi-docker#1356).
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { DEFAULT_IMAGES } from '../config.ts'
import { appServices } from '../model.ts'
import {
  byType,
  plain,
  runProgram,
  stackConfigFile,
  transitiveDependencies,
  type CapturedResource,
  type ProgramRun,
} from './support/program.ts'

const CONTAINER = 'docker:index/container:Container'
/** Resource types of the dev stack that a changed input replaces rather than updates. */
const REPLACED_ON_CHANGE = [CONTAINER, 'docker:index/network:Network', 'docker:index/volume:Volume', 'random:index/randomId:RandomId']
const DIGEST = `sha256:${'ab'.repeat(32)}`
const devConfig = () => stackConfigFile(new URL('../../Pulumi.dev.yaml', import.meta.url))

let first: ProgramRun
let second: ProgramRun

beforeAll(async () => {
  first = await runProgram('dev', devConfig())
  vi.resetModules()
  const input = devConfig()
  const images = Object.fromEntries(Object.entries(DEFAULT_IMAGES).map(([key, image]) => [key, `${image}@${DIGEST}`]))
  second = await runProgram(
    'dev',
    { ...input, config: { ...input.config, 'microservice-platform:images': JSON.stringify(images) } },
    '../../index.ts',
    {
      // Every service image rebuilt: a new content tag.
      state: (type, _name, inputs) =>
        type === 'docker:index/image:Image'
          ? { ...inputs, imageName: String(inputs.imageName).replace(/:[0-9a-f]{16}$/, `:${'f'.repeat(16)}`) }
          : undefined,
    },
  )
})

const deepPlain = (value: unknown): unknown => {
  const unwrapped = plain(value)
  if (Array.isArray(unwrapped)) return unwrapped.map(deepPlain)
  if (typeof unwrapped === 'object' && unwrapped !== null)
    return Object.fromEntries(Object.entries(unwrapped).map(([key, child]) => [key, deepPlain(child)]))
  return unwrapped
}
const hostPorts = (resource: CapturedResource) =>
  ((deepPlain(resource.inputs.ports) as { external: number; protocol: string }[] | undefined) ?? []).map(
    (port) => `${port.external}/${port.protocol}`,
  )
const nameOf = (resource: CapturedResource) => deepPlain(resource.inputs.name) as string | undefined

/** Resources of the second render that replace one of the first: same URN, different inputs. */
function replacements(): { before: CapturedResource; after: CapturedResource }[] {
  const before = new Map(first.resources.map((resource) => [resource.urn, resource]))
  return second.resources.flatMap((after) => {
    const previous = before.get(after.urn)
    if (previous === undefined || !REPLACED_ON_CHANGE.includes(after.type)) return []
    return JSON.stringify(deepPlain(previous.inputs)) === JSON.stringify(deepPlain(after.inputs)) ? [] : [{ before: previous, after }]
  })
}

describe('dev stack: an update with new image digests', () => {
  it('replaces every container: the app replicas and every platform container', () => {
    const replaced = replacements()
      .filter(({ after }) => after.type === CONTAINER)
      .map(({ after }) => after.name)
    expect(replaced.sort()).toEqual(
      byType(first.resources, CONTAINER)
        .map((resource) => resource.name)
        .sort(),
    )
  })

  it('never creates a replacement with the name or a host port of the container it replaces', () => {
    const collisions = replacements().flatMap(({ before, after }) => {
      if (after.deleteBeforeReplace === true) return [] // the old one is gone first
      const problems: string[] = []
      if (nameOf(after) !== undefined && nameOf(after) === nameOf(before))
        problems.push(`${after.type} ${after.name}: name ${nameOf(after)} in use`)
      for (const port of hostPorts(after)) if (hostPorts(before).includes(port)) problems.push(`${after.name}: host port ${port} in use`)
      return problems
    })
    expect(collisions).toEqual([])
  })

  it('replaces the app replicas create-first under new names, so no replica is missing while the next starts', () => {
    const apps = replacements().filter(({ after }) => after.type === CONTAINER && after.name.startsWith('apps-'))
    expect(apps).toHaveLength(6)
    for (const { before, after } of apps) {
      expect(after.deleteBeforeReplace, after.name).toBe(false)
      expect(nameOf(after), after.name).toMatch(/^platform-dev-[a-z-]+-[0-9]-[0-9a-f]{8}$/)
      expect(nameOf(after)!.slice(0, -9), after.name).toBe(nameOf(before)!.slice(0, -9))
    }
  })

  it('replaces the containers with a fixed name or host port delete-first', () => {
    for (const resource of byType(second.resources, CONTAINER).filter((candidate) => !candidate.name.startsWith('apps-'))) {
      expect(resource.deleteBeforeReplace, resource.name).toBe(true)
    }
  })

  it('keeps every container name and host port unique within the stack', () => {
    const containers = byType(second.resources, CONTAINER)
    const names = containers.map(nameOf)
    expect(new Set(names).size).toBe(names.length)
    const ports = containers.flatMap(hostPorts)
    expect(new Set(ports).size).toBe(ports.length)
  })

  it('creates the replicas of a service one after the other', () => {
    for (const service of ['user-service', 'order-service', 'gateway']) {
      const [one, two] = [1, 2].map((n) =>
        byType(second.resources, CONTAINER).find((resource) => resource.name === `apps-${service}-${n}`)!,
      )
      expect(two!.dependencies).toContain(one!.urn)
    }
  })
})

describe('dev stack: start order, from the dependency graph the engine receives', () => {
  const container = (name: string) => byType(first.resources, CONTAINER).find((resource) => resource.name === name)!
  const aclToken = (client: string) =>
    first.resources.find((resource) => resource.type === 'consul:index/aclToken:AclToken' && resource.name === `consul-${client}`)!
  const waitsFor = (resource: CapturedResource, other: CapturedResource) =>
    transitiveDependencies(first.resources, resource).has(other.urn!)
  const model = appServices({ replicas: { 'user-service': 2, 'order-service': 2, gateway: 2 }, logLevel: 'info' })
  const replicas = (service: string) =>
    byType(first.resources, CONTAINER).filter((resource) => resource.name.startsWith(`apps-${service}-`))

  it('starts the database before the services that own a database, and only those wait for it', () => {
    for (const service of model) {
      for (const replica of replicas(service.name))
        expect(waitsFor(replica, container('database')), replica.name).toBe(
          service.database !== undefined ||
            service.dependsOn.some((dependency) => model.find((other) => other.name === dependency)?.database !== undefined),
        )
    }
  })

  it('starts Consul and creates each client its ACL token before anything registers or reads the catalog', () => {
    for (const service of model) {
      for (const replica of replicas(service.name)) {
        expect(waitsFor(replica, container('consul')), replica.name).toBe(true)
        expect(waitsFor(replica, aclToken(service.name)), replica.name).toBe(true)
      }
    }
    expect(waitsFor(container('edge'), aclToken('traefik'))).toBe(true)
    expect(waitsFor(container('monitoring-prometheus'), aclToken('prometheus'))).toBe(true)
    expect(waitsFor(aclToken('traefik'), container('consul'))).toBe(true)
  })

  it('starts Logstash before every container that logs to it through gelf', () => {
    const gelf = byType(first.resources, CONTAINER).filter((resource) => resource.inputs.logDriver === 'gelf')
    expect(gelf.map((resource) => resource.name).sort()).toEqual(
      model.flatMap((service) => replicas(service.name).map((replica) => replica.name)).sort(),
    )
    for (const resource of gelf) expect(waitsFor(resource, container('logging-logstash')), resource.name).toBe(true)
  })

  it('starts Jaeger, healthy, before the services that export spans to it', () => {
    for (const service of model)
      for (const replica of replicas(service.name)) expect(waitsFor(replica, container('tracing')), replica.name).toBe(true)
  })
})
