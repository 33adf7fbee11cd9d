// The dev stack as Pulumi.dev.yaml configures it, run under mocks: what `pulumi up` would ask
// the Docker and Consul providers to create, and how it is wired.
import { fileURLToPath } from 'node:url'
import * as pulumi from '@pulumi/pulumi'
import { parse } from 'yaml'
import { beforeAll, describe, expect, it } from 'vitest'
import { readConfig as readGatewayConfig } from '../../services/gateway/src/config.ts'
import { readConfig as readOrderConfig } from '../../services/order-service/src/config.ts'
import { readConfig as readUserConfig } from '../../services/user-service/src/config.ts'
import { DEFAULT_IMAGES } from '../config.ts'
import { buildInputsHash } from '../images.ts'
import { alertRules, DASHBOARD_UIDS, prometheusConfig, toYaml } from '../observability/index.ts'
import { RUNTIME_VARIABLES } from '../model.ts'
import {
  byType,
  envOf,
  isSecretValue,
  named,
  plain,
  runProgram,
  stackConfigFile,
  valueOf,
  type CapturedResource,
  type ProgramRun,
} from './support/program.ts'

const CONTAINER = 'docker:index/container:Container'
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

let run: ProgramRun
let containers: CapturedResource[]
/** Content tags computed just before the run (computed after, an edit in between would differ). */
let expectedTags: Record<string, string>
const SERVICE_PORTS = [
  ['user-service', 3001],
  ['order-service', 3002],
  ['gateway', 3000],
] as const
const buildArgs = (service: string, port: number) => ({ SERVICE: service, PORT: String(port), NODE_IMAGE: DEFAULT_IMAGES.node })

beforeAll(async () => {
  expectedTags = Object.fromEntries(
    SERVICE_PORTS.map(([service, port]) => [service, buildInputsHash(REPO_ROOT, service, buildArgs(service, port))]),
  )
  run = await runProgram('dev', stackConfigFile(new URL('../../Pulumi.dev.yaml', import.meta.url)))
  containers = byType(run.resources, CONTAINER)
})

const container = (name: string) => named(run.resources, CONTAINER, name)
const appContainers = (service: string) => containers.filter((resource) => resource.name.startsWith(`apps-${service}-`))
const aliasesOf = (resource: CapturedResource) => (resource.inputs.networksAdvanced as { aliases: string[] }[])[0]!.aliases
/** Uploaded files by path; with any secret file the whole list travels as a secret. */
const uploadsOf = (resource: CapturedResource) =>
  Object.fromEntries(plain<{ file: string; content: unknown }[]>(resource.inputs.uploads).map((upload) => [upload.file, upload.content]))
const outputOf = <T>(name: string) => valueOf(run.program[name] as pulumi.Output<T>)

