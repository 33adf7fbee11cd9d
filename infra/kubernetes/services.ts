// The Kubernetes renderer of the service model (infra/model.ts). One `KubernetesService` component
// per app service: a ServiceAccount without an API token, a Deployment (the model's replicas,
// environment, probes, resources and shutdown timing; a restricted, read-only pod spread across
// nodes), a Service, a HorizontalPodAutoscaler, a PodDisruptionBudget, a ServiceMonitor, the
// NetworkPolicy of its pods and, for the published service, a Traefik IngressRoute with TLS.
// What the app namespace has once, `KubernetesAppRules`: the PrometheusRule with dev's alerts and
// the policies that are no one service's (default deny, DNS, the database's). The caller
// (index.ts) makes one service component per service in the model's order and hands each the
// components of the services it calls.
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import {
  checkServiceInputs,
  resolveEnv,
  terminationGracePeriodSeconds,
  type AppService,
  type EndpointName,
  type PlatformDependency,
  type SecretName,
} from '../model.ts'
import { alertRules } from '../observability/index.ts'
import type { NamespaceRef } from './namespaces.ts'
import { appLabels, type NamedPolicy } from './network.ts'
import { customResource } from './resources.ts'
import { APP_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext } from './security.ts'

/**
 * Type of the one component that made every app service's objects, the alert rules and the
 * policies before each service had a component of its own. Their URNs carried it, so they alias
 * to it (see `formerParentName`).
 */
export const FORMER_APPS_TYPE = 'microservice-platform:apps:KubernetesServices'

export interface SecretKeyRef {
  readonly name: string
  readonly key: string
}

export interface KubernetesServiceArgs {
  readonly service: AppService
  /** The service's image reference; a missing one is refused. */
  readonly image: pulumi.Input<string> | undefined
  readonly namespace: NamespaceRef
  /** Image pull Secret in `namespace`. */
  readonly imagePullSecret: string
  /** Value of each platform endpoint as a pod's environment sees it. */
  readonly endpoints: Readonly<Record<EndpointName, pulumi.Input<string>>>
  /** Where each secret the service's environment needs lives (Secrets in `namespace`). */
  readonly secrets: Readonly<Partial<Record<SecretName, SecretKeyRef>>>
  /** Secret in `namespace` with the Consul CA (`tls.crt`), trusted by the service's TLS client. */
  readonly consulCaSecret: string
  /** What each platform dependency is: the Deployment is created after it. */
  readonly platform: Readonly<Partial<Record<PlatformDependency, readonly pulumi.Resource[]>>>
  /** The components of the app services made before this one, by service name. */
  readonly upstreams: Readonly<Record<string, pulumi.Resource>>
  /** Resources the Deployment needs first (the Secrets it reads). */
  readonly secretResources: readonly pulumi.Resource[]
  /** The Traefik release (IngressRoute CRD). */
  readonly traefik: pulumi.Resource
  /** Traefik's HTTPS entrypoint. */
  readonly tlsEntryPoint: string
  /** The Prometheus Operator's release (ServiceMonitor CRD). */
  readonly prometheusOperator: pulumi.Resource
  /** Host the service is published on if the model publishes it, e.g. `api.platform.example.com`. */
  readonly ingressHost: string
  /** The NetworkPolicy of the service's pods (`appNamespacePolicies` in network.ts). */
  readonly networkPolicy: NamedPolicy
  /** Default `15s`. */
  readonly scrapeInterval?: string
  /**
   * Name of the top-level `FORMER_APPS_TYPE` component that made these objects before: aliasing
   * to it keeps their URNs, so a stack made then updates them in place instead of replacing them
   * (a changed parent is a new URN to the engine).
   */
  readonly formerParentName?: string
}

/** Where the Consul CA is mounted in the app pods. */
const CONSUL_CA_DIR = '/etc/platform/consul-ca'
/** The published service's IngressRoute rule: its host, then the model's router rule. */
export function ingressMatch(host: string, routerRule: string): string {
  return `Host(\`${host}\`) && (${routerRule})`
}

/** The pod's environment: the model's, resolved for Kubernetes, after the variables it refers to. */
export function renderEnv(
  service: AppService,
  resolve: { endpoint: (name: EndpointName) => pulumi.Input<string>; secret: (name: SecretName) => SecretKeyRef },
): k8s.types.input.core.v1.EnvVar[] {
  type Value = Omit<k8s.types.input.core.v1.EnvVar, 'name'>
  const field = (fieldPath: string): Value => ({ valueFrom: { fieldRef: { fieldPath } } })
  const fromModel = resolveEnv<Value>(service, {
    value: (text) => ({ value: text }),
    endpoint: (endpoint) => ({ value: resolve.endpoint(endpoint) }),
    secret: (secret) => ({ valueFrom: { secretKeyRef: { ...resolve.secret(secret) } } }),
    // Consul's checks and the callers reach the pod on its own IP.
    instanceAddress: () => field('status.podIP'),
  }).map(([name, value]) => ({ name, ...value }))
  return [
    // First: CONSUL_HTTP_ADDR refers to it as $(HOST_IP), the Consul agent on the pod's node.
    { name: 'HOST_IP', ...field('status.hostIP') },
    ...fromModel,
    // The Consul agents speak HTTPS with certificates of the platform's own CA.
    { name: 'NODE_EXTRA_CA_CERTS', value: `${CONSUL_CA_DIR}/tls.crt` },
  ]
}

