// The platform's policies, as plain objects: `index.ts` hands them to a PolicyPack, the tests
// call their `validateResource`/`validateStack` directly. Each applies where its resources
// exist: the Kubernetes ones to the prod stack (and the kind end-to-end stack), the Docker
// ones to dev; the image policy to both. Every violation says "<object>: <problem>. Fix: ...".
//
// Only what the program declares is visible here: pods a Helm chart or an operator renders on
// the cluster are not resources of the stack (the app namespace's Pod Security admission covers
// those), but the values handed to the charts and custom resources are.
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from '@pulumi/policy'
import { parse as parseYaml } from 'yaml'
import {
  at,
  chartName,
  containersOf,
  customPodTemplateSpecs,
  describeObject,
  dockerEnv,
  dockerUploads,
  imageIs,
  isFalse,
  isTrue,
  list,
  podSpecOf,
  record,
  secretLooking,
  selectorMatches,
  TYPES,
  unpinnedReason,
  type ContainerOf,
  type PodSpecOf,
  type Props,
} from './resources.ts'

/** Runs `check` for resources with a pod spec, with the object's description. */
function forPodSpec(check: (pod: PodSpecOf, object: string, args: ResourceValidationArgs, report: ReportViolation) => void) {
  return (args: ResourceValidationArgs, report: ReportViolation): void => {
    const pod = podSpecOf(args.type, args.props)
    if (pod !== undefined) check(pod, describeObject(pod.kind, args.props, args.name), args, report)
  }
}

const containerLabel = ({ name, list: where }: ContainerOf) =>
  `${where === 'containers' ? 'container' : where.replace(/s$/, '').replace(/C/, ' c')} "${name}"`

// --- Kubernetes (prod) -----------------------------------------------------------------------

export const podSecurityRestricted: ResourceValidationPolicy = {
  name: 'pod-security-restricted',
  description:
    'Pods follow the restricted Pod Security Standard: runAsNonRoot, not root, allowPrivilegeEscalation false, capabilities drop ALL (add at most NET_BIND_SERVICE), seccompProfile RuntimeDefault, not privileged, no host namespaces, ports or paths.',
  enforcementLevel: 'mandatory',
  severity: 'high',
  remediationSteps:
    'In the pod securityContext set runAsNonRoot: true, runAsUser (non-zero) and seccompProfile: { type: RuntimeDefault }; in every container securityContext set allowPrivilegeEscalation: false and capabilities: { drop: [ALL] }.',
  validateResource: forPodSpec(({ spec, path }, object, _args, report) => {
    const pod = record(spec.securityContext) ?? {}
    for (const key of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
      if (spec[key] === true) report(`${object}: ${path}.${key} is true. Fix: remove ${key} (restricted pods share no host namespace).`)
    }
    for (const volume of list(spec.volumes)) {
      if (at(volume, 'hostPath') !== undefined)
        report(
          `${object}: volume "${String(at(volume, 'name'))}" is a hostPath. Fix: use an emptyDir, configMap, secret or persistentVolumeClaim volume instead.`,
        )
    }
    for (const entry of containersOf(spec)) {
      const own = record(entry.container.securityContext) ?? {}
      const where = `${object}: ${containerLabel(entry)}`
      const runAsNonRoot = own.runAsNonRoot ?? pod.runAsNonRoot
      if (runAsNonRoot !== true)
        report(
          `${where} may run as root (runAsNonRoot is not true). Fix: set securityContext.runAsNonRoot: true on the pod or the container, with a non-zero runAsUser.`,
        )
      if ((own.runAsUser ?? pod.runAsUser) === 0)
        report(`${where} runs as UID 0. Fix: set securityContext.runAsUser to a non-zero UID (e.g. 10001).`)
      if (own.allowPrivilegeEscalation !== false)
        report(
          `${where} does not set securityContext.allowPrivilegeEscalation: false. Fix: set it to false in the container's securityContext.`,
        )
      if (own.privileged === true)
        report(`${where} is privileged. Fix: remove securityContext.privileged (restricted pods are never privileged).`)
      const capabilities = record(own.capabilities) ?? {}
      if (!list(capabilities.drop).includes('ALL'))
        report(`${where} does not drop all capabilities. Fix: set securityContext.capabilities.drop: [ALL] in the container.`)
      const added = list(capabilities.add).filter((capability) => capability !== 'NET_BIND_SERVICE')
      if (added.length > 0)
        report(
          `${where} adds capabilities ${added.join(', ')}. Fix: remove them from securityContext.capabilities.add (only NET_BIND_SERVICE is allowed).`,
        )
      const seccomp = at(own.seccompProfile ?? pod.seccompProfile, 'type')
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
        report(
          `${where} has no RuntimeDefault seccomp profile (${seccomp === undefined ? 'unset' : String(seccomp)}). Fix: set securityContext.seccompProfile: { type: RuntimeDefault } on the pod or the container.`,
        )
      }
      for (const port of list(entry.container.ports)) {
        if (typeof at(port, 'hostPort') === 'number' && at(port, 'hostPort') !== 0)
          report(`${where} binds host port ${String(at(port, 'hostPort'))}. Fix: remove hostPort and reach the pod through a Service.`)
      }
    }
  }),
}

