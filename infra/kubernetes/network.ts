// Network policies of the app namespace: deny everything, then allow only the flows the
// platform needs, each written once as a flow (who → whom, on which port) and rendered on both
// ends: as an egress rule of the caller's pods and an ingress rule of the callee's, when both live
// in the namespace; as one side only when the other is elsewhere (Traefik, Prometheus, the Consul
// agents, Jaeger, the operator, DNS, the API server).
import type * as k8s from '@pulumi/kubernetes'
import type { AppService } from '../model.ts'

type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer

/** Pods, in the app namespace (`namespace` unset) or in another namespace, or an address block. */
export type Endpoint = { readonly pods: Readonly<Record<string, string>>; readonly namespace?: string } | { readonly cidr: string }

export interface Flow {
  /** Why the flow exists, in a few words (kept in the policy's annotation). */
  readonly purpose: string
  readonly from: Endpoint
  readonly to: Endpoint
  readonly ports: readonly { readonly port: number; readonly protocol?: 'TCP' | 'UDP' }[]
}

/** Where the platform's pieces are, as the app namespace's policies see them. */
export interface PlatformPeers {
  readonly traefik: Endpoint
  readonly prometheus: Endpoint
  /** Consul's client agents: they run the services' health checks and take their registrations. */
  readonly consulAgents: Endpoint
  readonly consulAgentPort: number
  readonly jaeger: Endpoint
  readonly otlpPort: number
  readonly database: { readonly pods: Readonly<Record<string, string>>; readonly port: number; readonly statusPort: number }
  readonly databaseOperator: Endpoint
  readonly dns: Endpoint
}

/** The pod labels of an app service. */
export function appLabels(service: string): Record<string, string> {
  return { 'app.kubernetes.io/name': service, 'app.kubernetes.io/part-of': 'microservice-platform' }
}

/** Every flow the app namespace allows, derived from the service model and the platform's places. */
export function platformFlows(services: readonly AppService[], peers: PlatformPeers): Flow[] {
  const pods = (service: string): Endpoint => ({ pods: appLabels(service) })
  const names = new Set(services.map((service) => service.name))
  const flows: Flow[] = []
  for (const service of services) {
    const self = pods(service.name)
    const port = [{ port: service.port }]
    if (service.ingress !== undefined)
      flows.push({ purpose: `Traefik routes the edge to ${service.name}`, from: peers.traefik, to: self, ports: port })
    flows.push({ purpose: `Prometheus scrapes ${service.name}`, from: peers.prometheus, to: self, ports: port })
    flows.push({ purpose: `the Consul agent checks ${service.name}'s readiness`, from: peers.consulAgents, to: self, ports: port })
    flows.push({
      purpose: `${service.name} registers with and discovers through its node's Consul agent`,
      from: self,
      to: peers.consulAgents,
      ports: [{ port: peers.consulAgentPort }],
    })
    flows.push({ purpose: `${service.name} sends traces`, from: self, to: peers.jaeger, ports: [{ port: peers.otlpPort }] })
    if (service.database !== undefined) {
      flows.push({
        purpose: `${service.name} uses its database`,
        from: self,
        to: { pods: peers.database.pods },
        ports: [{ port: peers.database.port }],
      })
    }
    for (const dependency of service.dependsOn) {
      const upstream = services.find((candidate) => candidate.name === dependency)
      if (upstream !== undefined && names.has(upstream.name)) {
        flows.push({
          purpose: `${service.name} calls ${upstream.name}`,
          from: self,
          to: pods(upstream.name),
          ports: [{ port: upstream.port }],
        })
      }
    }
  }
  const database: Endpoint = { pods: peers.database.pods }
  const databasePorts = [{ port: peers.database.port }, { port: peers.database.statusPort }]
  flows.push({ purpose: 'PostgreSQL instances replicate and check each other', from: database, to: database, ports: databasePorts })
  flows.push({
    purpose: 'the CloudNativePG operator manages the instances',
    from: peers.databaseOperator,
    to: database,
    ports: databasePorts,
  })
  // The instance manager watches its Cluster through the API server, whose address no selector
  // can name: allow its ports to any address.
  flows.push({
    purpose: 'PostgreSQL instances talk to the Kubernetes API server',
    from: database,
    to: { cidr: '0.0.0.0/0' },
    ports: [{ port: 443 }, { port: 6443 }],
  })
  return flows
}

