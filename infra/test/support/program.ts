// Runs the Pulumi program under mocks: the stack config from a Pulumi.<stack>.yaml (or given
// inline), `setMocks` first, then the program imported, then every registration captured.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as pulumi from '@pulumi/pulumi'
import { parse } from 'yaml'

export const PROJECT = 'microservice-platform'

/** Pulumi's marker of a secret value inside mock inputs. */
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270'
const SIG_KEY = '4dabf18193072939515e22adb298388d'

export interface CapturedResource {
  readonly type: string
  readonly name: string
  /** Inputs as the engine received them; secret values stay wrapped (see `isSecretValue`). */
  readonly inputs: Record<string, unknown>
  /** `<provider urn>::<provider id>` of the provider the resource was registered with, if any. */
  readonly provider?: string
  /** The resource's URN (filled once the registration has been answered). */
  urn?: string
  /**
   * URNs the registration said the resource depends on: its explicit `dependsOn` (a component
   * expanded to its children) and the resources its inputs came from.
   */
  dependencies?: string[]
  /** The `deleteBeforeReplace` resource option as registered (false when unset). */
  deleteBeforeReplace?: boolean
  /** URN of the parent the resource was registered with (the stack's own resources: none). */
  parent?: string
  /** The URNs the engine would also match the resource by in the old state (see `aliasUrn`). */
  aliases?: string[]
}

export interface CapturedCall {
  readonly token: string
  readonly inputs: Record<string, unknown>
}

export interface StackConfigInput {
  /** `<project>:<key>` → value as Pulumi hands it over (strings; objects as JSON). */
  readonly config: Record<string, string>
  readonly secretKeys: string[]
}

/**
 * Reads `Pulumi.<stack>.yaml` the way the CLI hands config to a program: every value a string,
 * structured values as JSON, `secure:` values listed as secret keys (their plaintext replaced by
 * `extraSecrets`, since the test cannot decrypt them).
 */
export function stackConfigFile(path: string | URL, extraSecrets: Record<string, string> = {}): StackConfigInput {
  const document = parse(readFileSync(path, 'utf8')) as { config?: Record<string, unknown> } | null
  const config: Record<string, string> = {}
  const secretKeys: string[] = []
  for (const [key, value] of Object.entries(document?.config ?? {})) {
    if (typeof value === 'object' && value !== null && 'secure' in value) {
      secretKeys.push(key)
      config[key] = extraSecrets[key] ?? 'decrypted-in-test'
    } else {
      config[key] = typeof value === 'string' ? value : JSON.stringify(value)
    }
  }
  for (const [key, value] of Object.entries(extraSecrets)) {
    if (!(key in config)) {
      config[key] = value
      secretKeys.push(key)
    }
  }
  return { config, secretKeys }
}

export interface ProgramOptions {
  /** State the mocked provider answers for a resource, before the defaults of `mockState`. */
  readonly state?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined
  /**
   * Run as `pulumi preview` does: the engine answers only the inputs, so every output a provider
   * computes (ids aside) is unknown, as on a first preview of a new stack.
   */
  readonly preview?: boolean
}

export interface ProgramRun {
  readonly resources: CapturedResource[]
  readonly calls: CapturedCall[]
  /** The program module: its exports are the stack outputs. */
  readonly program: Record<string, unknown>
}

/** What the mocked engine answers for a resource: its inputs, plus what the provider would add. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case 'consul:index/aclToken:AclToken':
      return { ...inputs, accessorId: `${name}-accessor` }
    case 'random:index/randomPassword:RandomPassword':
      return { ...inputs, result: `${name}-password` }
    case 'random:index/randomUuid:RandomUuid':
      return { ...inputs, result: `${name}-uuid` }
    case 'random:index/randomId:RandomId': {
      // As the provider: a new value exactly when the keepers change (which replaces the resource).
      const hex = createHash('sha256')
        .update(`${name}\0${JSON.stringify(inputs.keepers ?? {})}`)
        .digest('hex')
        .slice(0, 2 * Number(inputs.byteLength ?? 8))
      return { ...inputs, hex, dec: BigInt(`0x${hex}`).toString() }
    }
    case 'docker:index/container:Container':
      return { ...inputs, exitCode: 0 }
    case 'docker:index/image:Image':
      return { ...inputs, repoDigest: `${String(inputs.imageName)}@sha256:${'0'.repeat(64)}` }
    default:
      return inputs
  }
}

/**
 * Sets config and mocks, imports the program, and waits until every registration has arrived.
 * `entry` is the module to import, default infra/index.ts.
 */