export const readOnlyRootFilesystem: ResourceValidationPolicy = {
  name: 'read-only-root-filesystem',
  description: 'Every container mounts its root filesystem read-only; writable paths are volumes.',
  enforcementLevel: 'mandatory',
  severity: 'medium',
  remediationSteps: 'Set securityContext.readOnlyRootFilesystem: true in each container and mount an emptyDir where it writes (e.g. /tmp).',
  validateResource: forPodSpec(({ spec }, object, _args, report) => {
    for (const entry of containersOf(spec)) {
      if (at(entry.container, 'securityContext', 'readOnlyRootFilesystem') !== true) {
        report(
          `${object}: ${containerLabel(entry)} has a writable root filesystem. Fix: set securityContext.readOnlyRootFilesystem: true and mount an emptyDir volume where it writes (e.g. /tmp).`,
        )
      }
    }
  }),
}

export const resourceRequestsAndLimits: ResourceValidationPolicy = {
  name: 'resource-requests-and-limits',
  description:
    'Every container requests and is limited in CPU and memory, so the scheduler can place it and a leak cannot starve its node.',
  enforcementLevel: 'mandatory',
  severity: 'medium',
  remediationSteps:
    'Set resources.requests.{cpu,memory} and resources.limits.{cpu,memory} on each container (app services: in infra/model.ts).',
  validateResource: forPodSpec(({ spec }, object, _args, report) => {
    for (const entry of containersOf(spec)) {
      if (entry.list === 'ephemeralContainers') continue // the API refuses resources on ephemeral containers
      const missing = ['requests', 'limits'].flatMap((kind) =>
        ['cpu', 'memory']
          .filter((resource) => at(entry.container, 'resources', kind, resource) === undefined)
          .map((resource) => `${kind}.${resource}`),
      )
      if (missing.length > 0)
        report(
          `${object}: ${containerLabel(entry)} has no resources.${missing.join(', resources.')}. Fix: set resources.requests and resources.limits for both cpu and memory.`,
        )
    }
  }),
}

export const readinessAndLivenessProbes: ResourceValidationPolicy = {
  name: 'readiness-and-liveness-probes',
  description:
    'Every container of a long-running workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet) has a readiness and a liveness probe; Jobs and init containers are exempt.',
  enforcementLevel: 'mandatory',
  severity: 'medium',
  remediationSteps:
    'Give each container a readinessProbe (traffic only when ready: /health/ready) and a livenessProbe (restart when stuck: /health/live).',
  validateResource: forPodSpec(({ spec, longRunning }, object, _args, report) => {
    if (!longRunning) return
    for (const entry of containersOf(spec).filter((candidate) => candidate.list === 'containers')) {
      for (const probe of ['readinessProbe', 'livenessProbe'] as const) {
        if (record(entry.container[probe]) === undefined) {
          report(
            `${object}: ${containerLabel(entry)} has no ${probe}. Fix: add ${probe}, e.g. { httpGet: { path: '${probe === 'readinessProbe' ? '/health/ready' : '/health/live'}', port: 'http' } }.`,
          )
        }
      }
    }
  }),
}