/** Probes from the model, on the container's named port. */
function httpProbe(probe: AppService['probes']['liveness']): k8s.types.input.core.v1.Probe {
  return {
    httpGet: { path: probe.path, port: 'http' },
    periodSeconds: probe.periodSeconds,
    timeoutSeconds: probe.timeoutSeconds,
    failureThreshold: probe.failureThreshold,
  }
}

/** HPA bounds: the configured replicas are the floor; up to three times that, at most 10. */
export function autoscalingBounds(service: AppService): { min: number; max: number } {
  return { min: service.replicas, max: Math.max(service.replicas, Math.min(10, service.replicas * 3)) }
}

/**
 * Child options: parented to the component and, when the resource was made by the former
 * component, aliased to its URN there (same name unless `formerName` says otherwise).
 */
function childOptions(
  parent: pulumi.Resource,
  formerParentName: string | undefined,
  formerName?: string,
): pulumi.CustomResourceOptions & { readonly parent: pulumi.Resource } {
  if (formerParentName === undefined) return { parent }
  const alias = { parent: pulumi.createUrn(formerParentName, FORMER_APPS_TYPE), ...(formerName === undefined ? {} : { name: formerName }) }
  return { parent, aliases: [alias] }
}

export class KubernetesService extends pulumi.ComponentResource {
  /** The service's public URL, when the model publishes it at the edge. */
  readonly publicUrl: pulumi.Output<string> | undefined

