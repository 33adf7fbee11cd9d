// How the resources the policies read look to Pulumi: their type tokens, where each kind keeps
// its pod spec, image references, Docker's `KEY=value` environment strings and the values of
// Helm releases. Pure functions over plain data (the props a policy receives), so the policies
// stay short and the tests need no engine.

/** Type tokens of the resources the policies inspect, as the engine reports them. */
export const TYPES = {
  pod: 'kubernetes:core/v1:Pod',
  deployment: 'kubernetes:apps/v1:Deployment',
  statefulSet: 'kubernetes:apps/v1:StatefulSet',
  daemonSet: 'kubernetes:apps/v1:DaemonSet',
  replicaSet: 'kubernetes:apps/v1:ReplicaSet',
  job: 'kubernetes:batch/v1:Job',
  cronJob: 'kubernetes:batch/v1:CronJob',
  podDisruptionBudget: 'kubernetes:policy/v1:PodDisruptionBudget',
  horizontalPodAutoscaler: 'kubernetes:autoscaling/v2:HorizontalPodAutoscaler',
  helmRelease: 'kubernetes:helm.sh/v3:Release',
  elasticsearch: 'kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch',
  dockerContainer: 'docker:index/container:Container',
  dockerImage: 'docker:index/image:Image',
  dockerRemoteImage: 'docker:index/remoteImage:RemoteImage',
} as const

export type Props = Readonly<Record<string, unknown>>

/** `value` as a plain object, or undefined. */
export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}

/** `value` as an array (undefined and non-arrays give []). */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

/** The value at a dotted path of plain objects (`at(values, 'grafana', 'grafana.ini')`). */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value
  for (const key of path) {
    const object = record(current)
    if (object === undefined) return undefined
    current = object[key]
  }
  return current
}

/** true for `true` and for the strings "true"/"yes"/"on"/"1" (config files and env vars say it both ways). */
export function isTrue(value: unknown): boolean {
  return value === true || (typeof value === 'string' && ['true', 'yes', 'on', '1'].includes(value.trim().toLowerCase()))
}

/** false for `false` and for the strings "false"/"no"/"off"/"0". */
export function isFalse(value: unknown): boolean {
  return value === false || (typeof value === 'string' && ['false', 'no', 'off', '0'].includes(value.trim().toLowerCase()))
}

// --- Kubernetes pod specs ------------------------------------------------------------------

/** Kinds whose pods run until stopped (probes, replicas and disruption budgets apply). */
const LONG_RUNNING = new Set<string>([TYPES.pod, TYPES.deployment, TYPES.statefulSet, TYPES.daemonSet, TYPES.replicaSet])

export interface PodSpecOf {
  /** The kind, e.g. `Deployment`. */
  readonly kind: string
  readonly spec: Record<string, unknown>
  /** Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet; not Job or CronJob. */
  readonly longRunning: boolean
  /** Where the pod spec sits in the props, to name fields in messages. */
  readonly path: string
}

/** The pod spec of a Pod-spec'd kind (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob), else undefined. */
export function podSpecOf(type: string, props: Props): PodSpecOf | undefined {
  const kind = type.slice(type.lastIndexOf(':') + 1)
  let path: string
  switch (type) {
    case TYPES.pod:
      path = 'spec'
      break
    case TYPES.deployment:
    case TYPES.statefulSet:
    case TYPES.daemonSet:
    case TYPES.replicaSet:
    case TYPES.job:
      path = 'spec.template.spec'
      break
    case TYPES.cronJob:
      path = 'spec.jobTemplate.spec.template.spec'
      break
    default:
      return undefined
  }
  const spec = record(at(props, ...path.split('.')))
  return spec === undefined ? undefined : { kind, spec, longRunning: LONG_RUNNING.has(type), path }
}