function peer(endpoint: Endpoint): Peer {
  if ('cidr' in endpoint) return { ipBlock: { cidr: endpoint.cidr } }
  return {
    podSelector: { matchLabels: { ...endpoint.pods } },
    ...(endpoint.namespace === undefined
      ? {}
      : { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': endpoint.namespace } } }),
  }
}

const local = (endpoint: Endpoint): endpoint is { readonly pods: Readonly<Record<string, string>> } =>
  !('cidr' in endpoint) && endpoint.namespace === undefined

function key(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))
}

export interface NamedPolicy {
  readonly name: string
  readonly purposes: readonly string[]
  readonly spec: NetworkPolicySpec
}

/**
 * The policies: `default-deny` (all pods, both directions), `allow-dns`, then one per group of
 * local pods with the ingress and egress rules of every flow that ends or starts there.
 */
export function networkPolicies(flows: readonly Flow[], dns: Endpoint, names: Readonly<Record<string, string>>): NamedPolicy[] {
  const groups = new Map<string, { labels: Readonly<Record<string, string>>; ingress: Flow[]; egress: Flow[] }>()
  const group = (labels: Readonly<Record<string, string>>) => {
    const found = groups.get(key(labels)) ?? { labels, ingress: [], egress: [] }
    groups.set(key(labels), found)
    return found
  }
  for (const flow of flows) {
    if (local(flow.to)) group(flow.to.pods).ingress.push(flow)
    if (local(flow.from)) group(flow.from.pods).egress.push(flow)
  }
  const ports = (flow: Flow) => flow.ports.map((port) => ({ port: port.port, protocol: port.protocol ?? 'TCP' }))
  const policies: NamedPolicy[] = [
    {
      name: 'default-deny',
      purposes: ['nothing moves unless a policy below allows it'],
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    },
    {
      name: 'allow-dns',
      purposes: ['every pod resolves names through the cluster DNS'],
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [peer(dns)],
            ports: [
              { port: 53, protocol: 'UDP' },
              { port: 53, protocol: 'TCP' },
            ],
          },
        ],
      },
    },
  ]
  for (const { labels, ingress, egress } of groups.values()) {
    const name = names[key(labels)]
    if (name === undefined) throw new Error(`networkPolicies: no policy name for pods ${key(labels)}`)
    policies.push({
      name,
      purposes: [...ingress, ...egress].map((flow) => flow.purpose).filter((purpose, index, all) => all.indexOf(purpose) === index),
      spec: {
        podSelector: { matchLabels: { ...labels } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: ingress.map((flow) => ({ from: [peer(flow.from)], ports: ports(flow) })),
        egress: egress.map((flow) => ({ to: [peer(flow.to)], ports: ports(flow) })),
      },
    })
  }
  return policies
}

/** The name of the policy of a local pod group, keyed as `networkPolicies` looks it up. */
export function policyName(labels: Readonly<Record<string, string>>, name: string): [string, string] {
  return [key(labels), name]
}

/** The app namespace's policies by owner: each app service's own, and the rest. */
export interface AppNamespacePolicies {
  /** Default deny, DNS, the database's: not one app service's. */
  readonly shared: readonly NamedPolicy[]
  /** The policy of each app service's pods, named after it. */
  readonly services: Readonly<Record<string, NamedPolicy>>
}

/** Every policy of the app namespace from the model and the platform's places, by owner. */
export function appNamespacePolicies(services: readonly AppService[], peers: PlatformPeers): AppNamespacePolicies {
  const names = Object.fromEntries([
    ...services.map((service) => policyName(appLabels(service.name), service.name)),
    policyName(peers.database.pods, 'database'),
  ])
  const serviceNames = new Set<string>(services.map((service) => service.name))
  const policies = networkPolicies(platformFlows(services, peers), peers.dns, names)
  return {
    shared: policies.filter((policy) => !serviceNames.has(policy.name)),
    services: Object.fromEntries(policies.filter((policy) => serviceNames.has(policy.name)).map((policy) => [policy.name, policy])),
  }
}