export async function runProgram(
  stack: string,
  input: StackConfigInput,
  entry = '../../index.ts',
  options: ProgramOptions = {},
): Promise<ProgramRun> {
  const resources: CapturedResource[] = []
  const calls: CapturedCall[] = []
  pulumi.runtime.setAllConfig(input.config, input.secretKeys)
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs, provider }) => {
        resources.push({ type, name, inputs, ...(provider === undefined || provider === '' ? {} : { provider }) })
        if (options.preview === true) return { id: `${name}-id`, state: inputs }
        return { id: `${name}-id`, state: options.state?.(type, name, inputs) ?? mockState(type, name, inputs) }
      },
      call: ({ token, inputs }) => {
        calls.push({ token, inputs })
        if (token === 'consul:index/getAclTokenSecretId:getAclTokenSecretId') {
          return { accessorId: inputs.accessorId, secretId: `secret-of-${String(inputs.accessorId)}`, id: inputs.accessorId }
        }
        throw new Error(`unmocked call ${token}`)
      },
    },
    PROJECT,
    stack,
    options.preview ?? false,
  )
  const registrations = recordRegistrations()
  const program = (await import(entry)) as Record<string, unknown>
  await programDone()
  for (const resource of resources) {
    const registration = registrations.get(`${resource.type}::${resource.name}`)
    resource.urn = registration?.urn
    resource.dependencies = registration?.dependencies ?? []
    resource.deleteBeforeReplace = registration?.deleteBeforeReplace ?? false
    if (registration?.parent !== undefined && registration.parent !== '') resource.parent = registration.parent
    resource.aliases = registration?.aliases ?? []
  }
  return { resources, calls, program }
}

interface MockMonitorLike {
  newUrn(parent: string, type: string, name: string): string
  registerResource(request: RegisterRequest, callback: unknown): unknown
}

interface AliasSpec {
  getName(): string
  getType(): string
  getStack(): string
  getProject(): string
  getParenturn(): string
  getNoparent(): boolean
}

interface RegisterRequest {
  getParent(): string
  getType(): string
  getName(): string
  getDependenciesList(): string[]
  getDeletebeforereplace(): boolean
  getAliasesList(): { getUrn(): string; hasSpec(): boolean; getSpec(): AliasSpec }[]
}

interface Registration {
  readonly urn: string
  readonly dependencies: string[]
  readonly deleteBeforeReplace: boolean
  readonly parent: string
  readonly aliases: string[]
}

/**
 * The URN an alias stands for, computed as the engine does: the alias's name, type, stack and
 * project where it gives them, else the resource's own; under the alias's parent (or the
 * resource's) with that parent's whole type chain, unless the parent is the stack itself.
 */
export function aliasUrn(spec: AliasSpec, resource: { readonly type: string; readonly name: string; readonly parent: string }): string {
  const parent = spec.getNoparent() ? '' : spec.getParenturn() || resource.parent
  const parentChain = parent === '' ? '' : parent.split('::')[2]!
  const type = spec.getType() || resource.type
  const qualified = parentChain === '' || parentChain === 'pulumi:pulumi:Stack' ? type : `${parentChain}$${type}`
  return `urn:pulumi:${spec.getStack() || pulumi.getStack()}::${spec.getProject() || pulumi.getProject()}::${qualified}::${spec.getName() || resource.name}`
}

