// Tracing on Kubernetes: Jaeger v2 from the official chart (jaegertracing/jaeger 4.x; its
// `jaeger:` values section and its single `jaeger` Service exist since 4.2.0), all in one with
// in-memory storage as in dev, OTLP/HTTP on 4318 for the services, the UI on 16686 behind a
// port-forward. Traces live as long as the pod: one replica (the chart's Recreate strategy).
import type * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import type { ChartVersions } from '../config.ts'
import type { ClusterService } from './access.ts'
import { chartRelease } from './charts.ts'
import type { NamespaceRef } from './namespaces.ts'
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from './security.ts'

/** Typed values of the jaegertracing/jaeger chart (Jaeger v2): the parts this stack sets. */
export interface JaegerValues {
  readonly fullnameOverride: string
  readonly jaeger: {
    readonly enabled: boolean
    readonly replicas: number
    readonly resources: k8s.types.input.core.v1.ResourceRequirements
    readonly podSecurityContext: k8s.types.input.core.v1.PodSecurityContext
    readonly securityContext: k8s.types.input.core.v1.SecurityContext
    readonly service: { readonly type: 'ClusterIP' }
  }
}

export interface TracingArgs {
  readonly versions: ChartVersions
  readonly namespace: NamespaceRef
}

/** Service (and pod) name: `jaeger`, with `app.kubernetes.io/name: jaeger` on the pod. */
export const JAEGER_NAME = 'jaeger'
export const OTLP_HTTP_PORT = 4318
const QUERY_PORT = 16686

export class JaegerTracing extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release
  /** `OTEL_EXPORTER_OTLP_ENDPOINT` of the services. */
  readonly otlpHttpEndpoint: string
  /** The query service inside the cluster (Grafana's data source). */
  readonly queryUrl: string
  readonly ui: ClusterService
  readonly podLabels: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': JAEGER_NAME }

  constructor(name: string, args: TracingArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:tracing:JaegerHelm', name, {}, opts)
    const values: JaegerValues = {
      fullnameOverride: JAEGER_NAME,
      jaeger: {
        enabled: true,
        replicas: 1,
        resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
        // The image (Alpine-based) runs as user 10001, the chart's default; storage is in memory.
        podSecurityContext: restrictedPodSecurityContext(10001),
        securityContext: restrictedContainerSecurityContext(),
        service: { type: 'ClusterIP' },
      },
    }
    this.release = chartRelease(
      `${name}-release`,
      { chart: 'jaeger', versions: args.versions, releaseName: JAEGER_NAME, namespace: args.namespace.output, values },
      { parent: this },
    )
    this.otlpHttpEndpoint = `http://${JAEGER_NAME}.${args.namespace.name}.svc:${OTLP_HTTP_PORT}`
    this.queryUrl = `http://${JAEGER_NAME}.${args.namespace.name}.svc:${QUERY_PORT}`
    this.ui = { namespace: args.namespace.name, service: JAEGER_NAME, port: QUERY_PORT, scheme: 'http' }
    this.registerOutputs({})
  }
}