describe('dev stack: components', () => {
  it('has one component per concern and one per app service, under the project type tokens', () => {
    const components = run.resources
      .filter((resource) => resource.type.startsWith('microservice-platform:'))
      .map((resource) => resource.type)
    expect(components.sort()).toEqual(
      [
        'microservice-platform:apps:DockerService',
        'microservice-platform:apps:DockerService',
        'microservice-platform:apps:DockerService',
        'microservice-platform:database:Postgres',
        'microservice-platform:discovery:Consul',
        'microservice-platform:edge:Traefik',
        'microservice-platform:images:ServiceImages',
        'microservice-platform:logging:ElasticStack',
        'microservice-platform:monitoring:Monitoring',
        'microservice-platform:tracing:Jaeger',
      ].sort(),
    )
  })

  it('runs every third-party container on the pinned default image, never latest or untagged', () => {
    const expected = {
      consul: DEFAULT_IMAGES.consul,
      edge: DEFAULT_IMAGES.traefik,
      'logging-elasticsearch': DEFAULT_IMAGES.elasticsearch,
      'logging-setup': DEFAULT_IMAGES.elasticsearch,
      'logging-logstash': DEFAULT_IMAGES.logstash,
      'logging-kibana': DEFAULT_IMAGES.kibana,
      'monitoring-prometheus': DEFAULT_IMAGES.prometheus,
      'monitoring-grafana': DEFAULT_IMAGES.grafana,
      tracing: DEFAULT_IMAGES.jaeger,
      database: DEFAULT_IMAGES.postgres,
    }
    for (const [name, image] of Object.entries(expected)) expect(container(name).inputs.image, name).toBe(image)
    for (const resource of containers) {
      const image = String(resource.inputs.image)
      expect(image, resource.name).toMatch(/:[A-Za-z0-9_][A-Za-z0-9_.-]*$/)
      expect(image, resource.name).not.toMatch(/:latest$/)
    }
  })

  it('runs the replicas Pulumi.dev.yaml asks for, on the service images built here', () => {
    for (const service of ['user-service', 'order-service', 'gateway']) {
      const replicas = appContainers(service)
      const names = replicas.map((resource) => String(resource.inputs.name))
      expect(names).toHaveLength(2)
      names.forEach((name, index) => expect(name).toMatch(new RegExp(`^platform-dev-${service}-${index + 1}-[0-9a-f]{8}$`)))
      for (const replica of replicas) expect(replica.inputs.image).toMatch(new RegExp(`^platform/${service}:[0-9a-f]{16}$`))
    }
  })

  it('keeps every container up unless stopped, except the one-shot Elastic setup job', () => {
    for (const resource of containers) {
      if (resource.name === 'logging-setup') {
        expect(resource.inputs).toMatchObject({ restart: 'no', mustRun: false, attach: true })
      } else {
        expect(resource.inputs.restart, resource.name).toBe('unless-stopped')
      }
    }
  })

  it('gives every long-running container a healthcheck and waits for it', () => {
    for (const resource of containers) {
      if (resource.name === 'logging-setup') continue
      expect((resource.inputs.healthcheck as { tests: string[] } | undefined)?.tests.length, resource.name).toBeGreaterThan(0)
      expect(resource.inputs.wait, resource.name).toBe(true)
    }
  })

  it("checks Jaeger with the image's busybox wget on the healthcheckv2 extension's /status (13133)", () => {
    expect((container('tracing').inputs.healthcheck as { tests: string[] }).tests).toEqual([
      'CMD-SHELL',
      'wget -q -O /dev/null http://127.0.0.1:13133/status || exit 1',
    ])
  })

  it('keeps data in named volumes: Consul, Elasticsearch, PostgreSQL, Prometheus, Grafana', () => {
    const mounts = Object.fromEntries(
      containers
        .filter((resource) => (resource.inputs.volumes as unknown[]).length > 0)
        .map((resource) => [
          resource.name,
          (resource.inputs.volumes as { containerPath: string; volumeName: string }[]).map(
            (volume) => `${volume.volumeName}:${volume.containerPath}`,
          ),
        ]),
    )
    expect(mounts).toEqual({
      consul: ['platform-dev-consul-data:/consul/data'],
      'logging-elasticsearch': ['platform-dev-elasticsearch-data:/usr/share/elasticsearch/data'],
      database: ['platform-dev-postgres-data:/var/lib/postgresql/data'],
      'monitoring-prometheus': ['platform-dev-prometheus-data:/prometheus'],
      'monitoring-grafana': ['platform-dev-grafana-data:/var/lib/grafana'],
    })
    expect(byType(run.resources, 'docker:index/volume:Volume')).toHaveLength(5)
  })
})