export interface ContainerOf {
  readonly container: Record<string, unknown>
  readonly name: string
  /** `containers`, `initContainers` or `ephemeralContainers`. */
  readonly list: 'containers' | 'initContainers' | 'ephemeralContainers'
}

/** Every container of a pod spec, init and ephemeral ones included. */
export function containersOf(spec: Record<string, unknown>): ContainerOf[] {
  const lists = ['containers', 'initContainers', 'ephemeralContainers'] as const
  return lists.flatMap((name) =>
    list(spec[name]).flatMap((item, index) => {
      const container = record(item)
      return container === undefined
        ? []
        : [{ container, name: typeof container.name === 'string' ? container.name : `#${index}`, list: name }]
    }),
  )
}

/** `Deployment platform/user-service` (namespace and name from the metadata, else the Pulumi name). */
export function describeObject(kind: string, props: Props, fallbackName: string): string {
  const name = at(props, 'metadata', 'name')
  const namespace = at(props, 'metadata', 'namespace')
  const shown = typeof name === 'string' ? name : fallbackName
  return `${kind} ${typeof namespace === 'string' ? `${namespace}/` : ''}${shown}`
}

/** Pod templates inside custom resources whose operators build pods from them (ECK). */
export function customPodTemplateSpecs(props: Props): { path: string; spec: Record<string, unknown> }[] {
  const found: { path: string; spec: Record<string, unknown> }[] = []
  const add = (path: string, value: unknown) => {
    const spec = record(value)
    if (spec !== undefined) found.push({ path, spec })
  }
  add('spec.podTemplate.spec', at(props, 'spec', 'podTemplate', 'spec'))
  add('spec.daemonSet.podTemplate.spec', at(props, 'spec', 'daemonSet', 'podTemplate', 'spec'))
  add('spec.deployment.podTemplate.spec', at(props, 'spec', 'deployment', 'podTemplate', 'spec'))
  list(at(props, 'spec', 'nodeSets')).forEach((nodeSet, index) =>
    add(`spec.nodeSets[${index}].podTemplate.spec`, at(nodeSet, 'podTemplate', 'spec')),
  )
  return found
}

/** Whether a label selector (`matchLabels`, `matchExpressions`) selects pods with these labels. */
export function selectorMatches(selector: unknown, labels: Readonly<Record<string, unknown>>): boolean {
  const matchLabels = record(at(selector, 'matchLabels')) ?? {}
  const expressions = list(at(selector, 'matchExpressions'))
  if (Object.keys(matchLabels).length === 0 && expressions.length === 0) return false
  for (const [key, value] of Object.entries(matchLabels)) if (labels[key] !== value) return false
  for (const expression of expressions) {
    const key = String(at(expression, 'key'))
    const values = list(at(expression, 'values')).map(String)
    const has = key in labels
    switch (at(expression, 'operator')) {
      case 'In':
        if (!has || !values.includes(String(labels[key]))) return false
        break
      case 'NotIn':
        if (has && values.includes(String(labels[key]))) return false
        break
      case 'Exists':
        if (!has) return false
        break
      case 'DoesNotExist':
        if (has) return false
        break
      default:
        return false
    }
  }
  return true
}

// --- Images ----------------------------------------------------------------------------------

export interface ImageReference {
  /** Registry and repository, e.g. `ghcr.io/acme/app` or `localhost:5000/app`. */
  readonly repository: string
  readonly tag?: string
  readonly digest?: string
}

/** Splits `registry[:port]/path[:tag][@digest]`; a colon before the last slash is a registry port. */
export function parseImage(reference: string): ImageReference {
  const [withoutDigest = '', digest] = reference.trim().split('@', 2)
  const slash = withoutDigest.lastIndexOf('/')
  const colon = withoutDigest.lastIndexOf(':')
  const hasTag = colon > slash
  return {
    repository: hasTag ? withoutDigest.slice(0, colon) : withoutDigest,
    ...(hasTag ? { tag: withoutDigest.slice(colon + 1) } : {}),
    ...(digest === undefined || digest === '' ? {} : { digest }),
  }
}