/**
 * The mocks hand `newResource` neither the URN nor the dependencies of a registration; the
 * request the SDK sends the (mock) monitor carries both, and the resource options the engine acts
 * on (`deleteBeforeReplace`, the parent, the aliases). Records them per `type::name`.
 */
function recordRegistrations(): Map<string, Registration> {
  const registrations = new Map<string, Registration>()
  const monitor = (pulumi.runtime as unknown as { getMonitor(): MockMonitorLike }).getMonitor()
  const register = monitor.registerResource.bind(monitor)
  monitor.registerResource = (request, callback) => {
    const resource = { type: request.getType(), name: request.getName(), parent: request.getParent() }
    registrations.set(`${request.getType()}::${request.getName()}`, {
      urn: monitor.newUrn(request.getParent(), request.getType(), request.getName()),
      dependencies: request.getDependenciesList(),
      deleteBeforeReplace: request.getDeletebeforereplace(),
      parent: request.getParent(),
      aliases: request.getAliasesList().map((alias) => (alias.hasSpec() ? aliasUrn(alias.getSpec(), resource) : alias.getUrn())),
    })
    return register(request, callback)
  }
  return registrations
}

/**
 * Resolves when the program has nothing left to register: the SDK's own test of a finished
 * program (what `pulumi up` waits on before it disconnects), re-checked until no registration
 * or invoke started while it waited. Not a quiet period, so a slow machine changes nothing.
 */
async function programDone(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs()
}

/** The resolved value of an Output. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)))
}

/** Whether a captured input was sent as a secret. */
export function isSecretValue(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
}

/** A captured input with the secret wrapper (if any) removed. */
export function plain<T = unknown>(value: unknown): T {
  return (isSecretValue(value) ? (value as { value: unknown }).value : value) as T
}

export function byType(resources: readonly CapturedResource[], type: string): CapturedResource[] {
  return resources.filter((resource) => resource.type === type)
}

export function named(resources: readonly CapturedResource[], type: string, name: string): CapturedResource {
  const found = resources.find((resource) => resource.type === type && resource.name === name)
  if (found === undefined)
    throw new Error(
      `no ${type} named ${name}; have ${byType(resources, type)
        .map((resource) => resource.name)
        .join(', ')}`,
    )
  return found
}

/** A container's environment as a map (values unwrapped). */
export function envOf(container: CapturedResource): Record<string, string> {
  const entries = plain<string[]>(container.inputs.envs) ?? []
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]))
}

/**
 * Mocks that only count registrations, for tests that prove a bad config stops the program
 * before any resource exists. `count()` reads the registrations since the last `reset()`.
 */
export async function countingMocks(stack: string): Promise<{ count(): number; reset(): void }> {
  let registered = 0
  await pulumi.runtime.setMocks(
    {
      newResource: ({ name, inputs }) => {
        registered += 1
        return { id: `${name}-id`, state: inputs }
      },
      call: () => ({}),
    },
    PROJECT,
    stack,
    false,
  )
  return { count: () => registered, reset: () => void (registered = 0) }
}

/**
 * Every URN `resource` waits for before it is created: its dependencies and its provider (a
 * provider waits for what its own inputs came from), theirs, and so on.
 */
export function transitiveDependencies(resources: readonly CapturedResource[], resource: CapturedResource): Set<string> {
  const byUrn = new Map(resources.flatMap((candidate) => (candidate.urn === undefined ? [] : [[candidate.urn, candidate] as const])))
  const direct = (of: CapturedResource | undefined) => [
    ...(of?.dependencies ?? []),
    ...(of?.provider === undefined ? [] : [of.provider.split('::').slice(0, -1).join('::')]),
  ]
  const seen = new Set<string>()
  const pending = direct(resource)
  while (pending.length > 0) {
    const urn = pending.pop()!
    if (seen.has(urn)) continue
    seen.add(urn)
    pending.push(...direct(byUrn.get(urn)))
  }
  return seen
}