export interface ReplicasConfig {
  readonly minReplicas?: number
}

export const replicasAndDisruptionBudget: StackValidationPolicy = {
  name: 'replicas-and-disruption-budget',
  description:
    'Deployments and StatefulSets run at least two replicas and have a PodDisruptionBudget selecting their pods, so a node drain or a crash never takes a service down.',
  enforcementLevel: 'mandatory',
  severity: 'high',
  remediationSteps:
    'Set spec.replicas >= 2 (or let an HPA with minReplicas >= 2 own it) and add a policy/v1 PodDisruptionBudget in the same namespace whose selector matches the pod labels, e.g. maxUnavailable: 1.',
  configSchema: { properties: { minReplicas: { type: 'integer', minimum: 1, default: 2 } } },
  validateStack: (args: StackValidationArgs, report: ReportViolation) => {
    const minimum = args.getConfig<ReplicasConfig>().minReplicas ?? 2
    const namespaceOf = (props: Props) => at(props, 'metadata', 'namespace')
    const sameNamespace = (a: unknown, b: unknown) => typeof a !== 'string' || typeof b !== 'string' || a === b
    const budgets = args.resources.filter((resource) => resource.type === TYPES.podDisruptionBudget)
    const autoscalers = args.resources.filter((resource) => resource.type === TYPES.horizontalPodAutoscaler)
    for (const workload of args.resources.filter((resource) => resource.type === TYPES.deployment || resource.type === TYPES.statefulSet)) {
      const kind = workload.type.slice(workload.type.lastIndexOf(':') + 1)
      const object = describeObject(kind, workload.props, workload.name)
      const name = at(workload.props, 'metadata', 'name')
      const replicas = at(workload.props, 'spec', 'replicas')
      const autoscaled = autoscalers.find(
        (hpa) =>
          sameNamespace(namespaceOf(hpa.props), namespaceOf(workload.props)) &&
          at(hpa.props, 'spec', 'scaleTargetRef', 'kind') === kind &&
          at(hpa.props, 'spec', 'scaleTargetRef', 'name') === name,
      )
      const floor = replicas === undefined && autoscaled !== undefined ? at(autoscaled.props, 'spec', 'minReplicas') : replicas
      if (typeof floor !== 'number' || floor < minimum) {
        report(
          `${object}: runs ${typeof floor === 'number' ? floor : 1} replica(s), fewer than ${minimum}. Fix: set spec.replicas to ${minimum} or more (app services: replicas in the stack config).`,
          workload.urn,
        )
      }
      const labels = record(at(workload.props, 'spec', 'template', 'metadata', 'labels')) ?? {}
      const covered = budgets.some(
        (pdb) =>
          sameNamespace(namespaceOf(pdb.props), namespaceOf(workload.props)) && selectorMatches(at(pdb.props, 'spec', 'selector'), labels),
      )
      if (!covered) {
        report(
          `${object}: no PodDisruptionBudget selects its pods (${JSON.stringify(labels)}). Fix: add a policy/v1 PodDisruptionBudget in its namespace with spec.selector.matchLabels from the pod template and maxUnavailable: 1.`,
          workload.urn,
        )
      }
    }
  },
}

/** Whether a list of command-line arguments turns on Traefik's insecure API. */
const insecureApiArgument = (args: unknown) =>
  list(args).some((arg) => typeof arg === 'string' && /^--api\.insecure(=(true|1))?$/i.test(arg.trim()))

