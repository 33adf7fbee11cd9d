// The Kubernetes renderer of the service model (infra/model.ts). Per app service: a
// ServiceAccount without an API token, a Deployment (the model's replicas, environment, probes,
// resources and shutdown timing; a restricted, read-only pod spread across nodes), a Service, a
// HorizontalPodAutoscaler, a PodDisruptionBudget and a ServiceMonitor; for the published
// service a Traefik IngressRoute with TLS; once, the PrometheusRule with dev's alerts and the
// namespace's network policies.
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import type { AppService, Dependency, EndpointName, EnvSource, SecretName } from '../model.ts'
import { alertRules } from '../observability/index.ts'
import type { NamespaceRef } from './namespaces.ts'
import { appLabels, networkPolicies, platformFlows, policyName, type PlatformPeers } from './network.ts'
import { customResource } from './resources.ts'
import { APP_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext } from './security.ts'

export interface SecretKeyRef {
  readonly name: string
  readonly key: string
}

export interface KubernetesServicesArgs {
  readonly services: readonly AppService[]
  /** Image reference per service. */
  readonly images: Readonly<Record<string, pulumi.Input<string>>>
  readonly namespace: NamespaceRef
  /** Image pull Secret in `namespace`. */
  readonly imagePullSecret: string
  /** Value of each platform endpoint as a pod's environment sees it. */
  readonly endpoints: Readonly<Record<EndpointName, pulumi.Input<string>>>
  /** Per service, where each secret its environment needs lives (Secrets in `namespace`). */
  readonly secrets: Readonly<Record<string, Partial<Record<SecretName, SecretKeyRef>>>>
  /** Secret in `namespace` with the Consul CA (`tls.crt`), trusted by the services' TLS client. */
  readonly consulCaSecret: string
  /** What each platform dependency is: the app services are created after it. */
  readonly platform: Readonly<Record<Exclude<Dependency, AppService['name']>, readonly pulumi.Resource[]>>
  /** Resources every Deployment needs first (the Secrets it reads). */
  readonly secretResources: readonly pulumi.Resource[]
  /** The Traefik release (IngressRoute CRD). */
  readonly traefik: pulumi.Resource
  /** Traefik's HTTPS entrypoint. */
  readonly tlsEntryPoint: string
  /** The Prometheus Operator's release (ServiceMonitor, PrometheusRule CRDs). */
  readonly prometheusOperator: pulumi.Resource
  /** Host of the published service, e.g. `api.platform.example.com`. */
  readonly ingressHost: string
  /** Where the rest of the platform runs, for the network policies. */
  readonly peers: PlatformPeers
  /** Default `15s`. */
  readonly scrapeInterval?: string
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
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } })
  const fromModel = Object.entries(service.env).map(([name, source]: [string, EnvSource]): k8s.types.input.core.v1.EnvVar => {
    switch (source.kind) {
      case 'value':
        return { name, value: source.value }
      case 'endpoint':
        return { name, value: resolve.endpoint(source.endpoint) }
      case 'secret':
        return { name, valueFrom: { secretKeyRef: { ...resolve.secret(source.secret) } } }
      case 'instance-address':
        // Consul's checks and the callers reach the pod on its own IP.
        return { name, ...field('status.podIP') }
    }
  })
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

/** The pod's grace period: Kubernetes counts the preStop pause inside it. */
export function terminationGracePeriodSeconds(service: AppService): number {
  return service.shutdown.preStopSeconds + service.shutdown.gracePeriodSeconds
}

/** HPA bounds: the configured replicas are the floor; up to three times that, at most 10. */
export function autoscalingBounds(service: AppService): { min: number; max: number } {
  return { min: service.replicas, max: Math.max(service.replicas, Math.min(10, service.replicas * 3)) }
}

export class KubernetesServices extends pulumi.ComponentResource {
  readonly deployments: Readonly<Record<string, k8s.apps.v1.Deployment>>
  /** The published service's URL. */
  readonly gatewayUrl: pulumi.Output<string>

  constructor(name: string, args: KubernetesServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:apps:KubernetesServices', name, {}, opts)
    const child = { parent: this }
    const ns = args.namespace.output
    const deployments = new Map<string, k8s.apps.v1.Deployment>()
    const scrapeInterval = args.scrapeInterval ?? '15s'

    for (const service of args.services) {
      const image = args.images[service.name]
      if (image === undefined) throw new pulumi.ResourceError(`no image for ${service.name}`, this)
      const secrets = args.secrets[service.name] ?? {}
      const labels = appLabels(service.name)
      const resource = (kind: string) => `${name}-${service.name}${kind === '' ? '' : `-${kind}`}`

      const dependsOn = service.dependsOn.flatMap((dependency): pulumi.Resource[] => {
        const platform = args.platform[dependency as Exclude<Dependency, AppService['name']>]
        if (platform !== undefined) return [...platform]
        const upstream = deployments.get(dependency)
        if (upstream === undefined) throw new pulumi.ResourceError(`${service.name} depends on ${dependency}, which is neither a platform component given nor a service declared before it`, this)
        return [upstream]
      })

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
                    env: renderEnv(service, {
                      endpoint: (endpoint) => args.endpoints[endpoint],
                      secret: (secret) => {
                        const ref = secrets[secret]
                        if (ref === undefined) throw new pulumi.ResourceError(`${service.name} needs the secret ${secret}, which the stack did not provide`, this)
                        return ref
                      },
                    }),
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
      deployments.set(service.name, deployment)

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
            endpoints: [{ port: 'http', path: service.metricsPath, interval: scrapeInterval, honorLabels: true }],
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
              routes: [{ kind: 'Rule', match: ingressMatch(args.ingressHost, service.ingress.routerRule), services: [{ name: service.name, port: service.port }] }],
              tls: {},
            },
            operator: args.traefik,
            after: [svc],
          },
          child,
        )
      }
    }
    this.deployments = Object.fromEntries(deployments)

    customResource(
      `${name}-alerts`,
      {
        type: 'monitoring.coreos.com/v1/PrometheusRule',
        metadata: { name: 'platform-alerts', namespace: ns, labels: { 'app.kubernetes.io/part-of': 'microservice-platform' } },
        spec: alertRules({ services: args.services.map((service) => service.name) }),
        operator: args.prometheusOperator,
      },
      child,
    )

    const names = Object.fromEntries([
      ...args.services.map((service) => policyName(appLabels(service.name), service.name)),
      policyName(args.peers.database.pods, 'database'),
    ])
    for (const policy of networkPolicies(platformFlows(args.services, args.peers), args.peers.dns, names)) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-policy-${policy.name}`,
        {
          metadata: { name: policy.name, namespace: ns, annotations: { 'platform/purpose': policy.purposes.join('; ') } },
          spec: policy.spec,
        },
        child,
      )
    }

    this.gatewayUrl = pulumi.output(`https://${args.ingressHost}`)
    this.registerOutputs({ gatewayUrl: this.gatewayUrl })
  }
}
