// The edge: Traefik v3 routes the `web` entrypoint to what the Consul catalog says (only
// services tagged traefik.enable=true: the gateway). The dashboard sits on a separate `traefik`
// entrypoint through an explicit api@internal router, without api.insecure; Prometheus scrapes
// a `metrics` entrypoint that is not published.
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'
import { stringify } from 'yaml'
import { componentLabels, platformContainer } from './container.ts'

export interface EdgeArgs {
  /** e.g. `traefik:v3.7.10`. */
  readonly image: string
  readonly network: pulumi.Input<string>
  readonly namePrefix: string
  readonly stack: string
  /** Consul's `host:port` inside the network. */
  readonly consul: string
  /** Traefik's catalog-read token (secret). */
  readonly consulToken: pulumi.Input<string>
  /** Ports on 127.0.0.1: `web` (the gateway) and `dashboard`. */
  readonly hostPorts: { readonly web: number; readonly dashboard: number }
  /** Idle keep-alive timeout towards the services; default `60s`, below their 75 s. */
  readonly idleConnTimeout?: string
  /** Traefik's log level; default `INFO`. */
  readonly logLevel?: string
}

/** Ports inside the container. `traefik` is also where `traefik healthcheck --ping` looks by default. */
const ENTRYPOINTS = { web: 8000, traefik: 8080, metrics: 8082 } as const

/** Traefik's static configuration (the file is the one source: Traefik does not mix files, flags and env). */
export function traefikStaticConfig(options: {
  consul: string
  consulToken: string
  idleConnTimeout: string
  logLevel: string
}): Record<string, unknown> {
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    log: { level: options.logLevel },
    entryPoints: {
      web: { address: `:${ENTRYPOINTS.web}` },
      traefik: { address: `:${ENTRYPOINTS.traefik}` },
      metrics: { address: `:${ENTRYPOINTS.metrics}` },
    },
    api: { dashboard: true },
    ping: { entryPoint: 'traefik' },
    metrics: { prometheus: { entryPoint: 'metrics', addRoutersLabels: true, addServicesLabels: true } },
    serversTransport: { forwardingTimeouts: { idleConnTimeout: options.idleConnTimeout } },
    providers: {
      consulCatalog: {
        exposedByDefault: false,
        watch: true,
        endpoint: { address: options.consul, scheme: 'http', token: options.consulToken },
      },
      file: { directory: '/etc/traefik/dynamic', watch: false },
    },
  }
}

/** The dashboard and its API on the `traefik` entrypoint, which is published on 127.0.0.1 only. */
export function traefikDashboardRouter(): Record<string, unknown> {
  return {
    http: {
      routers: {
        dashboard: {
          entryPoints: ['traefik'],
          rule: 'PathPrefix(`/api`) || PathPrefix(`/dashboard`)',
          service: 'api@internal',
        },
      },
    },
  }
}

export class Edge extends pulumi.ComponentResource {
  /** The gateway, through Traefik. */
  readonly gatewayUrl: pulumi.Output<string>
  readonly dashboardUrl: pulumi.Output<string>
  /** Traefik's metrics `host:port` inside the network. */
  readonly metricsTarget: string
  readonly container: docker.Container

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:edge:Traefik', name, {}, opts)
    const alias = 'traefik'
    const staticConfig = pulumi.secret(
      pulumi.output(args.consulToken).apply((consulToken) =>
        stringify(
          traefikStaticConfig({
            consul: args.consul,
            consulToken,
            idleConnTimeout: args.idleConnTimeout ?? '60s',
            logLevel: args.logLevel ?? 'INFO',
          }),
          { lineWidth: 0 },
        ),
      ),
    )
    this.container = platformContainer(
      name,
      {
        containerName: `${args.namePrefix}-traefik`,
        alias,
        image: args.image,
        network: args.network,
        labels: componentLabels(args.stack, 'edge'),
        ports: [
          { internal: ENTRYPOINTS.web, external: args.hostPorts.web },
          { internal: ENTRYPOINTS.traefik, external: args.hostPorts.dashboard },
        ],
        files: [
          { path: '/etc/traefik/traefik.yml', content: staticConfig },
          { path: '/etc/traefik/dynamic/dashboard.yml', content: stringify(traefikDashboardRouter()) },
        ],
        healthcheck: { test: ['CMD', 'traefik', 'healthcheck', '--ping'] },
        waitHealthy: true,
      },
      { parent: this },
    )
    this.metricsTarget = `${alias}:${ENTRYPOINTS.metrics}`
    this.gatewayUrl = pulumi.output(`http://127.0.0.1:${args.hostPorts.web}`)
    this.dashboardUrl = pulumi.output(`http://127.0.0.1:${args.hostPorts.dashboard}/dashboard/`)
    this.registerOutputs({ gatewayUrl: this.gatewayUrl, dashboardUrl: this.dashboardUrl })
  }
}