describe('dev stack: one component per app service', () => {
  const APP = 'microservice-platform:apps:DockerService'
  /** The app services' resources, their components aside. */
  const appResources = () =>
    run.resources.filter((resource) => resource.name.startsWith('apps-') && !resource.type.startsWith('microservice-platform:'))

  it('makes a DockerService per service, named after it, and nothing else of the app services outside them', () => {
    expect(byType(run.resources, APP).map((resource) => resource.name)).toEqual(SERVICE_PORTS.map(([service]) => `apps-${service}`))
    expect(appResources().length).toBe(SERVICE_PORTS.length * 2 * 2)
  })

  it("parents each replica's container and RandomId to its service's component", () => {
    for (const [service] of SERVICE_PORTS) {
      const component = named(run.resources, APP, `apps-${service}`)
      const children = run.resources.filter((resource) => resource.parent === component.urn)
      expect(children.map((resource) => `${resource.type} ${resource.name}`).sort(), service).toEqual(
        [1, 2].flatMap((n) => [`${CONTAINER} apps-${service}-${n}`, `random:index/randomId:RandomId apps-${service}-${n}`]).sort(),
      )
    }
  })

  it('aliases every replica to its URN under the one component that made them all before, so an existing stack keeps them', () => {
    for (const resource of appResources()) {
      expect(resource.aliases, resource.name).toEqual([
        `urn:pulumi:dev::microservice-platform::microservice-platform:apps:DockerServices$${resource.type}::${resource.name}`,
      ])
      expect(resource.urn, resource.name).not.toBe(resource.aliases![0])
    }
  })
})

describe('dev stack: published ports', () => {
  it('binds every published port to 127.0.0.1 and publishes only the UIs, the APIs and the gelf input', () => {
    const published: string[] = []
    for (const resource of containers) {
      for (const port of resource.inputs.ports as { ip: string; external: number; internal: number; protocol: string }[]) {
        expect(port.ip, `${resource.name}:${port.internal}`).toBe('127.0.0.1')
        published.push(`${resource.name} ${port.external}->${port.internal}/${port.protocol}`)
      }
    }
    expect(published.sort()).toEqual(
      [
        'consul 8500->8500/tcp',
        'database 5432->5432/tcp',
        'edge 8000->8000/tcp',
        'edge 8080->8080/tcp',
        'logging-elasticsearch 9200->9200/tcp',
        'logging-kibana 5601->5601/tcp',
        'logging-logstash 12201->12201/udp',
        'monitoring-grafana 3030->3000/tcp',
        'monitoring-prometheus 9090->9090/tcp',
        'tracing 16686->16686/tcp',
      ].sort(),
    )
  })
})

