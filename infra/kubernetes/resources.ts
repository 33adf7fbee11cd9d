// The custom resources this renderer declares, typed for the fields it sets (the CRDs come
// with the operators' charts), and the one way a custom resource is made: with its operator's
// Helm release as an explicit dependency, so a first `pulumi up` on an empty cluster creates
// the CRD before the object that needs it.
import * as k8s from '@pulumi/kubernetes'
import type * as pulumi from '@pulumi/pulumi'
import type { RuleGroups } from '../observability/index.ts'

type PodTemplate = k8s.types.input.core.v1.PodTemplateSpec
type Metadata = k8s.types.input.meta.v1.ObjectMeta

// --- Traefik (traefik.io/v1alpha1) ---------------------------------------------------------

export interface IngressRouteSpec {
  readonly entryPoints: readonly string[]
  readonly routes: readonly {
    readonly kind: 'Rule'
    readonly match: string
    readonly services: readonly { readonly name: string; readonly port?: number | string; readonly kind?: 'Service' | 'TraefikService' }[]
    readonly middlewares?: readonly { readonly name: string; readonly namespace?: string }[]
  }[]
  /** `{}`: TLS with the default certificate of Traefik's TLSStore. */
  readonly tls: { readonly secretName?: string }
}

export interface MiddlewareSpec {
  readonly basicAuth?: { readonly secret: string; readonly realm?: string; readonly removeHeader?: boolean }
}

// --- Prometheus Operator (monitoring.coreos.com/v1) -----------------------------------------

export interface ServiceMonitorSpec {
  readonly selector: { readonly matchLabels: Readonly<Record<string, string>> }
  readonly endpoints: readonly {
    readonly port: string
    readonly path: string
    readonly interval: string
    readonly scrapeTimeout?: string
    /** Keep the target's own labels (the services' `service` label) over the operator's. */
    readonly honorLabels: boolean
  }[]
}

export type PrometheusRuleSpec = RuleGroups

// --- Elastic Cloud on Kubernetes ------------------------------------------------------------

export interface ElasticsearchSpec {
  readonly version: string
  readonly http: { readonly tls: { readonly selfSignedCertificate: { readonly disabled: boolean } } }
  readonly auth: {
    /** Secrets of users (kubernetes.io/basic-auth with `username`, `password`, `roles`). */
    readonly fileRealm: readonly { readonly secretName: string }[]
    /** Secrets holding a `roles.yml`. */
    readonly roles: readonly { readonly secretName: string }[]
  }
  readonly nodeSets: readonly {
    readonly name: string
    readonly count: number
    readonly config: Readonly<Record<string, unknown>>
    readonly podTemplate: PodTemplate
    readonly volumeClaimTemplates: readonly k8s.types.input.core.v1.PersistentVolumeClaim[]
  }[]
}

export interface KibanaSpec {
  readonly version: string
  readonly count: number
  readonly elasticsearchRef: { readonly name: string }
  readonly config: Readonly<Record<string, unknown>>
  readonly podTemplate: PodTemplate
}

export interface LogstashSpec {
  readonly version: string
  readonly count: number
  readonly config: Readonly<Record<string, unknown>>
  readonly pipelines: readonly { readonly 'pipeline.id': string; readonly 'config.string': string }[]
  readonly services: readonly { readonly name: string; readonly service: { readonly spec: k8s.types.input.core.v1.ServiceSpec } }[]
  readonly podTemplate: PodTemplate
}

export interface BeatSpec {
  readonly type: 'filebeat'
  readonly version: string
  readonly config: Readonly<Record<string, unknown>>
  readonly daemonSet: { readonly podTemplate: PodTemplate }
}

// --- CloudNativePG (postgresql.cnpg.io/v1) --------------------------------------------------

export interface PostgresClusterSpec {
  readonly instances: number
  readonly imageName: string
  readonly enableSuperuserAccess: boolean
  readonly bootstrap: { readonly initdb: { readonly database: string; readonly owner: string } }
  readonly managed: {
    readonly roles: readonly {
      readonly name: string
      readonly ensure: 'present'
      readonly login: boolean
      readonly inherit: boolean
      readonly connectionLimit: number
      readonly passwordSecret: { readonly name: string }
    }[]
  }
  readonly storage: { readonly size: string; readonly storageClass?: string }
  readonly resources: k8s.types.input.core.v1.ResourceRequirements
  readonly affinity: {
    readonly enablePodAntiAffinity: boolean
    readonly topologyKey: string
    readonly podAntiAffinityType: 'preferred' | 'required'
  }
}

export interface PostgresDatabaseSpec {
  readonly name: string
  readonly owner: string
  readonly cluster: { readonly name: string }
  readonly ensure: 'present'
}

// --- the one way a custom resource is made --------------------------------------------------

/** apiVersion and kind of every custom resource the renderer declares, and the spec it takes. */
export interface CustomResourceKinds {
  'traefik.io/v1alpha1/IngressRoute': IngressRouteSpec
  'traefik.io/v1alpha1/Middleware': MiddlewareSpec
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitorSpec
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRuleSpec
  'elasticsearch.k8s.elastic.co/v1/Elasticsearch': ElasticsearchSpec
  'kibana.k8s.elastic.co/v1/Kibana': KibanaSpec
  'logstash.k8s.elastic.co/v1alpha1/Logstash': LogstashSpec
  'beat.k8s.elastic.co/v1beta1/Beat': BeatSpec
  'postgresql.cnpg.io/v1/Cluster': PostgresClusterSpec
  'postgresql.cnpg.io/v1/Database': PostgresDatabaseSpec
}

export interface CustomResourceArgs<K extends keyof CustomResourceKinds> {
  /** `<group>/<version>/<Kind>`. */
  readonly type: K
  readonly metadata: Metadata & { readonly name: string; readonly namespace: pulumi.Input<string> }
  readonly spec: CustomResourceKinds[K]
  /**
   * The operator (its Helm release) whose CRD defines the kind: always a dependency, so the
   * object is created after the CRD exists and deleted before the operator goes.
   */
  readonly operator: pulumi.Resource
  /** Other resources to create first (Secrets the spec names, an object it refers to). */
  readonly after?: readonly pulumi.Resource[]
}

/** A custom resource whose CRD its operator's release installs. */
export function customResource<K extends keyof CustomResourceKinds>(
  name: string,
  args: CustomResourceArgs<K>,
  opts: pulumi.CustomResourceOptions & { readonly parent: pulumi.Resource },
): k8s.apiextensions.CustomResource {
  const slash = args.type.lastIndexOf('/')
  return new k8s.apiextensions.CustomResource(
    name,
    { apiVersion: args.type.slice(0, slash), kind: args.type.slice(slash + 1), metadata: args.metadata, spec: args.spec },
    { ...opts, dependsOn: [args.operator, ...(args.after ?? [])] },
  )
}