export const traefikApiNotInsecure: ResourceValidationPolicy = {
  name: 'traefik-api-not-insecure',
  description:
    "Traefik's API and dashboard are never served on the insecure entrypoint (api.insecure): they are published through a router with authentication, or only on loopback.",
  enforcementLevel: 'mandatory',
  severity: 'critical',
  remediationSteps:
    'Remove api.insecure (chart values, --api.insecure, TRAEFIK_API_INSECURE, the static file) and route api@internal through an IngressRoute/router with a basicAuth middleware.',
  validateResource: (args, report) => {
    const fix =
      'Fix: remove api.insecure and publish the dashboard through a router to api@internal behind authentication (see infra/kubernetes/edge.ts).'
    if (args.type === TYPES.helmRelease && chartName(args.props) === 'traefik') {
      const values = args.props.values
      if (isTrue(at(values, 'api', 'insecure')))
        report(`Helm release ${String(args.props.name ?? args.name)}: values.api.insecure is true. ${fix}`)
      if (insecureApiArgument(at(values, 'additionalArguments')))
        report(`Helm release ${String(args.props.name ?? args.name)}: values.additionalArguments has --api.insecure. ${fix}`)
      return
    }
    const pod = podSpecOf(args.type, args.props)
    if (pod !== undefined) {
      for (const entry of containersOf(pod.spec).filter((candidate) => imageIs(candidate.container.image, 'traefik'))) {
        if (insecureApiArgument([...list(entry.container.args), ...list(entry.container.command)])) {
          report(`${describeObject(pod.kind, args.props, args.name)}: ${containerLabel(entry)} runs with --api.insecure. ${fix}`)
        }
      }
      return
    }
    if (args.type === TYPES.dockerContainer && imageIs(args.props.image, 'traefik')) {
      const where = `Docker container ${String(args.props.name ?? args.name)}`
      if (insecureApiArgument(args.props.command)) report(`${where}: command has --api.insecure. ${fix}`)
      if (dockerEnv(args.props.envs).some(([name, value]) => name === 'TRAEFIK_API_INSECURE' && isTrue(value)))
        report(`${where}: TRAEFIK_API_INSECURE is true. ${fix}`)
      for (const upload of dockerUploads(args.props.uploads).filter((candidate) => /\.ya?ml$/.test(candidate.file))) {
        if (isTrue(at(safeYaml(upload.content), 'api', 'insecure'))) report(`${where}: ${upload.file} sets api.insecure: true. ${fix}`)
      }
    }
  },
}

/** A YAML document, or undefined when the text is not YAML (the policy then has nothing to read). */
function safeYaml(text: string): unknown {
  try {
    return parseYaml(text) as unknown
  } catch {
    return undefined
  }
}

export const noSecretsInPlainEnv: ResourceValidationPolicy = {
  name: 'no-secrets-in-plain-env',
  description:
    "No container gets a credential as a literal environment value (it would sit in the object's spec, readable by anyone who can read the workload): credentials come from Secrets through valueFrom.secretKeyRef.",
  enforcementLevel: 'mandatory',
  severity: 'critical',
  remediationSteps:
    'Put the value in a Kubernetes Secret and reference it with env[].valueFrom.secretKeyRef (app services: a secret in infra/model.ts).',
  validateResource: (args, report) => {
    const pod = podSpecOf(args.type, args.props)
    const specs = pod !== undefined ? [{ object: describeObject(pod.kind, args.props, args.name), spec: pod.spec }] : []
    if (pod === undefined && args.type.startsWith('kubernetes:') && args.type.includes('.k8s.elastic.co/')) {
      const kind = args.type.slice(args.type.lastIndexOf(':') + 1)
      for (const { path, spec } of customPodTemplateSpecs(args.props))
        specs.push({ object: `${describeObject(kind, args.props, args.name)} (${path})`, spec })
    }
    for (const { object, spec } of specs) {
      for (const entry of containersOf(spec)) {
        for (const variable of list(entry.container.env)) {
          const name = String(at(variable, 'name'))
          const why = secretLooking(name, at(variable, 'value'))
          if (why !== undefined) {
            report(
              `${object}: ${containerLabel(entry)} env ${name} looks like a secret (${why}). Fix: store it in a Secret and use valueFrom.secretKeyRef instead of value.`,
            )
          }
        }
      }
    }
  },
}

/** `xpack.security.enabled` in an Elasticsearch config, flat (`xpack.security.enabled`) or nested. */
const securitySetting = (config: unknown) =>
  at(config, 'xpack.security.enabled') ?? at(config, 'xpack', 'security', 'enabled') ?? at(config, 'xpack.security', 'enabled')

