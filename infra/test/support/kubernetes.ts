// Helpers for the prod (Kubernetes) stack under mocks: what the mocked providers answer for the
// resources whose outputs the program uses (UUIDs, a CA), the Kubernetes objects as manifests,
// and their validation against the published schemas (the npm kubernetes-models packages).
import { createHash } from 'node:crypto'
import * as cnpg from '@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1'
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import * as traefik from '@kubernetes-models/traefik/traefik.io/v1alpha1'
import * as apps from 'kubernetes-models/apps/v1'
import * as autoscaling from 'kubernetes-models/autoscaling/v2'
import * as batch from 'kubernetes-models/batch/v1'
import * as networking from 'kubernetes-models/networking.k8s.io/v1'
import * as policy from 'kubernetes-models/policy/v1'
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import * as core from 'kubernetes-models/v1'
import {
  byType,
  isSecretValue,
  PROJECT,
  runProgram,
  stackConfigFile,
  type CapturedResource,
  type ProgramOptions,
  type ProgramRun,
} from './program.ts'

export const RELEASE = 'kubernetes:helm.sh/v3:Release'
export const PROVIDER = 'pulumi:providers:kubernetes'

/** A UUID derived from the resource name: stable across runs, shaped like the real thing. */
function uuidOf(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** State the mocked random and tls providers answer in the prod stack. */
export function kubernetesState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> | undefined {
  switch (type) {
    case 'random:index/randomUuid:RandomUuid':
      return { ...inputs, result: uuidOf(name) }
    case 'tls:index/privateKey:PrivateKey':
      return { ...inputs, privateKeyPem: `-----BEGIN EC PRIVATE KEY-----\n${name}\n-----END EC PRIVATE KEY-----\n` }
    case 'tls:index/selfSignedCert:SelfSignedCert':
      return { ...inputs, certPem: `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n` }
    default:
      return undefined
  }
}

export const PROD_STACK_FILE = new URL('../../../Pulumi.prod.yaml', import.meta.url)
export const REGISTRY_PASSWORD = 'registry-token'

/** The program under mocks with Pulumi.prod.yaml and a registry password as CI would hold it. */
export function runProd(overrides: Record<string, string> = {}, options: ProgramOptions = {}): Promise<ProgramRun> {
  const input = stackConfigFile(PROD_STACK_FILE, { [`${PROJECT}:registryPassword`]: REGISTRY_PASSWORD })
  return runProgram('prod', { config: { ...input.config, ...overrides }, secretKeys: input.secretKeys }, '../../index.ts', {
    state: kubernetesState,
    ...options,
  })
}

/** A value with every secret wrapper removed, at any depth. */
export function deepPlain(value: unknown): unknown {
  if (isSecretValue(value)) return deepPlain((value as { value: unknown }).value)
  if (Array.isArray(value)) return value.map(deepPlain)
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, deepPlain(child)]))
  return value
}

/** Whether a captured resource is a Kubernetes object (not a Helm release or the provider). */
export function isKubernetesObject(resource: CapturedResource): boolean {
  return resource.type.startsWith('kubernetes:') && resource.type !== RELEASE
}

export interface Manifest {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  readonly [field: string]: unknown
}

/**
 * The object as the provider would send it: the inputs with secrets unwrapped, and a name where
 * Pulumi would generate one (auto-naming appends a suffix to the resource name).
 */
export function manifestOf(resource: CapturedResource): Manifest {
  const plain = deepPlain(resource.inputs) as Record<string, unknown> & { metadata?: Record<string, unknown> }
  const metadata = { ...(plain.metadata ?? {}) }
  if (metadata.name === undefined) metadata.name = `${resource.name}-abc12345`
  return { ...plain, metadata } as unknown as Manifest
}

export function kubernetesObjects(run: ProgramRun): Manifest[] {
  return run.resources.filter(isKubernetesObject).map(manifestOf)
}

export function objectsOfKind(run: ProgramRun, kind: string): Manifest[] {
  return kubernetesObjects(run).filter((manifest) => manifest.kind === kind)
}

export function objectNamed(run: ProgramRun, kind: string, name: string, namespace?: string): Manifest {
  const found = objectsOfKind(run, kind).filter(
    (manifest) => manifest.metadata.name === name && (namespace === undefined || manifest.metadata.namespace === namespace),
  )
  if (found.length !== 1) {
    throw new Error(
      `expected one ${kind} named ${name}${namespace === undefined ? '' : ` in ${namespace}`}; have ${objectsOfKind(run, kind)
        .map((manifest) => `${manifest.metadata.namespace}/${manifest.metadata.name}`)
        .join(', ')}`,
    )
  }
  return found[0]!
}

export function releases(run: ProgramRun): CapturedResource[] {
  return byType(run.resources, RELEASE)
}

export function releaseNamed(run: ProgramRun, chart: string): CapturedResource {
  const found = releases(run).filter((release) => release.inputs.chart === chart)
  if (found.length !== 1)
    throw new Error(
      `expected one release of ${chart}; have ${releases(run)
        .map((release) => String(release.inputs.chart))
        .join(', ')}`,
    )
  return found[0]!
}

/** The captured resource behind a manifest (to read its dependencies). */
export function resourceOf(run: ProgramRun, manifest: Manifest): CapturedResource {
  const found = run.resources
    .filter(isKubernetesObject)
    .find(
      (resource) =>
        manifestOf(resource).metadata.name === manifest.metadata.name &&
        manifestOf(resource).kind === manifest.kind &&
        manifestOf(resource).metadata.namespace === manifest.metadata.namespace,
    )
  if (found === undefined) throw new Error(`no resource for ${manifest.kind} ${manifest.metadata.name}`)
  return found
}

interface Validatable {
  validate(): void
}
type ModelClass = new (data: Record<string, unknown>) => Validatable

/** apiVersion → kind → the published model. */
const MODELS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  v1: core,
  'apps/v1': apps,
  'autoscaling/v2': autoscaling,
  'batch/v1': batch,
  'policy/v1': policy,
  'networking.k8s.io/v1': networking,
  'rbac.authorization.k8s.io/v1': rbac,
  'traefik.io/v1alpha1': traefik,
  'monitoring.coreos.com/v1': monitoring,
  'postgresql.cnpg.io/v1': cnpg,
}

/** Custom resources with no model on npm: Elastic publishes none for ECK's CRDs. */
export const UNPUBLISHED_MODELS: readonly string[] = [
  'elasticsearch.k8s.elastic.co/v1/Elasticsearch',
  'kibana.k8s.elastic.co/v1/Kibana',
  'logstash.k8s.elastic.co/v1alpha1/Logstash',
  'beat.k8s.elastic.co/v1beta1/Beat',
]

/** The published model of an object's kind, or undefined when none is published. */
export function modelOf(manifest: Manifest): ModelClass | undefined {
  const model = MODELS[manifest.apiVersion]?.[manifest.kind]
  return typeof model === 'function' ? (model as ModelClass) : undefined
}

/** Validates a manifest against its published schema; throws the model's ValidationError. */
export function validateManifest(manifest: Manifest): void {
  const Model = modelOf(manifest)
  if (Model === undefined) throw new Error(`no published model for ${manifest.apiVersion} ${manifest.kind}`)
  new Model(manifest as unknown as Record<string, unknown>).validate()
}
