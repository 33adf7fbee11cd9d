// Discovery: one Consul server with the UI, ACLs on and default deny. The bootstrap
// (initial management) token is generated here; once the container is healthy, the Consul
// provider uses it to create a policy and a token per client (each app service, Traefik,
// Prometheus) and the service-defaults config entries.
import * as consul from '@pulumi/consul'
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import { componentLabels, namedVolume, platformContainer } from './container.ts'

/** Something that talks to Consul with its own token. */
export interface ConsulClient {
  /** Token key: an app service's name, or `traefik`. */
  readonly name: string
  /** ACL rules (HCL). */
  readonly rules: string
}

export interface DiscoveryArgs {
  /** e.g. `hashicorp/consul:1.22.1`. */
  readonly image: string
  readonly network: pulumi.Input<string>
  /** Prefix of Docker object names, e.g. `platform-dev`. */
  readonly namePrefix: string
  readonly stack: string
  /** Port on 127.0.0.1 for the UI and the HTTP API (the provider connects there). */
  readonly hostPort: number
  readonly clients: readonly ConsulClient[]
  /** Services whose `service-defaults` say `Protocol = http`. */
  readonly httpServices: readonly string[]
  /** Consul datacenter; default `dc1`. */
  readonly datacenter?: string
}

export class Discovery extends pulumi.ComponentResource {
  /** Consul's HTTP API inside the platform network. */
  readonly address: string
  /** `host:port` inside the platform network (Prometheus and Traefik configs take this form). */
  readonly hostAndPort: string
  readonly uiUrl: pulumi.Output<string>
  /** The initial management token (secret). */
  readonly bootstrapToken: pulumi.Output<string>
  /** Secret ID per client name (secret outputs). */
  readonly tokens: Readonly<Record<string, pulumi.Output<string>>>
  readonly container: docker.Container

  constructor(name: string, args: DiscoveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:discovery:Consul', name, {}, opts)
    const datacenter = args.datacenter ?? 'dc1'
    const alias = 'consul'
    this.hostAndPort = `${alias}:8500`
    this.address = `http://${this.hostAndPort}`

    // Consul wants the management token's secret to be a UUID.
    const bootstrap = new random.RandomUuid(`${name}-bootstrap-token`, {}, { parent: this, additionalSecretOutputs: ['result'] })
    this.bootstrapToken = pulumi.secret(bootstrap.result)

    const agentConfig = this.bootstrapToken.apply((token) =>
      JSON.stringify(
        {
          datacenter,
          server: true,
          bootstrap_expect: 1,
          ui_config: { enabled: true },
          client_addr: '0.0.0.0',
          acl: {
            enabled: true,
            default_policy: 'deny',
            enable_token_persistence: true,
            // Dev simplification: the agent's own token is the management token. A separate
            // agent token would have to exist before the agent that creates tokens starts.
            tokens: { initial_management: token, agent: token },
          },
          // Prometheus scrapes /v1/agent/metrics.
          telemetry: { prometheus_retention_time: '60s', disable_hostname: true },
        },
        null,
        2,
      ),
    )

    const data = namedVolume(`${name}-data`, `${args.namePrefix}-consul-data`, { parent: this })
    this.container = platformContainer(
      name,
      {
        containerName: `${args.namePrefix}-consul`,
        alias,
        image: args.image,
        network: args.network,
        labels: componentLabels(args.stack, 'discovery'),
        command: ['agent', '-node=consul'],
        // The CLI inside the container (docker exec ... consul members) uses it.
        env: [pulumi.interpolate`CONSUL_HTTP_TOKEN=${this.bootstrapToken}`, 'CONSUL_BIND_INTERFACE=eth0'],
        ports: [{ internal: 8500, external: args.hostPort }],
        volumes: [{ volume: data, containerPath: '/consul/data' }],
        // Read by the consul user the entrypoint switches to; the container is the boundary.
        files: [{ path: '/consul/config/platform.json', content: pulumi.secret(agentConfig) }],
        // A leader is elected: the catalog and the ACL system answer. /v1/status/leader needs no token.
        healthcheck: { test: ['CMD-SHELL', 'wget -q -O - http://127.0.0.1:8500/v1/status/leader | grep -q ":" || exit 1'] },
        waitHealthy: true,
        waitTimeoutSeconds: 120,
      },
      { parent: this },
    )
    this.uiUrl = pulumi.output(`http://127.0.0.1:${args.hostPort}/ui/`)

    // The provider reaches the published port; deriving its address from the container makes
    // it (and everything created through it) wait until the container is healthy.
    const provider = new consul.Provider(
      `${name}-provider`,
      {
        address: this.container.name.apply(() => `127.0.0.1:${args.hostPort}`),
        scheme: 'http',
        datacenter,
        token: this.bootstrapToken,
      },
      { parent: this, dependsOn: [this.container] },
    )
    const viaConsul = { parent: this, provider }

    const tokens: Record<string, pulumi.Output<string>> = {}
    for (const client of args.clients) {
      const policy = new consul.AclPolicy(
        `${name}-${client.name}`,
        { name: client.name, description: `${client.name} (managed by Pulumi)`, rules: client.rules },
        viaConsul,
      )
      const token = new consul.AclToken(
        `${name}-${client.name}`,
        { description: `${client.name} (managed by Pulumi)`, policies: [policy.name], local: false },
        viaConsul,
      )
      const secret = consul.getAclTokenSecretIdOutput({ accessorId: token.accessorId }, viaConsul)
      tokens[client.name] = pulumi.secret(secret.secretId)
    }
    this.tokens = tokens

    for (const service of args.httpServices) {
      new consul.ConfigEntry(
        `${name}-${service}-defaults`,
        { kind: 'service-defaults', name: service, configJson: JSON.stringify({ Protocol: 'http' }) },
        viaConsul,
      )
    }

    this.registerOutputs({ uiUrl: this.uiUrl })
  }
}
