// The edge on Kubernetes: Traefik from the official chart, reading only its CRDs (IngressRoute,
// Middleware) in the app and system namespaces, HTTP redirected to HTTPS. The dashboard is not
// published by the chart; this component publishes it on traefik.<domain> behind basic
// authentication with a generated password. Traefik's metrics are scraped through the chart's
// ServiceMonitor, which is why the release waits for the Prometheus Operator's CRDs.
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import type { ChartVersions } from '../config.ts'
import { chartRelease } from './charts.ts'
import type { NamespaceRef } from './namespaces.ts'
import { customResource } from './resources.ts'

/**
 * Typed values of the traefik/traefik chart (41.x): the parts this stack sets. The chart's
 * values.schema.json refuses unknown keys at the top level and on every port, so these follow its
 * layout exactly: a port's redirection under `ports.<name>.http.redirections` (since chart 39), the
 * logs under `log` and `accessLog` (since chart 41; 40.x had `logs.general` / `logs.access`).
 */
export interface TraefikValues {
  readonly deployment: { readonly replicas: number }
  readonly podDisruptionBudget: { readonly enabled: boolean; readonly maxUnavailable: number }
  readonly providers: {
    readonly kubernetesCRD: { readonly enabled: boolean; readonly allowCrossNamespace: boolean; readonly namespaces: readonly string[] }
    readonly kubernetesIngress: { readonly enabled: boolean }
  }
  readonly ingressRoute: { readonly dashboard: { readonly enabled: boolean } }
  readonly ports: {
    readonly web: {
      readonly http: {
        readonly redirections: { readonly entryPoint: { readonly to: 'websecure'; readonly scheme: 'https'; readonly permanent: boolean } }
      }
    }
  }
  readonly metrics: {
    readonly prometheus: { readonly service: { readonly enabled: boolean }; readonly serviceMonitor: { readonly enabled: boolean } }
  }
  readonly log: { readonly format: 'json'; readonly level: 'INFO' }
  readonly accessLog: { readonly enabled: boolean; readonly format: 'json' }
  readonly additionalArguments: readonly string[]
  readonly resources: k8s.types.input.core.v1.ResourceRequirements
  readonly tlsStore?: { readonly default: { readonly defaultCertificate: { readonly secretName: string } } }
}

export interface EdgeArgs {
  readonly versions: ChartVersions
  /** Namespace of Traefik (and of its dashboard route). */
  readonly namespace: NamespaceRef
  /** Namespaces whose IngressRoutes Traefik reads: the app namespace and its own. */
  readonly watchNamespaces: readonly string[]
  /** api.<domain> reaches the gateway, traefik.<domain> the dashboard. */
  readonly domain: string
  /** kubernetes.io/tls Secret in `namespace` for *.<domain>; unset: Traefik's self-signed default. */
  readonly tlsSecret?: string
  /** The Prometheus Operator: its CRDs must exist before the chart's ServiceMonitor. */
  readonly prometheusOperator: pulumi.Resource
  /** Default 2. */
  readonly replicas?: number
}

/** The chart's release name; its pods carry `app.kubernetes.io/name: traefik`. */
export const TRAEFIK_NAME = 'traefik'
/** The HTTPS entrypoint of the chart. */
export const TLS_ENTRYPOINT = 'websecure'
const DASHBOARD_USER = 'admin'

/** The chart values of the edge: HTTP redirected to HTTPS, JSON logs, only the CRD provider. */
export function traefikValues(args: Pick<EdgeArgs, 'replicas' | 'watchNamespaces' | 'tlsSecret'>): TraefikValues {
  return {
    deployment: { replicas: args.replicas ?? 2 },
    podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
    providers: {
      kubernetesCRD: { enabled: true, allowCrossNamespace: false, namespaces: [...args.watchNamespaces] },
      kubernetesIngress: { enabled: false },
    },
    // Published below, with authentication, instead of the chart's unauthenticated route.
    ingressRoute: { dashboard: { enabled: false } },
    ports: { web: { http: { redirections: { entryPoint: { to: TLS_ENTRYPOINT, scheme: 'https', permanent: true } } } } },
    metrics: { prometheus: { service: { enabled: true }, serviceMonitor: { enabled: true } } },
    log: { format: 'json', level: 'INFO' },
    accessLog: { enabled: true, format: 'json' },
    // As in dev: below the services' 75 s keep-alive, so Traefik never reuses a closed connection.
    additionalArguments: ['--serversTransport.forwardingTimeouts.idleConnTimeout=60s'],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    ...(args.tlsSecret === undefined ? {} : { tlsStore: { default: { defaultCertificate: { secretName: args.tlsSecret } } } }),
  }
}

export class TraefikEdge extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release
  readonly dashboardUrl: pulumi.Output<string>
  readonly dashboardUser: string
  /** Secret. */
  readonly dashboardPassword: pulumi.Output<string>
  /** Labels of Traefik's pods, for the app namespace's network policies. */
  readonly podLabels: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': TRAEFIK_NAME }

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:edge:TraefikHelm', name, {}, opts)
    const child = { parent: this }
    const values = traefikValues(args)
    this.release = chartRelease(
      `${name}-release`,
      { chart: 'traefik', versions: args.versions, releaseName: TRAEFIK_NAME, namespace: args.namespace.output, values },
      { ...child, dependsOn: [args.prometheusOperator] },
    )

    const password = new random.RandomPassword(`${name}-dashboard`, { length: 32, special: false }, child)
    this.dashboardUser = DASHBOARD_USER
    this.dashboardPassword = pulumi.secret(password.result)
    const authSecret = new k8s.core.v1.Secret(
      `${name}-dashboard-auth`,
      {
        metadata: { name: 'traefik-dashboard-auth', namespace: args.namespace.output },
        type: 'kubernetes.io/basic-auth',
        stringData: { username: DASHBOARD_USER, password: this.dashboardPassword },
      },
      child,
    )
    const auth = customResource(
      `${name}-dashboard-auth`,
      {
        type: 'traefik.io/v1alpha1/Middleware',
        metadata: { name: 'dashboard-auth', namespace: args.namespace.output },
        spec: { basicAuth: { secret: 'traefik-dashboard-auth', realm: 'traefik', removeHeader: true } },
        operator: this.release,
        after: [authSecret],
      },
      child,
    )
    const host = `traefik.${args.domain}`
    customResource(
      `${name}-dashboard`,
      {
        type: 'traefik.io/v1alpha1/IngressRoute',
        metadata: { name: 'traefik-dashboard', namespace: args.namespace.output },
        spec: {
          entryPoints: [TLS_ENTRYPOINT],
          routes: [
            {
              kind: 'Rule',
              match: `Host(\`${host}\`) && (PathPrefix(\`/dashboard\`) || PathPrefix(\`/api\`))`,
              services: [{ name: 'api@internal', kind: 'TraefikService' }],
              middlewares: [{ name: 'dashboard-auth' }],
            },
          ],
          tls: {},
        },
        operator: this.release,
        after: [auth],
      },
      child,
    )
    this.dashboardUrl = pulumi.output(`https://${host}/dashboard/`)
    this.registerOutputs({ dashboardUrl: this.dashboardUrl })
  }
}
