// Runs policies the way the policy server does, without starting it: builds the args a
// `validateResource`/`validateStack` receives (props as plain data, secrets unwrapped, the
// policy's config defaults) and collects what `reportViolation` is called with.
import type { PolicyResource, Policy, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy'
import { isSecretValue, type CapturedResource } from '../../../infra/test/support/program.ts'

export interface TestResource {
  readonly type: string
  readonly name: string
  readonly props: Record<string, unknown>
  readonly urn?: string
}

export interface Violation {
  readonly policy: string
  readonly message: string
  readonly urn?: string
}

type AnyPolicy = ResourceValidationPolicy | StackValidationPolicy

const OPTIONS = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
}

class NotApplicable extends Error {}

/** The config a policy gets when the pack is run without --policy-pack-config: its schema's defaults. */
function configDefaults(policy: Policy): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(policy.configSchema?.properties ?? {}).flatMap(([key, schema]) =>
      'default' in schema ? [[key, (schema as { default: unknown }).default]] : [],
    ),
  )
}

function urnOf(resource: TestResource): string {
  return resource.urn ?? `urn:pulumi:test::microservice-platform::${resource.type}::${resource.name}`
}

function resourceArgs(policy: Policy, resource: TestResource): ResourceValidationArgs {
  return {
    type: resource.type,
    props: resource.props,
    urn: urnOf(resource),
    name: resource.name,
    opts: OPTIONS,
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => configDefaults(policy) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason)
    },
  }
}

function isStackPolicy(policy: AnyPolicy): policy is StackValidationPolicy {
  return 'validateStack' in policy
}

/** What one policy reports for these resources (a resource policy is run on each of them). */
export async function violationsOf(policy: AnyPolicy, resources: readonly TestResource[]): Promise<Violation[]> {
  const found: Violation[] = []
  const report = (message: string, urn?: string) => {
    found.push({ policy: policy.name, message, ...(urn === undefined ? {} : { urn }) })
  }
  try {
    if (isStackPolicy(policy)) {
      const stackResources: PolicyResource[] = resources.map((resource) => ({
        type: resource.type,
        props: resource.props,
        urn: urnOf(resource),
        name: resource.name,
        opts: OPTIONS,
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
      }))
      await policy.validateStack(
        {
          resources: stackResources,
          stackTags: new Map(),
          getConfig: <T extends object>() => configDefaults(policy) as T,
          notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason)
          },
        },
        report,
      )
    } else {
      const validations =
        policy.validateResource === undefined
          ? []
          : Array.isArray(policy.validateResource)
            ? policy.validateResource
            : [policy.validateResource]
      for (const resource of resources) {
        for (const validate of validations) {
          await validate(resourceArgs(policy, resource), (message) => report(message, urnOf(resource)))
        }
      }
    }
  } catch (error) {
    if (!(error instanceof NotApplicable)) throw error
  }
  return found
}

/** What every policy reports for these resources. */
export async function allViolations(policies: readonly AnyPolicy[], resources: readonly TestResource[]): Promise<Violation[]> {
  return (await Promise.all(policies.map((policy) => violationsOf(policy, resources)))).flat()
}

/** A value with every secret wrapper removed, at any depth: how the policy server deserializes props. */
export function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return unwrapSecrets((value as { value: unknown }).value)
  if (Array.isArray(value)) return value.map(unwrapSecrets)
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, unwrapSecrets(child)]))
  return value
}

/** The resources a program run registered, as the policy server would hand them to the policies. */
export function asPolicyResources(captured: readonly CapturedResource[]): TestResource[] {
  return captured.map((resource) => ({
    type: resource.type,
    name: resource.name,
    props: unwrapSecrets(resource.inputs) as Record<string, unknown>,
    ...(resource.urn === undefined ? {} : { urn: resource.urn }),
  }))
}
