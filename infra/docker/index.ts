// The Docker renderer (dev): the whole platform on the local engine. One network; one
// component per concern; then one component per app service, rendered from the model in its
// order, each wired to the platform pieces and the services it depends on.
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'
import type { Credentials, PlatformOutputs, RenderInput } from '../platform.ts'
import { Database } from './database.ts'
import { CATALOG_AND_AGENT_READ, CATALOG_READ, LOGS_READER_USER, serviceRules } from '../access.ts'
import { Discovery } from './discovery.ts'
import { DockerService } from './services.ts'
import { Edge } from './edge.ts'
import { Logging } from './logging.ts'
import { Monitoring } from './monitoring.ts'
import { Tracing } from './tracing.ts'

export function deployDocker({ config, services, images }: RenderInput): PlatformOutputs {
  // Docker object names carry the stack, so two stacks can share an engine.
  const namePrefix = `platform-${config.stack}`
  const common = { namePrefix, stack: config.stack }
  // A fixed name: replaced delete-first, which replaces every container on it too.
  const network = new docker.Network(
    'network',
    { name: namePrefix, driver: 'bridge', labels: [{ label: 'platform.stack', value: config.stack }] },
    { deleteBeforeReplace: true },
  )
  const onNetwork = { ...common, network: network.name }

  const tracing = new Tracing('tracing', { ...onNetwork, image: config.images.jaeger, hostPort: config.ports.jaeger })

  const logging = new Logging('logging', {
    ...onNetwork,
    images: { elasticsearch: config.images.elasticsearch, logstash: config.images.logstash, kibana: config.images.kibana },
    hostPorts: { elasticsearch: config.ports.elasticsearch, kibana: config.ports.kibana, gelf: config.ports.gelf },
  })

  const database = new Database('database', {
    ...onNetwork,
    image: config.images.postgres,
    hostPort: config.ports.postgres,
    databases: services.flatMap((service) => (service.database === undefined ? [] : [{ service: service.name, ...service.database }])),
  })

  const discovery = new Discovery('consul', {
    ...onNetwork,
    image: config.images.consul,
    hostPort: config.ports.consul,
    clients: [
      ...services.map((service) => ({ name: service.name, rules: serviceRules(service.name) })),
      { name: 'traefik', rules: CATALOG_READ },
      { name: 'prometheus', rules: CATALOG_AND_AGENT_READ },
    ],
    httpServices: services.map((service) => service.name),
  })

  const edge = new Edge('edge', {
    ...onNetwork,
    image: config.images.traefik,
    consul: discovery.hostAndPort,
    consulToken: token(discovery, 'traefik'),
    hostPorts: { web: config.ports.web, dashboard: config.ports.traefik },
  })

  const monitoring = new Monitoring('monitoring', {
    ...onNetwork,
    images: { prometheus: config.images.prometheus, grafana: config.images.grafana },
    hostPorts: { prometheus: config.ports.prometheus, grafana: config.ports.grafana },
    consul: discovery.hostAndPort,
    consulToken: token(discovery, 'prometheus'),
    traefikMetrics: edge.metricsTarget,
    elasticsearch: { url: logging.elasticsearchInternalUrl, user: LOGS_READER_USER, password: logging.logsReaderPassword },
    jaegerUrl: tracing.queryUrl,
    services: services.map((service) => service.name),
  })

  // Made in the model's order: a service's upstreams exist before it, so it can wait for them.
  const apps: Record<string, DockerService> = {}
  for (const service of services) {
    apps[service.name] = new DockerService(`apps-${service.name}`, {
      ...onNetwork,
      service,
      image: images[service.name],
      endpoints: { 'consul-http': discovery.address, 'otlp-http': tracing.otlpHttpEndpoint },
      secrets: {
        'consul-token': token(discovery, service.name),
        ...(database.urls[service.name] === undefined ? {} : { 'database-url': database.urls[service.name] }),
      },
      platform: {
        database: [database.container],
        discovery: [discovery.container],
        tracing: [tracing.container],
        logging: [logging.logstash],
      },
      upstreams: { ...apps },
      gelfAddress: logging.gelfAddress,
      // Until each service had its own component, one component `apps` made them all.
      formerParentName: 'apps',
    })
  }

  return {
    gatewayUrl: edge.gatewayUrl,
    traefikDashboardUrl: edge.dashboardUrl,
    consulUiUrl: discovery.uiUrl,
    grafanaUrl: monitoring.grafanaUrl,
    grafanaDashboardUrls: monitoring.dashboardUrls,
    kibanaUrl: logging.kibanaUrl,
    jaegerUrl: tracing.uiUrl,
    prometheusUrl: monitoring.prometheusUrl,
    credentials: pulumi.secret(
      pulumi
        .output({
          consul: { bootstrapToken: discovery.bootstrapToken },
          grafana: { user: monitoring.grafanaAdminUser, password: monitoring.grafanaAdminPassword },
          kibana: { user: 'elastic', password: logging.elasticPassword },
          postgres: { user: 'postgres', password: database.superuserPassword },
        })
        .apply((credentials): Credentials => credentials),
    ),
  }
}

function token(discovery: Discovery, client: string): pulumi.Output<string> {
  const secret = discovery.tokens[client]
  if (secret === undefined) throw new Error(`no Consul token was made for ${client}`)
  return secret
}