export const elasticsearchSecurityOn: ResourceValidationPolicy = {
  name: 'elasticsearch-security-on',
  description:
    'Elasticsearch keeps its security (authentication, TLS) on. ECK turns it on by default: this fires only when someone sets xpack.security.enabled to false.',
  enforcementLevel: 'mandatory',
  severity: 'critical',
  remediationSteps:
    'Remove xpack.security.enabled: false (ECK nodeSets[].config, the container environment or elasticsearch.yml); give clients their own users instead.',
  validateResource: (args, report) => {
    const fix = 'Fix: remove xpack.security.enabled: false (security stays on) and give each client its own Elasticsearch user.'
    if (args.type === TYPES.elasticsearch) {
      list(at(args.props, 'spec', 'nodeSets')).forEach((nodeSet, index) => {
        if (isFalse(securitySetting(at(nodeSet, 'config')))) {
          report(
            `${describeObject('Elasticsearch', args.props, args.name)}: spec.nodeSets[${index}] (${String(at(nodeSet, 'name'))}) sets xpack.security.enabled: false. ${fix}`,
          )
        }
      })
      return
    }
    if (args.type === TYPES.dockerContainer && imageIs(args.props.image, 'elasticsearch')) {
      const where = `Docker container ${String(args.props.name ?? args.name)}`
      if (dockerEnv(args.props.envs).some(([name, value]) => name === 'xpack.security.enabled' && isFalse(value)))
        report(`${where}: env xpack.security.enabled=false. ${fix}`)
      for (const upload of dockerUploads(args.props.uploads).filter((candidate) => /elasticsearch\.ya?ml$/.test(candidate.file))) {
        if (isFalse(securitySetting(safeYaml(upload.content))))
          report(`${where}: ${upload.file} sets xpack.security.enabled: false. ${fix}`)
      }
    }
  },
}

/** Whether a grafana.ini (as chart values) lets anonymous users in as Admin. */
function anonymousAdminIni(ini: unknown): boolean {
  const section = record(at(ini, 'auth.anonymous')) ?? record(at(ini, 'auth', 'anonymous'))
  return section !== undefined && isTrue(section.enabled) && String(section.org_role ?? 'Viewer').toLowerCase() === 'admin'
}

export const grafanaNoAnonymousAdmin: ResourceValidationPolicy = {
  name: 'grafana-no-anonymous-admin',
  description:
    "Grafana does not let anonymous users in with the Admin role ([auth.anonymous] enabled with org_role Admin): dashboards, data sources and their credentials would be everyone's.",
  enforcementLevel: 'mandatory',
  severity: 'critical',
  remediationSteps:
    'Set [auth.anonymous] enabled = false (chart values grafana.ini, or GF_AUTH_ANONYMOUS_ENABLED=false) and sign in with the generated admin password.',
  validateResource: (args, report) => {
    const fix =
      'Fix: set grafana.ini [auth.anonymous] enabled: false (or at least org_role: Viewer) and sign in with the generated admin user.'
    if (args.type === TYPES.helmRelease) {
      const chart = chartName(args.props)
      const values = args.props.values
      const grafana = chart === 'grafana' ? values : chart === 'kube-prometheus-stack' ? at(values, 'grafana') : undefined
      if (grafana === undefined) return
      const prefix = chart === 'grafana' ? 'values' : 'values.grafana'
      if (anonymousAdminIni(at(grafana, 'grafana.ini')))
        report(
          `Helm release ${String(args.props.name ?? args.name)}: ${prefix}["grafana.ini"]["auth.anonymous"] lets anonymous users in as Admin. ${fix}`,
        )
      const env = record(at(grafana, 'env')) ?? {}
      if (isTrue(env.GF_AUTH_ANONYMOUS_ENABLED) && String(env.GF_AUTH_ANONYMOUS_ORG_ROLE ?? '').toLowerCase() === 'admin') {
        report(`Helm release ${String(args.props.name ?? args.name)}: ${prefix}.env enables anonymous Admin (GF_AUTH_ANONYMOUS_*). ${fix}`)
      }
      return
    }
    if (args.type === TYPES.dockerContainer && imageIs(args.props.image, 'grafana')) {
      const env = Object.fromEntries(dockerEnv(args.props.envs))
      if (isTrue(env.GF_AUTH_ANONYMOUS_ENABLED) && String(env.GF_AUTH_ANONYMOUS_ORG_ROLE ?? '').toLowerCase() === 'admin') {
        report(
          `Docker container ${String(args.props.name ?? args.name)}: GF_AUTH_ANONYMOUS_ENABLED=true with GF_AUTH_ANONYMOUS_ORG_ROLE=Admin. ${fix}`,
        )
      }
    }
  },
}