  constructor(name: string, args: KubernetesServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:apps:KubernetesService', name, {}, opts)
    const { service } = args
    const checked = checkServiceInputs(service, {
      image: args.image,
      secrets: args.secrets,
      targets: { platform: args.platform, services: args.upstreams },
    })
    if ('problem' in checked) throw new pulumi.ResourceError(checked.problem, this)
    const { image, dependsOn } = checked
    const child = childOptions(this, args.formerParentName)
    const ns = args.namespace.output
    const labels = appLabels(service.name)
    const resource = (kind: string) => (kind === '' ? name : `${name}-${kind}`)

    const account = new k8s.core.v1.ServiceAccount(
      resource('account'),
      { metadata: { name: service.name, namespace: ns, labels }, automountServiceAccountToken: false },
      child,
    )

    const scratch = service.scratchPaths.map((path, index) => ({ name: `scratch-${index}`, path }))
    const deployment = new k8s.apps.v1.Deployment(
      resource(''),
      {
        metadata: { name: service.name, namespace: ns, labels },
        spec: {
          replicas: service.replicas,
          revisionHistoryLimit: 5,
          selector: { matchLabels: labels },
          // One new pod before an old one goes: capacity never dips during a rollout.
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: service.name,
              automountServiceAccountToken: false,
              imagePullSecrets: [{ name: args.imagePullSecret }],
              securityContext: restrictedPodSecurityContext(APP_UID),
              terminationGracePeriodSeconds: terminationGracePeriodSeconds(service),
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: 'kubernetes.io/hostname',
                  whenUnsatisfiable: 'DoNotSchedule',
                  labelSelector: { matchLabels: labels },
                  // Spread each rollout's pods, not old and new together.
                  matchLabelKeys: ['pod-template-hash'],
                },
              ],
              containers: [
                {
                  name: service.name,
                  image,
                  ports: [{ name: 'http', containerPort: service.port, protocol: 'TCP' }],
                  // Every secret is there: checkServiceInputs found none missing.
                  env: renderEnv(service, { endpoint: (endpoint) => args.endpoints[endpoint], secret: (secret) => args.secrets[secret]! }),
                  resources: {
                    requests: { cpu: service.resources.requests.cpu, memory: service.resources.requests.memory },
                    limits: { cpu: service.resources.limits.cpu, memory: service.resources.limits.memory },
                  },
                  startupProbe: httpProbe(service.probes.startup),
                  readinessProbe: httpProbe(service.probes.readiness),
                  livenessProbe: httpProbe(service.probes.liveness),
                  // The endpoint removal reaches Traefik and kube-proxy before SIGTERM; the service
                  // then drains on its own (DRAIN_DELAY_MS) within SHUTDOWN_TIMEOUT_MS.
                  lifecycle: { preStop: { sleep: { seconds: service.shutdown.preStopSeconds } } },
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: [
                    ...scratch.map((volume) => ({ name: volume.name, mountPath: volume.path })),
                    { name: 'consul-ca', mountPath: CONSUL_CA_DIR, readOnly: true },
                  ],
                },
              ],
              volumes: [
                ...scratch.map((volume) => ({ name: volume.name, emptyDir: { sizeLimit: '64Mi' } })),
                { name: 'consul-ca', secret: { secretName: args.consulCaSecret, items: [{ key: 'tls.crt', path: 'tls.crt' }] } },
              ],
            },
          },
        },
      },
      { ...child, dependsOn: [...dependsOn, ...args.secretResources, account] },
    )

    const svc = new k8s.core.v1.Service(
      resource('service'),
      {
        metadata: {
          name: service.name,
          namespace: ns,
          labels,
          // The service registers itself in Consul; a synced copy would list it twice.
          annotations: { 'consul.hashicorp.com/service-sync': 'false' },
        },
        spec: {
          type: 'ClusterIP',
          selector: labels,
          ports: [{ name: 'http', port: service.port, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
        },
      },
      child,
    )

    const bounds = autoscalingBounds(service)
    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      resource('autoscaler'),
      {
        metadata: { name: service.name, namespace: ns, labels },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: service.name },
          minReplicas: bounds.min,
          maxReplicas: bounds.max,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
        },
      },
      { ...child, dependsOn: [deployment] },
    )

    new k8s.policy.v1.PodDisruptionBudget(
      resource('disruption-budget'),
      { metadata: { name: service.name, namespace: ns, labels }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
      child,
    )

    customResource(
      resource('monitor'),
      {
        type: 'monitoring.coreos.com/v1/ServiceMonitor',
        metadata: { name: service.name, namespace: ns, labels },
        spec: {
          selector: { matchLabels: labels },
          // job = the Service's name = the service's name, as the alerts expect.
          endpoints: [{ port: 'http', path: service.metricsPath, interval: args.scrapeInterval ?? '15s', honorLabels: true }],
        },
        operator: args.prometheusOperator,
        after: [svc],
      },
      child,
    )

    if (service.ingress !== undefined) {
      customResource(
        resource('route'),
        {
          type: 'traefik.io/v1alpha1/IngressRoute',
          metadata: { name: service.name, namespace: ns, labels },
          spec: {
            entryPoints: [args.tlsEntryPoint],
            routes: [
              {
                kind: 'Rule',
                match: ingressMatch(args.ingressHost, service.ingress.routerRule),
                services: [{ name: service.name, port: service.port }],
              },
            ],
            tls: {},
          },
          operator: args.traefik,
          after: [svc],
        },
        child,
      )
    }

    const formerPolicyName = args.formerParentName === undefined ? undefined : `${args.formerParentName}-policy-${args.networkPolicy.name}`
    networkPolicy(resource('policy'), args.networkPolicy, ns, childOptions(this, args.formerParentName, formerPolicyName))

    this.publicUrl = service.ingress === undefined ? undefined : pulumi.output(`https://${args.ingressHost}`)
    this.registerOutputs(this.publicUrl === undefined ? {} : { publicUrl: this.publicUrl })
  }
}

export interface KubernetesAppRulesArgs {
  /** The app services' names: the alerts cover each. */
  readonly services: readonly string[]
  readonly namespace: NamespaceRef
  /** The Prometheus Operator's release (PrometheusRule CRD). */
  readonly prometheusOperator: pulumi.Resource
  /** The namespace's policies that are no one service's (`appNamespacePolicies(...).shared`). */
  readonly policies: readonly NamedPolicy[]
  /** As `KubernetesServiceArgs.formerParentName`; these resources keep their names. */
  readonly formerParentName?: string
}

/** What the app namespace has once, for every service: the alert rules and the shared policies. */
export class KubernetesAppRules extends pulumi.ComponentResource {
  constructor(name: string, args: KubernetesAppRulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:apps:KubernetesAppRules', name, {}, opts)
    const child = childOptions(this, args.formerParentName)
    const ns = args.namespace.output

    customResource(
      `${name}-alerts`,
      {
        type: 'monitoring.coreos.com/v1/PrometheusRule',
        metadata: { name: 'platform-alerts', namespace: ns, labels: { 'app.kubernetes.io/part-of': 'microservice-platform' } },
        spec: alertRules({ services: args.services }),
        operator: args.prometheusOperator,
      },
      child,
    )
    for (const policy of args.policies) networkPolicy(`${name}-policy-${policy.name}`, policy, ns, child)
    this.registerOutputs({})
  }
}

function networkPolicy(
  resourceName: string,
  policy: NamedPolicy,
  namespace: pulumi.Input<string>,
  opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy {
  return new k8s.networking.v1.NetworkPolicy(
    resourceName,
    { metadata: { name: policy.name, namespace, annotations: { 'platform/purpose': policy.purposes.join('; ') } }, spec: policy.spec },
    opts,
  )
}