describe('dev stack: app service wiring', () => {
  it('points order-service at the consul container by its network alias, with its own token from the Consul AclToken', () => {
    const consul = container('consul')
    const token = named(run.resources, 'consul:index/aclToken:AclToken', 'consul-order-service')
    const lookup = run.calls.find(
      (call) =>
        call.token === 'consul:index/getAclTokenSecretId:getAclTokenSecretId' && call.inputs.accessorId === 'consul-order-service-accessor',
    )
    expect(lookup, 'secret id looked up for the order-service token').toBeDefined()
    expect(token.inputs.policies).toEqual(['order-service'])
    for (const replica of appContainers('order-service')) {
      const env = envOf(replica)
      const host = new URL(env.CONSUL_HTTP_ADDR!).hostname
      expect(aliasesOf(consul)).toContain(host)
      expect(env.CONSUL_HTTP_ADDR).toBe('http://consul:8500')
      expect(env.CONSUL_HTTP_TOKEN).toBe('secret-of-consul-order-service-accessor')
    }
  })

  it('gives each service its own token: no two services share one, none gets the bootstrap token', () => {
    const tokens = ['user-service', 'order-service', 'gateway'].map((service) => envOf(appContainers(service)[0]!).CONSUL_HTTP_TOKEN)
    expect(new Set(tokens).size).toBe(3)
    expect(tokens).not.toContain('consul-bootstrap-token-uuid')
  })

  it('advertises each replica under its container name, which is also its network alias', () => {
    for (const replica of containers.filter((resource) => resource.name.startsWith('apps-'))) {
      const env = envOf(replica)
      expect(env.SERVICE_ADDRESS).toBe(replica.inputs.name)
      expect(aliasesOf(replica)).toEqual([replica.inputs.name])
    }
  })

  it('hands each data service only its own database, on the postgres container, as a secret', () => {
    const postgres = container('database')
    for (const [service, database, role] of [
      ['user-service', 'users', 'user_service'],
      ['order-service', 'orders', 'order_service'],
    ] as const) {
      for (const replica of appContainers(service)) {
        const url = new URL(envOf(replica).DATABASE_URL!)
        expect(aliasesOf(postgres)).toContain(url.hostname)
        expect(url.pathname).toBe(`/${database}`)
        expect(url.username).toBe(role)
        expect(url.password).toBe(`database-${role.replace('_', '-')}-password`)
      }
    }
    expect(envOf(appContainers('gateway')[0]!).DATABASE_URL).toBeUndefined()
  })

  it('sends traces to the jaeger container on OTLP/HTTP 4318', () => {
    const jaeger = container('tracing')
    for (const replica of containers.filter((resource) => resource.name.startsWith('apps-'))) {
      expect(envOf(replica).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318')
    }
    expect(aliasesOf(jaeger)).toContain('jaeger')
  })

  it('trusts X-Forwarded-* on the gateway only, which sits behind Traefik', () => {
    expect(envOf(appContainers('gateway')[0]!).TRUST_PROXY).toBe('true')
    expect(envOf(appContainers('user-service')[0]!).TRUST_PROXY).toBeUndefined()
  })

  it('sets only variables the services read, with values their own config schemas accept', () => {
    const readers = { 'user-service': readUserConfig, 'order-service': readOrderConfig, gateway: readGatewayConfig } as const
    for (const [service, read] of Object.entries(readers)) {
      const env = envOf(appContainers(service)[0]!)
      const config = read(env) as Record<string, unknown>
      for (const key of Object.keys(env)) {
        if (!RUNTIME_VARIABLES.includes(key)) expect(Object.keys(config), `${service} reads ${key}`).toContain(key)
      }
      expect(config.SERVICE_ADDRESS).toMatch(new RegExp(`^platform-dev-${service}-1-[0-9a-f]{8}$`))
    }
    expect(readGatewayConfig(envOf(appContainers('gateway')[0]!)).TRUST_PROXY).toBe(true)
  })

  it('ships app logs to Logstash with the gelf driver at the address the daemon reaches (127.0.0.1)', () => {
    const logstashPort = (container('logging-logstash').inputs.ports as { external: number; protocol: string }[])[0]!
    for (const replica of containers.filter((resource) => resource.name.startsWith('apps-'))) {
      expect(replica.inputs.logDriver).toBe('gelf')
      expect(replica.inputs.logOpts).toEqual({ 'gelf-address': `udp://127.0.0.1:${logstashPort.external}`, tag: replica.inputs.name })
    }
    expect(logstashPort.protocol).toBe('udp')
  })

  it('uses the readiness probe as the healthcheck and waits for it, with the shutdown grace above the drain', () => {
    const replica = appContainers('order-service')[0]!
    expect((replica.inputs.healthcheck as { tests: string[] }).tests.join(' ')).toContain('http://127.0.0.1:3002/health/ready')
    expect(replica.inputs.wait).toBe(true)
    expect(replica.inputs.stopTimeout).toBe(30)
    expect(replica.inputs).toMatchObject({ memory: 256, memoryReservation: 128, cpus: '0.5' })
  })

  it('starts order-service after user-service and the gateway after both (dependsOn through the model)', () => {
    const order = run.resources.findIndex((resource) => resource.name === 'apps-order-service-1')
    const users = run.resources.findIndex((resource) => resource.name === 'apps-user-service-2')
    const gateway = run.resources.findIndex((resource) => resource.name === 'apps-gateway-1')
    expect(users).toBeLessThan(order)
    expect(order).toBeLessThan(gateway)
  })
})

describe('dev stack: Consul ACLs', () => {
  it('boots Consul with ACLs on, default deny, and the generated token as initial management', () => {
    const consul = container('consul')
    const config = JSON.parse(plain<string>(uploadsOf(consul)['/consul/config/platform.json'])) as { acl: Record<string, unknown> }
    expect(config.acl).toMatchObject({
      enabled: true,
      default_policy: 'deny',
      tokens: { initial_management: 'consul-bootstrap-token-uuid' },
    })
    expect(isSecretValue(consul.inputs.uploads)).toBe(true)
    expect(consul.inputs.wait).toBe(true)
  })

  it('points the Consul provider at the published port with the bootstrap token, as a secret', () => {
    const provider = named(run.resources, 'pulumi:providers:consul', 'consul-provider')
    expect(provider.inputs.address).toBe('127.0.0.1:8500')
    expect(provider.inputs.scheme).toBe('http')
    // Providers receive their config as JSON strings, secrets included.
    expect(JSON.stringify(provider.inputs.token)).toContain('consul-bootstrap-token-uuid')
  })

  it('lets each service write its own registration and read the catalog, nothing more', () => {
    for (const service of ['user-service', 'order-service', 'gateway']) {
      const rules = String(named(run.resources, 'consul:index/aclPolicy:AclPolicy', `consul-${service}`).inputs.rules)
      expect(rules).toContain(`service "${service}" {\n  policy = "write"\n}`)
      expect(rules).toContain('service_prefix "" {\n  policy = "read"\n}')
      expect(rules).toContain('node_prefix "" {\n  policy = "read"\n}')
      expect(rules.match(/"write"/g)).toHaveLength(1)
    }
  })

  it('gives Traefik catalog read and Prometheus catalog plus agent read', () => {
    const traefik = String(named(run.resources, 'consul:index/aclPolicy:AclPolicy', 'consul-traefik').inputs.rules)
    const prometheus = String(named(run.resources, 'consul:index/aclPolicy:AclPolicy', 'consul-prometheus').inputs.rules)
    expect(traefik).not.toContain('write')
    expect(traefik).not.toContain('agent_prefix')
    expect(prometheus).toContain('agent_prefix "" {\n  policy = "read"\n}')
    expect(prometheus).not.toContain('write')
  })

  it('declares http as the protocol of each app service (service-defaults)', () => {
    const entries = byType(run.resources, 'consul:index/configEntry:ConfigEntry')
    expect(entries.map((entry) => [entry.inputs.kind, entry.inputs.name, JSON.parse(String(entry.inputs.configJson))])).toEqual([
      ['service-defaults', 'user-service', { Protocol: 'http' }],
      ['service-defaults', 'order-service', { Protocol: 'http' }],
      ['service-defaults', 'gateway', { Protocol: 'http' }],
    ])
  })
})

describe('dev stack: secrets stay secret', () => {
  it('sends every app container environment (tokens, database URLs) as a secret', () => {
    for (const replica of containers.filter((resource) => resource.name.startsWith('apps-'))) {
      expect(isSecretValue(replica.inputs.envs), replica.name).toBe(true)
    }
  })

  it('sends the containers holding passwords or tokens their environment and files as secrets', () => {
    for (const name of [
      'consul',
      'logging-elasticsearch',
      'logging-setup',
      'logging-logstash',
      'logging-kibana',
      'monitoring-grafana',
      'database',
    ]) {
      expect(isSecretValue(container(name).inputs.envs), name).toBe(true)
    }
    // Traefik's static config and Prometheus's token file carry Consul tokens.
    expect(isSecretValue(container('edge').inputs.uploads)).toBe(true)
    expect(isSecretValue(container('monitoring-prometheus').inputs.uploads)).toBe(true)
  })

  it('exports the generated credentials only as a secret output', async () => {
    const credentials = run.program.credentials as pulumi.Output<Record<string, Record<string, string>>>
    expect(await pulumi.isSecret(credentials)).toBe(true)
    const value = await valueOf(credentials)
    expect(value.grafana).toEqual({ user: 'admin', password: 'monitoring-grafana-admin-password' })
    expect(value.kibana).toEqual({ user: 'elastic', password: 'logging-elastic-password' })
    expect(value.consul).toEqual({ bootstrapToken: 'consul-bootstrap-token-uuid' })
    expect(value.postgres?.user).toBe('postgres')
  })

  it('exports no URL that carries a credential', async () => {
    for (const name of ['gatewayUrl', 'traefikDashboardUrl', 'consulUiUrl', 'grafanaUrl', 'kibanaUrl', 'jaegerUrl', 'prometheusUrl']) {
      const url = new URL(await outputOf<string>(name))
      expect(url.hostname, name).toBe('127.0.0.1')
      expect(url.username + url.password, name).toBe('')
      expect(await pulumi.isSecret(run.program[name] as pulumi.Output<string>), name).toBe(false)
    }
  })
})

describe('dev stack: edge', () => {
  it('configures Traefik from one static file: consul catalog, nothing exposed by default, dashboard without api.insecure', () => {
    const config = parse(plain<string>(uploadsOf(container('edge'))['/etc/traefik/traefik.yml'])) as Record<string, Record<string, unknown>>
    expect(config.providers!.consulCatalog).toMatchObject({
      exposedByDefault: false,
      endpoint: { address: 'consul:8500', scheme: 'http', token: 'secret-of-consul-traefik-accessor' },
    })
    expect(config.entryPoints).toEqual({ web: { address: ':8000' }, traefik: { address: ':8080' }, metrics: { address: ':8082' } })
    expect(config.api).toEqual({ dashboard: true })
    expect(config.metrics).toMatchObject({ prometheus: { entryPoint: 'metrics' } })
    expect(config.serversTransport).toEqual({ forwardingTimeouts: { idleConnTimeout: '60s' } })
    const dynamic = parse(plain<string>(uploadsOf(container('edge'))['/etc/traefik/dynamic/dashboard.yml'])) as {
      http: { routers: Record<string, unknown> }
    }
    expect(dynamic.http.routers.dashboard).toMatchObject({ entryPoints: ['traefik'], service: 'api@internal' })
  })
})

describe('dev stack: observability wired from infra/observability', () => {
  it('uploads the generated Prometheus config (Consul discovery with the token file, Traefik, Consul) and the alert rules', () => {
    const uploads = uploadsOf(container('monitoring-prometheus'))
    expect(uploads['/etc/prometheus/prometheus.yml']).toBe(
      toYaml(
        prometheusConfig({
          scrapeInterval: '15s',
          consul: {
            server: 'consul:8500',
            tokenFile: '/etc/prometheus/consul-token',
            services: ['user-service', 'order-service', 'gateway'],
          },
          traefik: 'traefik:8082',
          externalLabels: { stack: 'dev' },
        }),
      ),
    )
    expect(uploads['/etc/prometheus/alerts.rules.yml']).toBe(toYaml(alertRules()))
    expect(plain(uploads['/etc/prometheus/consul-token'])).toBe('secret-of-consul-prometheus-accessor')
  })

  it('provisions Grafana with the three data sources and every dashboard, anonymous access off', () => {
    const grafana = container('monitoring-grafana')
    const uploads = uploadsOf(grafana)
    const datasources = parse(String(uploads['/etc/grafana/provisioning/datasources/platform.yaml'])) as {
      datasources: { type: string; url: string }[]
    }
    expect(datasources.datasources.map((source) => [source.type, source.url])).toEqual([
      ['prometheus', 'http://prometheus:9090'],
      ['elasticsearch', 'http://elasticsearch:9200'],
      ['jaeger', 'http://jaeger:16686'],
    ])
    for (const uid of Object.values(DASHBOARD_UIDS)) expect(Object.keys(uploads)).toContain(`/etc/grafana/dashboards/${uid}.json`)
    const provider = parse(String(uploads['/etc/grafana/provisioning/dashboards/platform.yaml'])) as {
      providers: { options: { path: string } }[]
    }
    expect(provider.providers[0]!.options.path).toBe('/etc/grafana/dashboards')
    const env = envOf(grafana)
    expect(env).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: 'false',
      GF_USERS_ALLOW_SIGN_UP: 'false',
      GF_SECURITY_ADMIN_PASSWORD: 'monitoring-grafana-admin-password',
    })
    expect(env.LOGS_READER_PASSWORD).toBe('logging-logs-reader-password')
  })

  it('runs the generated Logstash pipeline, writing as the Logstash user with the password from its environment', () => {
    const logstash = container('logging-logstash')
    const pipeline = String(uploadsOf(logstash)['/usr/share/logstash/pipeline/logstash.conf'])
    expect(pipeline).toContain('gelf {')
    expect(pipeline).toContain('hosts => ["http://elasticsearch:9200"]')
    expect(pipeline).toContain('user => "logstash_internal"')
    expect(pipeline).toContain('password => "${LOGSTASH_PASSWORD}"')
    expect(envOf(logstash).LOGSTASH_PASSWORD).toBe('logging-logstash-password')
  })

  it('turns Elasticsearch security on and sets kibana_system up before Kibana starts', () => {
    const yml = String(uploadsOf(container('logging-elasticsearch'))['/usr/share/elasticsearch/config/elasticsearch.yml'])
    expect(yml).toContain('xpack.security.enabled: true')
    const setup = container('logging-setup')
    expect(String(uploadsOf(setup)['/setup/elastic-setup.sh'])).toContain('/_security/user/kibana_system/_password')
    expect(envOf(setup).KIBANA_SYSTEM_PASSWORD).toBe(envOf(container('logging-kibana')).ELASTICSEARCH_PASSWORD)
    expect(envOf(container('logging-kibana')).ELASTICSEARCH_USERNAME).toBe('kibana_system')
  })

  it('creates the users and orders databases with a role each, passwords from the environment', () => {
    const postgres = container('database')
    const script = String(uploadsOf(postgres)['/docker-entrypoint-initdb.d/10-platform-databases.sh'])
    expect(script).toContain('CREATE DATABASE users OWNER user_service;')
    expect(script).toContain('CREATE DATABASE orders OWNER order_service;')
    expect(script).toContain('-v user_service_password="$PLATFORM_USER_SERVICE_PASSWORD"')
    expect(script).not.toContain('database-user-service-password')
    expect(envOf(postgres).PLATFORM_USER_SERVICE_PASSWORD).toBe('database-user-service-password')
  })
})