// --- Both stacks -----------------------------------------------------------------------------

export const pinnedImages: ResourceValidationPolicy = {
  name: 'pinned-images',
  description:
    'Every image is pinned: an explicit tag other than latest, or a digest. An untagged reference means latest, and latest changes under a running stack.',
  enforcementLevel: 'mandatory',
  severity: 'high',
  remediationSteps:
    'Reference images by an exact version tag (traefik:v3.7.10) or digest (@sha256:...); third-party versions are the images.* keys of the stack config.',
  validateResource: (args, report) => {
    const fix =
      'Fix: use an exact version tag (e.g. traefik:v3.7.10) or a digest (@sha256:...); for third-party images set the images.* key of the stack config.'
    const pod = podSpecOf(args.type, args.props)
    if (pod !== undefined) {
      for (const entry of containersOf(pod.spec)) {
        const why = unpinnedReason(entry.container.image)
        if (why !== undefined)
          report(
            `${describeObject(pod.kind, args.props, args.name)}: ${containerLabel(entry)} image ${JSON.stringify(entry.container.image ?? '')} ${why}. ${fix}`,
          )
      }
      return
    }
    const check = (what: string, reference: unknown) => {
      const why = unpinnedReason(reference)
      if (why !== undefined) report(`${what} image ${JSON.stringify(reference ?? '')} ${why}. ${fix}`)
    }
    switch (args.type) {
      case TYPES.dockerContainer:
        check(`Docker container ${String(args.props.name ?? args.name)}:`, args.props.image)
        break
      case TYPES.dockerImage:
        check(`Docker build ${args.name}:`, args.props.imageName)
        break
      case TYPES.dockerRemoteImage:
        check(`Docker image pull ${args.name}:`, args.props.name)
        break
      case TYPES.elasticsearch:
        if (at(args.props, 'spec', 'image') !== undefined)
          check(`${describeObject('Elasticsearch', args.props, args.name)}: spec.image`, at(args.props, 'spec', 'image'))
        break
    }
  },
}

// --- Docker (dev) ----------------------------------------------------------------------------

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\])$/

export const dockerPortsOnLoopback: ResourceValidationPolicy = {
  name: 'docker-ports-on-loopback',
  description:
    'Containers publish ports on loopback (127.0.0.1) only: a dev stack is reachable from the machine it runs on, never from the network it sits on.',
  enforcementLevel: 'mandatory',
  severity: 'high',
  remediationSteps: "Give every entry of ports an ip: '127.0.0.1' (infra/docker/container.ts does it for the platform's containers).",
  validateResource: (args, report) => {
    if (args.type !== TYPES.dockerContainer) return
    for (const port of list(args.props.ports)) {
      const ip = at(port, 'ip')
      if (typeof ip !== 'string' || !LOOPBACK.test(ip)) {
        report(
          `Docker container ${String(args.props.name ?? args.name)}: port ${String(at(port, 'external') ?? '(random)')}→${String(at(port, 'internal'))} is published on ${typeof ip === 'string' && ip !== '' ? ip : 'every interface (0.0.0.0)'}. Fix: set ip: '127.0.0.1' on the port.`,
        )
      }
    }
  },
}

/** Every policy of the pack, in the order they are listed. */
export const policies: readonly (ResourceValidationPolicy | StackValidationPolicy)[] = [
  podSecurityRestricted,
  readOnlyRootFilesystem,
  resourceRequestsAndLimits,
  readinessAndLivenessProbes,
  replicasAndDisruptionBudget,
  traefikApiNotInsecure,
  noSecretsInPlainEnv,
  elasticsearchSecurityOn,
  grafanaNoAnonymousAdmin,
  pinnedImages,
  dockerPortsOnLoopback,
]