/**
 * Why an image reference is not pinned (`latest`, no tag, empty), or undefined when it is: an
 * explicit tag other than latest, or a digest (`@sha256:...`, or a bare image ID `sha256:...`).
 */
export function unpinnedReason(reference: unknown): string | undefined {
  if (typeof reference !== 'string' || reference.trim() === '') return 'has no image reference'
  if (/^sha256:[0-9a-f]{64}$/.test(reference.trim())) return undefined
  const image = parseImage(reference)
  if (image.digest !== undefined) return undefined
  if (image.tag === undefined || image.tag === '') return 'has no tag, so it means latest'
  if (image.tag.toLowerCase() === 'latest') return 'uses the latest tag'
  return undefined
}

/** Whether an image reference names a given product (`traefik:v3`, `docker.io/library/traefik`, `grafana/grafana`). */
export function imageIs(reference: unknown, product: string): boolean {
  if (typeof reference !== 'string') return false
  const last = parseImage(reference).repository.split('/').pop() ?? ''
  return last === product
}

// --- Docker --------------------------------------------------------------------------------

/** Docker's `KEY=value` environment strings as [name, value] pairs (a bare `KEY` has value undefined). */
export function dockerEnv(envs: unknown): [string, string | undefined][] {
  return list(envs).flatMap((entry): [string, string | undefined][] => {
    if (typeof entry !== 'string') return []
    const equals = entry.indexOf('=')
    return [equals === -1 ? [entry, undefined] : [entry.slice(0, equals), entry.slice(equals + 1)]]
  })
}

/** The files uploaded into a container (`uploads[].file`, `.content`), text content only. */
export function dockerUploads(uploads: unknown): { file: string; content: string }[] {
  return list(uploads).flatMap((upload) => {
    const file = at(upload, 'file')
    const content = at(upload, 'content')
    return typeof file === 'string' && typeof content === 'string' ? [{ file, content }] : []
  })
}

// --- Helm ----------------------------------------------------------------------------------

/** The chart's name without repository or OCI prefix: `oci://ghcr.io/traefik/helm/traefik` → `traefik`. */
export function chartName(props: Props): string {
  const chart = typeof props.chart === 'string' ? props.chart : ''
  return chart.replace(/\/+$/, '').split('/').pop() ?? ''
}

// --- Secrets -------------------------------------------------------------------------------

/** Names that say the value is a credential. */
const SECRET_NAME = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)(?![A-Z])/i
/** Names that point at a credential instead of holding it. */
const REFERENCE_NAME = /(_FILE|_PATH|_DIR|_NAME|_KEY_ID|_TTL|_EXPIRY|_TIMEOUT)$/i

/** Values that are credentials whatever the variable is called. */
const SECRET_VALUES: readonly [RegExp, string][] = [
  [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, 'a URL with a password in it'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/\bAKIA[0-9A-Z]{16}\b/, 'an AWS access key'],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, 'a GitHub token'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/, 'a JSON web token'],
]

/**
 * Why a plain environment value looks like a secret, or undefined: a credential-shaped value
 * (URL with a password, private key, cloud or GitHub token, JWT), or a non-empty literal in a
 * variable whose name says it holds a credential (`*_PASSWORD`, `*_TOKEN`, `API_KEY`, ...).
 * Values that cannot be credentials (booleans, numbers, absolute paths) pass.
 */
export function secretLooking(name: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined
  for (const [pattern, what] of SECRET_VALUES) if (pattern.test(value)) return `its value is ${what}`
  if (!SECRET_NAME.test(name) || REFERENCE_NAME.test(name)) return undefined
  if (/^(true|false|yes|no|on|off|\d+(\.\d+)?[a-z]{0,2})$/i.test(value) || value.startsWith('/')) return undefined
  return 'its name says it holds a credential and it has a literal value'
}