describe('dev stack: images', () => {
  it('builds the three service images from services/Dockerfile at the repository root, tagged by content, kept local', () => {
    for (const [service, port] of SERVICE_PORTS) {
      const image = named(run.resources, 'docker:index/image:Image', `images-${service}`)
      const args = buildArgs(service, port)
      expect(image.inputs).toMatchObject({
        imageName: `platform/${service}:${expectedTags[service]}`,
        skipPush: true,
        build: { context: REPO_ROOT.replace(/\/$/, ''), dockerfile: `${REPO_ROOT}services/Dockerfile`, args },
      })
      expect(image.inputs.registry).toBeUndefined()
    }
  })
})

describe('dev stack: outputs', () => {
  it('exports the URL of every UI on 127.0.0.1, the gateway through Traefik', async () => {
    expect(await outputOf('gatewayUrl')).toBe('http://127.0.0.1:8000')
    expect(await outputOf('traefikDashboardUrl')).toBe('http://127.0.0.1:8080/dashboard/')
    expect(await outputOf('consulUiUrl')).toBe('http://127.0.0.1:8500/ui/')
    expect(await outputOf('grafanaUrl')).toBe('http://127.0.0.1:3030')
    expect(await outputOf('kibanaUrl')).toBe('http://127.0.0.1:5601')
    expect(await outputOf('jaegerUrl')).toBe('http://127.0.0.1:16686')
    expect(await outputOf('prometheusUrl')).toBe('http://127.0.0.1:9090')
    const dashboards = await outputOf<Record<string, string>>('grafanaDashboardUrls')
    expect(Object.values(dashboards).sort()).toEqual(
      Object.values(DASHBOARD_UIDS)
        .map((uid) => `http://127.0.0.1:3030/d/${uid}`)
        .sort(),
    )
  })
})
