// The prod stack as Pulumi.prod.yaml configures it (with the registry password a CI would hold
// encrypted), run under mocks: the images pushed to the registry, and what `pulumi up` would ask
// the Kubernetes provider and Helm for, with its dependency order.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as pulumi from '@pulumi/pulumi'
import { parse } from 'yaml'
import { beforeAll, describe, expect, it } from 'vitest'
import { readConfig as readGatewayConfig } from '../../services/gateway/src/config.ts'
import { readConfig as readOrderConfig } from '../../services/order-service/src/config.ts'
import { readConfig as readUserConfig } from '../../services/user-service/src/config.ts'
import { DEFAULT_CHARTS, DEFAULT_IMAGES } from '../config.ts'
import { buildInputsHash } from '../images.ts'
import { CHARTS } from '../kubernetes/charts.ts'
import { appServices } from '../model.ts'
import { alertRules, dashboards, grafanaProvisioningFiles, logstashPipeline } from '../observability/index.ts'
import { byType, isSecretValue, named, plain, valueOf, type CapturedResource, type ProgramRun } from './support/program.ts'
import {
  kubernetesObjects,
  objectNamed,
  objectsOfKind,
  PROD_STACK_FILE,
  PROVIDER,
  RELEASE,
  REGISTRY_PASSWORD,
  releaseNamed,
  releases,
  resourceOf,
  runProd,
  type Manifest,
} from './support/kubernetes.ts'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const APPS = 'platform'
const OBSERVABILITY = 'platform-observability'
const SYSTEM = 'platform-system'
const SERVICE_PORTS = { 'user-service': 3001, 'order-service': 3002, gateway: 3000 } as const
type ServiceName = keyof typeof SERVICE_PORTS
const SERVICES = Object.keys(SERVICE_PORTS) as ServiceName[]

const stackFile = parse(readFileSync(PROD_STACK_FILE, 'utf8')) as { config: Record<string, unknown> }
const fileKubernetes = stackFile.config['microservice-platform:kubernetes'] as {
  charts?: Record<string, string>
  context: string
  domain: string
}
const fileServices = stackFile.config['microservice-platform:services'] as Record<ServiceName, { replicas: number }>
const model = appServices({
  replicas: {
    'user-service': fileServices['user-service'].replicas,
    'order-service': fileServices['order-service'].replicas,
    gateway: fileServices.gateway.replicas,
  },
  logLevel: 'info',
})
const modelOf = (service: ServiceName) => model.find((candidate) => candidate.name === service)!

let run: ProgramRun
let expectedTags: Record<string, string>

beforeAll(async () => {
  expectedTags = Object.fromEntries(
    SERVICES.map((service) => [
      service,
      buildInputsHash(REPO_ROOT, service, { SERVICE: service, PORT: String(SERVICE_PORTS[service]), NODE_IMAGE: DEFAULT_IMAGES.node }),
    ]),
  )
  run = await runProd()
})

const outputOf = <T>(name: string) => valueOf(run.program[name] as pulumi.Output<T>)
type Container = {
  name: string
  image: string
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }[]
  ports: { name: string; containerPort: number }[]
  resources: unknown
  startupProbe: Probe
  readinessProbe: Probe
  livenessProbe: Probe
  lifecycle: { preStop: { sleep: { seconds: number } } }
  securityContext: Record<string, unknown>
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[]
}
type Probe = { httpGet: { path: string; port: string }; periodSeconds: number; timeoutSeconds: number; failureThreshold: number }
type PodSpec = {
  serviceAccountName: string
  automountServiceAccountToken: boolean
  imagePullSecrets: { name: string }[]
  securityContext: Record<string, unknown>
  terminationGracePeriodSeconds: number
  topologySpreadConstraints: {
    maxSkew: number
    topologyKey: string
    whenUnsatisfiable: string
    labelSelector: { matchLabels: Record<string, string> }
  }[]
  containers: Container[]
  volumes: { name: string; emptyDir?: unknown; secret?: { secretName: string } }[]
}
const deployment = (service: ServiceName) =>
  objectNamed(run, 'Deployment', service, APPS) as Manifest & {
    spec: {
      replicas: number
      selector: { matchLabels: Record<string, string> }
      template: { metadata: { labels: Record<string, string> }; spec: PodSpec }
    }
  }
const podSpec = (service: ServiceName) => deployment(service).spec.template.spec
const container = (service: ServiceName) => podSpec(service).containers[0]!
const envEntry = (service: ServiceName, name: string) => container(service).env.find((entry) => entry.name === name)
const specOf = <T>(manifest: Manifest) => manifest.spec as T
/** Values of a Secret's stringData. */
const secretData = (name: string, namespace: string) =>
  (objectNamed(run, 'Secret', name, namespace) as Manifest & { stringData: Record<string, string> }).stringData
const valuesOf = <T>(chart: string) => plain<T>(releaseNamed(run, chart).inputs.values)
const urnOf = (resource: CapturedResource) => resource.urn!
const dependenciesOf = (manifest: Manifest) => resourceOf(run, manifest).dependencies ?? []

describe('prod stack: images', () => {
  it('pushes each service image to the configured registry, tagged by content, with the password as a secret', () => {
    for (const service of SERVICES) {
      const image = named(run.resources, 'docker:index/image:Image', `images-${service}`)
      expect(image.inputs.imageName).toBe(`ghcr.io/example/microservice-platform/${service}:${expectedTags[service]}`)
      expect(image.inputs.skipPush).toBe(false)
      // The password makes the whole registry block travel as a secret.
      expect(isSecretValue(image.inputs.registry)).toBe(true)
      expect(plain(image.inputs.registry)).toEqual({ server: 'ghcr.io', username: 'platform-ci', password: REGISTRY_PASSWORD })
    }
  })

  it('exports the pushed image names', async () => {
    const names = run.program.imageNames as Record<string, pulumi.Output<string>>
    expect(Object.keys(names)).toEqual(SERVICES)
    expect(await valueOf(names.gateway!)).toBe(`ghcr.io/example/microservice-platform/gateway:${expectedTags.gateway}`)
  })

  it('runs no Docker container: the target is kubernetes', () => {
    expect(byType(run.resources, 'docker:index/container:Container')).toEqual([])
    expect(run.program.target).toBe('kubernetes')
  })
})

describe('prod stack: cluster, namespaces, components', () => {
  it('declares one explicit Kubernetes provider, on the kubeconfig context the stack file names', () => {
    const providers = byType(run.resources, PROVIDER)
    expect(providers).toHaveLength(1)
    expect(providers[0]!.inputs).toMatchObject({ context: fileKubernetes.context })
  })

  it('creates every Kubernetes object and Helm release through that provider, none through a default one', () => {
    const provider = urnOf(byType(run.resources, PROVIDER)[0]!)
    const onCluster = run.resources.filter((resource) => resource.type.startsWith('kubernetes:'))
    expect(onCluster.length).toBeGreaterThan(60)
    for (const resource of onCluster) expect(resource.provider?.startsWith(`${provider}::`), `${resource.type} ${resource.name}`).toBe(true)
  })

  it('creates the app namespace enforcing the restricted Pod Security Standard, and the two others explicitly privileged', () => {
    const labels = (name: string) => objectNamed(run, 'Namespace', name).metadata.labels
    expect(labels(APPS)).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    })
    expect(labels(OBSERVABILITY)).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged' })
    expect(labels(SYSTEM)).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged' })
    expect(objectsOfKind(run, 'Namespace')).toHaveLength(3)
  })

  it('has one component per concern and one per app service, under the project type tokens', () => {
    const components = run.resources
      .filter((resource) => resource.type.startsWith('microservice-platform:'))
      .map((resource) => resource.type)
    expect(components.sort()).toEqual(
      [
        'microservice-platform:apps:KubernetesAppRules',
        'microservice-platform:apps:KubernetesService',
        'microservice-platform:apps:KubernetesService',
        'microservice-platform:apps:KubernetesService',
        'microservice-platform:database:CloudNativePg',
        'microservice-platform:discovery:ConsulHelm',
        'microservice-platform:edge:TraefikHelm',
        'microservice-platform:images:ServiceImages',
        'microservice-platform:kubernetes:Namespaces',
        'microservice-platform:logging:EckElasticStack',
        'microservice-platform:monitoring:KubePrometheusStack',
        'microservice-platform:tracing:JaegerHelm',
      ].sort(),
    )
  })

  it('pulls the service images with the registry credentials, kept in a dockerconfigjson Secret', () => {
    const secret = objectNamed(run, 'Secret', 'registry-credentials', APPS) as Manifest & {
      type: string
      stringData: Record<string, string>
    }
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson')
    const auths = (JSON.parse(secret.stringData['.dockerconfigjson']!) as { auths: Record<string, { username: string; password: string }> })
      .auths
    expect(auths['ghcr.io']).toMatchObject({ username: 'platform-ci', password: REGISTRY_PASSWORD })
    for (const service of SERVICES) expect(podSpec(service).imagePullSecrets).toEqual([{ name: 'registry-credentials' }])
  })
})

describe('prod stack: one component per app service', () => {
  const APP = 'microservice-platform:apps:KubernetesService'
  const RULES = 'microservice-platform:apps:KubernetesAppRules'
  const childrenOf = (component: CapturedResource) => run.resources.filter((resource) => resource.parent === component.urn)
  const kindAndName = (resource: CapturedResource) => `${resource.type.split(':').pop()} ${resource.name}`
  /** What the one component `apps` of type apps:KubernetesServices made before, by former resource name. */
  const formerUrn = (resource: CapturedResource, name = resource.name) =>
    `urn:pulumi:prod::microservice-platform::microservice-platform:apps:KubernetesServices$${resource.type}::${name}`

  it("makes a KubernetesService per service owning its objects and its pods' policy; the published one its IngressRoute", () => {
    expect(byType(run.resources, APP).map((resource) => resource.name)).toEqual(SERVICES.map((service) => `apps-${service}`))
    for (const service of SERVICES) {
      const objects = [
        'ServiceAccount account',
        'Deployment ',
        'Service service',
        'HorizontalPodAutoscaler autoscaler',
        'PodDisruptionBudget disruption-budget',
        'ServiceMonitor monitor',
        'NetworkPolicy policy',
      ]
      if (modelOf(service).ingress !== undefined) objects.push('IngressRoute route')
      const expected = objects.map((object) => {
        const [kind, suffix] = object.split(' ')
        return `${kind} apps-${service}${suffix === '' ? '' : `-${suffix}`}`
      })
      expect(
        childrenOf(named(run.resources, APP, `apps-${service}`))
          .map(kindAndName)
          .sort(),
        service,
      ).toEqual(expected.sort())
    }
    const policyOf = (service: ServiceName) =>
      childrenOf(named(run.resources, APP, `apps-${service}`)).find((resource) => resource.type.endsWith(':NetworkPolicy'))!
    for (const service of SERVICES) expect((policyOf(service).inputs.metadata as { name: string }).name).toBe(service)
  })

  it('keeps what the namespace has once in one component: the alert rules and the policies of no one service', () => {
    const rules = byType(run.resources, RULES)
    expect(rules.map((resource) => resource.name)).toEqual(['apps'])
    expect(childrenOf(rules[0]!).map(kindAndName).sort()).toEqual(
      [
        'PrometheusRule apps-alerts',
        'NetworkPolicy apps-policy-allow-dns',
        'NetworkPolicy apps-policy-database',
        'NetworkPolicy apps-policy-default-deny',
      ].sort(),
    )
  })

  it('aliases every app object, rule and policy to its URN under the one component that made them all before, so an existing stack updates them in place', () => {
    const components = [...byType(run.resources, APP), ...byType(run.resources, RULES)]
    const children = components.flatMap(childrenOf)
    expect(children).toHaveLength(SERVICES.length * 7 + 1 + 4)
    for (const resource of children) {
      const service = SERVICES.find((candidate) => resource.name === `apps-${candidate}-policy`)
      // The policies of the services were `apps-policy-<service>`; everything else keeps its name.
      // (The Kubernetes SDK adds aliases of its own, for kinds that moved between API groups.)
      expect(resource.aliases, resource.name).toContain(
        formerUrn(resource, service === undefined ? resource.name : `apps-policy-${service}`),
      )
    }
  })

  it("makes a service's Deployment wait for the components of the services it calls", () => {
    const component = (service: ServiceName) => named(run.resources, APP, `apps-${service}`)
    for (const service of SERVICES) {
      const upstreams = modelOf(service).dependsOn.filter((dependency): dependency is ServiceName => dependency in SERVICE_PORTS)
      const waits = dependenciesOf(deployment(service))
      for (const upstream of upstreams)
        for (const child of childrenOf(component(upstream))) expect(waits, `${service} after ${child.name}`).toContain(child.urn)
    }
  })
})

describe('prod stack: chart releases', () => {
  it('installs every chart once, from its official repository, at the one pin in infra/config.ts (the stack file overrides none)', () => {
    expect(fileKubernetes.charts).toBeUndefined()
    expect(releases(run)).toHaveLength(Object.keys(CHARTS).length)
    for (const [key, source] of Object.entries(CHARTS)) {
      const release = releaseNamed(run, source.chart)
      expect(release.inputs.version, key).toBe(DEFAULT_CHARTS[key as keyof typeof DEFAULT_CHARTS])
      expect(release.inputs.version, key).toMatch(/^[0-9]+\.[0-9]+\.[0-9]+$/)
      expect(release.inputs.repositoryOpts, key).toEqual({ repo: source.repo })
      expect(release.inputs, key).toMatchObject({ atomic: true, skipAwait: false, createNamespace: false })
    }
    expect(Object.fromEntries(releases(run).map((release) => [release.inputs.chart, release.inputs.namespace]))).toEqual({
      consul: SYSTEM,
      traefik: SYSTEM,
      'cloudnative-pg': SYSTEM,
      'eck-operator': OBSERVABILITY,
      'kube-prometheus-stack': OBSERVABILITY,
      jaeger: OBSERVABILITY,
    })
  })

  it('runs Consul with three servers, managed ACLs on its generated bootstrap token, TLS only, client agents and no catalog sync', () => {
    const values = valuesOf<Record<string, Record<string, unknown>>>('consul')
    expect(values.server).toMatchObject({ replicas: 3, bootstrapExpect: 3 })
    expect(values.global).toMatchObject({
      image: DEFAULT_IMAGES.consul,
      acls: { manageSystemACLs: true, bootstrapToken: { secretName: 'consul-bootstrap-acl-token', secretKey: 'token' } },
      tls: {
        enabled: true,
        httpsOnly: true,
        verify: true,
        caCert: { secretName: 'consul-ca-cert', secretKey: 'tls.crt' },
        caKey: { secretName: 'consul-ca-key', secretKey: 'tls.key' },
      },
      gossipEncryption: { autoGenerate: true },
    })
    expect(values.client).toMatchObject({ enabled: true })
    expect(values.syncCatalog).toEqual({ enabled: false })
    expect(values.connectInject).toEqual({ enabled: false })
    const bootstrap = secretData('consul-bootstrap-acl-token', SYSTEM).token!
    expect(bootstrap).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/)
    expect(secretData('consul-ca-cert', SYSTEM)['tls.crt']).toContain('BEGIN CERTIFICATE')
    expect(secretData('consul-ca-key', SYSTEM)['tls.key']).toContain('PRIVATE KEY')
    const keyData = resourceOf(run, objectNamed(run, 'Secret', 'consul-ca-key', SYSTEM)).inputs.stringData
    expect(isSecretValue(keyData) || isSecretValue((keyData as Record<string, unknown>)['tls.key'])).toBe(true)
  })

  it('creates each app service a Consul policy with dev rules and a token through a Job, the same secret ID as its pods read', () => {
    const job = objectsOfKind(run, 'Job')[0]! as Manifest & {
      spec: { template: { spec: { containers: Container[]; volumes: { name: string; configMap?: { name: string } }[] } } }
    }
    const jobContainer = job.spec.template.spec.containers[0]!
    expect(jobContainer.image).toBe(DEFAULT_IMAGES.consul)
    expect(jobContainer.env).toContainEqual({
      name: 'CONSUL_HTTP_TOKEN',
      valueFrom: { secretKeyRef: { name: 'consul-bootstrap-acl-token', key: 'token' } },
    })
    expect(jobContainer.env).toContainEqual({ name: 'CONSUL_HTTP_ADDR', value: `https://consul-server.${SYSTEM}.svc:8501` })
    const files = (
      objectsOfKind(run, 'ConfigMap').find((map) => map.metadata.labels?.['app.kubernetes.io/name'] === 'consul-acl-setup') as Manifest & {
        data: Record<string, string>
      }
    ).data
    const tokens = secretData('consul-app-tokens', SYSTEM)
    for (const service of SERVICES) {
      expect(files[`${service}.hcl`]).toContain(`service "${service}" {\n  policy = "write"\n}`)
      expect(files['acl-setup.sh']).toMatch(
        new RegExp(`apply ${service} [0-9a-f-]{36} "\\$TOKEN_${service.toUpperCase().replace('-', '_')}"`),
      )
      expect(secretData(`consul-token-${service}`, APPS).token).toBe(tokens[service])
    }
    expect(new Set(Object.values(tokens)).size).toBe(SERVICES.length)
  })

  it('runs Traefik on its CRD provider for the app and system namespaces, with the dashboard only behind basic authentication', () => {
    const values = valuesOf<Record<string, Record<string, unknown>>>('traefik')
    expect(values.providers).toEqual({
      kubernetesCRD: { enabled: true, allowCrossNamespace: false, namespaces: [APPS, SYSTEM] },
      kubernetesIngress: { enabled: false },
    })
    expect(values.ingressRoute).toEqual({ dashboard: { enabled: false } })
    const route = objectNamed(run, 'IngressRoute', 'traefik-dashboard', SYSTEM)
    const spec = specOf<{
      entryPoints: string[]
      routes: { match: string; services: { name: string }[]; middlewares: { name: string }[] }[]
      tls: unknown
    }>(route)
    expect(spec.entryPoints).toEqual(['websecure'])
    expect(spec.routes).toHaveLength(1)
    expect(spec.routes[0]!.services).toEqual([{ name: 'api@internal', kind: 'TraefikService' }])
    expect(spec.routes[0]!.middlewares).toEqual([{ name: 'dashboard-auth' }])
    expect(spec.tls).toEqual({})
    const middleware = specOf<{ basicAuth: { secret: string } }>(objectNamed(run, 'Middleware', 'dashboard-auth', SYSTEM))
    const secret = objectNamed(run, 'Secret', middleware.basicAuth.secret, SYSTEM) as Manifest & {
      type: string
      stringData: Record<string, string>
    }
    expect(secret.type).toBe('kubernetes.io/basic-auth')
    expect(secret.stringData).toEqual({ username: 'admin', password: 'edge-dashboard-password' })
  })

  it('runs kube-prometheus-stack with Grafana admin from a Secret, selecting every ServiceMonitor and rule', () => {
    const values = valuesOf<{ prometheus: { prometheusSpec: Record<string, unknown> }; grafana: Record<string, Record<string, unknown>> }>(
      'kube-prometheus-stack',
    )
    expect(values.prometheus.prometheusSpec).toMatchObject({
      serviceMonitorSelectorNilUsesHelmValues: false,
      ruleSelectorNilUsesHelmValues: false,
      externalLabels: { stack: 'prod' },
    })
    // The same Grafana as dev, not the subchart's appVersion.
    expect(values.grafana.image).toEqual({ tag: DEFAULT_IMAGES.grafana.split(':')[1] })
    expect(values.grafana.admin).toEqual({ existingSecret: 'grafana-admin', userKey: 'admin-user', passwordKey: 'admin-password' })
    expect(secretData('grafana-admin', OBSERVABILITY)).toEqual({
      'admin-user': 'admin',
      'admin-password': 'monitoring-grafana-admin-password',
    })
    expect(values.grafana.sidecar).toMatchObject({
      dashboards: { enabled: true, label: 'grafana_dashboard', labelValue: '1', searchNamespace: OBSERVABILITY },
      datasources: { enabled: true, label: 'grafana_datasource', labelValue: '1', defaultDatasourceEnabled: false },
    })
    expect(values.grafana['grafana.ini']).toMatchObject({ 'auth.anonymous': { enabled: false }, users: { allow_sign_up: false } })
  })

  it("loads dev's dashboards and data sources into Grafana through labelled ConfigMaps and a labelled Secret", () => {
    const files = grafanaProvisioningFiles({
      prometheusUrl: `http://kps-prometheus.${OBSERVABILITY}.svc:9090`,
      elasticsearch: {
        url: `https://elasticsearch-es-http.${OBSERVABILITY}.svc:9200`,
        user: 'logs_reader',
        passwordEnvVar: 'LOGS_READER_PASSWORD',
        caCertFile: '/etc/grafana/es-ca/ca.crt',
      },
      jaegerUrl: `http://jaeger.${OBSERVABILITY}.svc:16686`,
    })
    for (const dashboard of dashboards()) {
      const map = objectNamed(run, 'ConfigMap', `grafana-dashboard-${dashboard.uid}`, OBSERVABILITY) as Manifest & {
        data: Record<string, string>
      }
      expect(map.metadata.labels).toEqual({ grafana_dashboard: '1' })
      expect(map.data[`${dashboard.uid}.json`]).toBe(files.find((file) => file.path === `dashboards/${dashboard.uid}.json`)!.content)
    }
    const datasources = objectNamed(run, 'Secret', 'grafana-datasources-platform', OBSERVABILITY) as Manifest & {
      stringData: Record<string, string>
    }
    expect(datasources.metadata.labels).toEqual({ grafana_datasource: '1' })
    expect(datasources.stringData['platform.yaml']).toBe(
      files.find((file) => file.path === 'provisioning/datasources/platform.yaml')!.content,
    )
    expect(datasources.stringData['platform.yaml']).toContain('${LOGS_READER_PASSWORD}')
  })

  it("runs Elasticsearch, Kibana, Logstash and Filebeat on ECK at dev's Elastic version, with dev's pipeline fed by Filebeat", () => {
    const version = DEFAULT_IMAGES.elasticsearch.split(':')[1]
    for (const kind of ['Elasticsearch', 'Kibana', 'Logstash', 'Beat']) {
      const [object] = objectsOfKind(run, kind)
      expect(specOf<{ version: string }>(object!).version, kind).toBe(version)
      expect(object!.metadata.namespace).toBe(OBSERVABILITY)
    }
    expect(valuesOf<Record<string, unknown>>('eck-operator')).toMatchObject({ installCRDs: true, managedNamespaces: [OBSERVABILITY] })
    const logstash = specOf<{ pipelines: { 'pipeline.id': string; 'config.string': string }[]; services: { name: string }[] }>(
      objectsOfKind(run, 'Logstash')[0]!,
    )
    expect(logstash.pipelines).toEqual([
      {
        'pipeline.id': 'main',
        'config.string': logstashPipeline({
          hosts: [`https://elasticsearch-es-http.${OBSERVABILITY}.svc:9200`],
          user: 'logstash_internal',
          passwordEnvVar: 'LOGSTASH_PASSWORD',
          ssl: { certificateAuthority: '/usr/share/logstash/config/es-ca/ca.crt' },
          beatsPort: 5044,
        }),
      },
    ])
    expect(logstash.pipelines[0]!['config.string']).toContain('beats {\n    port => 5044')
    const beat = specOf<{ type: string; config: Record<string, unknown> }>(objectsOfKind(run, 'Beat')[0]!)
    expect(beat.type).toBe('filebeat')
    expect(beat.config['output.logstash']).toEqual({ hosts: [`logstash-ls-beats.${OBSERVABILITY}.svc:5044`] })
    expect((beat.config['filebeat.inputs'] as { paths: string[] }[])[0]!.paths).toEqual([`/var/log/containers/*_${APPS}_*.log`])
    const es = specOf<{ auth: { fileRealm: { secretName: string }[] } }>(objectsOfKind(run, 'Elasticsearch')[0]!)
    for (const { secretName } of es.auth.fileRealm) {
      expect((objectNamed(run, 'Secret', secretName, OBSERVABILITY) as Manifest & { type: string }).type).toBe('kubernetes.io/basic-auth')
    }
  })

  it('runs Jaeger v2 from its chart, and every service exports OTLP to it', () => {
    expect(valuesOf<Record<string, unknown>>('jaeger')).toMatchObject({
      fullnameOverride: 'jaeger',
      jaeger: { enabled: true, replicas: 1 },
    })
    for (const service of SERVICES)
      expect(envEntry(service, 'OTEL_EXPORTER_OTLP_ENDPOINT')).toEqual({
        name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
        value: `http://jaeger.${OBSERVABILITY}.svc:4318`,
      })
  })

  it("runs PostgreSQL as a CloudNativePG Cluster at dev's version, with a role and a database per data service", () => {
    const cluster = specOf<{
      instances: number
      imageName: string
      enableSuperuserAccess: boolean
      managed: { roles: { name: string; passwordSecret: { name: string } }[] }
    }>(objectNamed(run, 'Cluster', 'platform-db', APPS))
    expect(cluster.instances).toBe(2)
    // The maintained image type on dev's Debian release, not the deprecated bullseye `17.10` tag.
    expect(DEFAULT_IMAGES.postgres).toBe('postgres:17.10-bookworm')
    expect(cluster.imageName).toBe('ghcr.io/cloudnative-pg/postgresql:17.10-standard-bookworm')
    expect(cluster.enableSuperuserAccess).toBe(false)
    expect(cluster.managed.roles.map((role) => [role.name, role.passwordSecret.name])).toEqual([
      ['user_service', 'user-service-db'],
      ['order_service', 'order-service-db'],
    ])
    const databases = objectsOfKind(run, 'Database').map((database) =>
      specOf<{ name: string; owner: string; cluster: { name: string } }>(database),
    )
    expect(databases).toEqual([
      { name: 'users', owner: 'user_service', cluster: { name: 'platform-db' }, ensure: 'present' },
      { name: 'orders', owner: 'order_service', cluster: { name: 'platform-db' }, ensure: 'present' },
    ])
    const users = secretData('user-service-db', APPS)
    expect(users).toMatchObject({ username: 'user_service', dbname: 'users', host: `platform-db-rw.${APPS}.svc`, port: '5432' })
    expect(users.uri).toBe(`postgresql://user_service:${users.password}@platform-db-rw.${APPS}.svc:5432/users`)
    expect(secretData('order-service-db', APPS).uri).toMatch(
      new RegExp(`^postgresql://order_service:[^@]+@platform-db-rw\\.${APPS}\\.svc:5432/orders$`),
    )
  })
})

describe('prod stack: app services', () => {
  it('runs each service as a Deployment of the configured replicas and the pushed image', () => {
    for (const service of SERVICES) {
      expect(deployment(service).spec.replicas, service).toBe(fileServices[service].replicas)
      expect(container(service).image).toBe(`ghcr.io/example/microservice-platform/${service}:${expectedTags[service]}`)
      expect(container(service).ports).toEqual([{ name: 'http', containerPort: SERVICE_PORTS[service], protocol: 'TCP' }])
    }
  })

  it("probes startup, readiness and liveness over HTTP as the model says, and sets the model's requests and limits", () => {
    for (const service of SERVICES) {
      const { probes, resources } = modelOf(service)
      const expected = (probe: typeof probes.startup) => ({
        httpGet: { path: probe.path, port: 'http' },
        periodSeconds: probe.periodSeconds,
        timeoutSeconds: probe.timeoutSeconds,
        failureThreshold: probe.failureThreshold,
      })
      expect(container(service).startupProbe).toEqual(expected(probes.startup))
      expect(container(service).readinessProbe).toEqual(expected(probes.readiness))
      expect(container(service).livenessProbe).toEqual(expected(probes.liveness))
      expect(container(service).resources).toEqual({ requests: { ...resources.requests }, limits: { ...resources.limits } })
    }
  })

  it('runs restricted: non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp, a read-only root with /tmp writable', () => {
    for (const service of SERVICES) {
      expect(podSpec(service).securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      })
      expect(container(service).securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      })
      const tmp = container(service).volumeMounts.find((mount) => mount.mountPath === '/tmp')!
      expect(podSpec(service).volumes.find((volume) => volume.name === tmp.name)).toMatchObject({ emptyDir: {} })
      expect(podSpec(service).automountServiceAccountToken).toBe(false)
      expect(podSpec(service).serviceAccountName).toBe(service)
    }
  })

  it("pauses in preStop for the drain delay, and gives the pod that pause plus the services' grace", () => {
    for (const service of SERVICES) {
      expect(container(service).lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } })
      expect(podSpec(service).terminationGracePeriodSeconds).toBe(35)
      // SIGTERM comes after the pause; the service's own deadline must end before SIGKILL.
      expect((podSpec(service).terminationGracePeriodSeconds - 5) * 1000).toBeGreaterThan(
        Number(envEntry(service, 'SHUTDOWN_TIMEOUT_MS')!.value),
      )
      expect(envEntry(service, 'DRAIN_DELAY_MS')!.value).toBe('5000')
    }
  })

  it('spreads each service across nodes', () => {
    for (const service of SERVICES) {
      expect(podSpec(service).topologySpreadConstraints).toEqual([
        {
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: deployment(service).spec.selector.matchLabels },
          matchLabelKeys: ['pod-template-hash'],
        },
      ])
    }
  })

  it("registers with the Consul agent on the pod's node over TLS, with its own token from a Secret", () => {
    for (const service of SERVICES) {
      const names = container(service).env.map((entry) => entry.name)
      expect(names.indexOf('HOST_IP')).toBeLessThan(names.indexOf('CONSUL_HTTP_ADDR'))
      expect(envEntry(service, 'HOST_IP')).toEqual({ name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } })
      expect(envEntry(service, 'CONSUL_HTTP_ADDR')).toEqual({ name: 'CONSUL_HTTP_ADDR', value: 'https://$(HOST_IP):8501' })
      expect(envEntry(service, 'CONSUL_HTTP_TOKEN')).toEqual({
        name: 'CONSUL_HTTP_TOKEN',
        valueFrom: { secretKeyRef: { name: `consul-token-${service}`, key: 'token' } },
      })
      expect(envEntry(service, 'SERVICE_ADDRESS')).toEqual({
        name: 'SERVICE_ADDRESS',
        valueFrom: { fieldRef: { fieldPath: 'status.podIP' } },
      })
      const ca = envEntry(service, 'NODE_EXTRA_CA_CERTS')!.value!
      const mount = container(service).volumeMounts.find((candidate) => ca.startsWith(`${candidate.mountPath}/`))!
      expect(podSpec(service).volumes.find((volume) => volume.name === mount.name)!.secret).toMatchObject({ secretName: 'consul-ca-cert' })
      expect(secretData('consul-ca-cert', APPS)['tls.crt']).toBe(secretData('consul-ca-cert', SYSTEM)['tls.crt'])
    }
  })

  it('gives each data service only its own DATABASE_URL, from its Secret, and the gateway none', () => {
    expect(envEntry('user-service', 'DATABASE_URL')).toEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'user-service-db', key: 'uri' } },
    })
    expect(envEntry('order-service', 'DATABASE_URL')).toEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'order-service-db', key: 'uri' } },
    })
    expect(envEntry('gateway', 'DATABASE_URL')).toBeUndefined()
    expect(envEntry('gateway', 'TRUST_PROXY')).toEqual({ name: 'TRUST_PROXY', value: 'true' })
    // No credential is written into a pod spec in the clear.
    for (const service of SERVICES) {
      for (const entry of container(service).env) expect(entry.value ?? '').not.toMatch(/password|postgresql:\/\//)
    }
  })

  it("renders an environment each service's own config schema accepts", () => {
    const readers = { 'user-service': readUserConfig, 'order-service': readOrderConfig, gateway: readGatewayConfig }
    for (const service of SERVICES) {
      const env: Record<string, string> = {}
      for (const entry of container(service).env) {
        const fieldPath = entry.valueFrom?.fieldRef?.fieldPath
        const ref = entry.valueFrom?.secretKeyRef
        const raw =
          entry.value ??
          (fieldPath === 'status.hostIP' ? '10.0.0.1' : fieldPath === 'status.podIP' ? '10.1.2.3' : secretData(ref!.name, APPS)[ref!.key]!)
        // Kubernetes expands $(NAME) of variables defined before.
        env[entry.name] = raw.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => env[name] ?? '')
      }
      expect(env.CONSUL_HTTP_ADDR).toBe('https://10.0.0.1:8501')
      expect(() => readers[service](env), service).not.toThrow()
    }
  })

  it('puts each service behind a Service, an autoscaler from its replicas up, a disruption budget and a ServiceMonitor', () => {
    for (const service of SERVICES) {
      const labels = deployment(service).spec.selector.matchLabels
      const svc = objectNamed(run, 'Service', service, APPS)
      expect(svc.spec).toEqual({
        type: 'ClusterIP',
        selector: labels,
        ports: [{ name: 'http', port: SERVICE_PORTS[service], targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
      })
      expect(svc.metadata.annotations).toEqual({ 'consul.hashicorp.com/service-sync': 'false' })
      const replicas = fileServices[service].replicas
      expect(objectNamed(run, 'HorizontalPodAutoscaler', service, APPS).spec).toEqual({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: service },
        minReplicas: replicas,
        maxReplicas: Math.min(10, replicas * 3),
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      })
      expect(objectNamed(run, 'PodDisruptionBudget', service, APPS).spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: labels } })
      expect(objectNamed(run, 'ServiceMonitor', service, APPS).spec).toEqual({
        selector: { matchLabels: labels },
        endpoints: [{ port: 'http', path: '/metrics', interval: '15s', honorLabels: true }],
      })
    }
  })

  it("carries dev's alerts in a PrometheusRule", () => {
    expect(objectNamed(run, 'PrometheusRule', 'platform-alerts', APPS).spec).toEqual(alertRules())
  })

  it('publishes only the gateway, on api.<domain> over TLS, with the router rule it registers', () => {
    const routes = objectsOfKind(run, 'IngressRoute').filter((route) => route.metadata.namespace === APPS)
    expect(routes.map((route) => route.metadata.name)).toEqual(['gateway'])
    expect(routes[0]!.spec).toEqual({
      entryPoints: ['websecure'],
      routes: [
        {
          kind: 'Rule',
          match: `Host(\`api.${fileKubernetes.domain}\`) && (PathPrefix(\`/\`) && !PathPrefix(\`/metrics\`) && !PathPrefix(\`/health\`))`,
          services: [{ name: 'gateway', port: 3000 }],
        },
      ],
      tls: {},
    })
  })
})

describe('prod stack: network policies of the app namespace', () => {
  type Rule = { from?: Peer[]; to?: Peer[]; ports: { port: number; protocol: string }[] }
  type Peer = {
    podSelector?: { matchLabels: Record<string, string> }
    namespaceSelector?: { matchLabels: Record<string, string> }
    ipBlock?: { cidr: string }
  }
  const policy = (name: string) =>
    specOf<{ podSelector: { matchLabels?: Record<string, string> }; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] }>(
      objectNamed(run, 'NetworkPolicy', name, APPS),
    )
  const appPeer = (service: string): Peer => ({
    podSelector: { matchLabels: { 'app.kubernetes.io/name': service, 'app.kubernetes.io/part-of': 'microservice-platform' } },
  })
  const inNamespace = (namespace: string, labels: Record<string, string>): Peer => ({
    podSelector: { matchLabels: labels },
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  })
  const tcp = (port: number) => [{ port, protocol: 'TCP' }]

  it('denies all ingress and egress by default, then allows DNS', () => {
    expect(policy('default-deny')).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] })
    expect(policy('allow-dns').egress).toEqual([
      {
        to: [inNamespace('kube-system', { 'k8s-app': 'kube-dns' })],
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      },
    ])
    expect(
      objectsOfKind(run, 'NetworkPolicy')
        .map((manifest) => manifest.metadata.name)
        .sort(),
    ).toEqual(['allow-dns', 'database', 'default-deny', 'gateway', 'order-service', 'user-service'])
  })

  it('lets in, per service, exactly its callers, Prometheus and the Consul agents, on its port', () => {
    const prometheus = inNamespace(OBSERVABILITY, { 'app.kubernetes.io/name': 'prometheus' })
    const agents = inNamespace(SYSTEM, { app: 'consul', component: 'client' })
    const traefik = inNamespace(SYSTEM, { 'app.kubernetes.io/name': 'traefik' })
    const callers = {
      gateway: [traefik],
      'user-service': [appPeer('order-service'), appPeer('gateway')],
      'order-service': [appPeer('gateway')],
    }
    for (const service of SERVICES) {
      const ingress = policy(service).ingress!
      for (const rule of ingress) expect(rule.ports, service).toEqual(tcp(SERVICE_PORTS[service]))
      expect(ingress.map((rule) => rule.from![0]).sort(byJson), service).toEqual([...callers[service], prometheus, agents].sort(byJson))
    }
  })

  it('lets out, per service, only its Consul agent, Jaeger, its upstreams and (data services) the database', () => {
    const database = { podSelector: { matchLabels: { 'cnpg.io/cluster': 'platform-db' } } }
    for (const service of SERVICES) {
      const egress = policy(service).egress!.map((rule) => [rule.to![0], rule.ports[0]!.port] as const)
      const expected: (readonly [Peer, number])[] = [
        [inNamespace(SYSTEM, { app: 'consul', component: 'client' }), 8501],
        [inNamespace(OBSERVABILITY, { 'app.kubernetes.io/name': 'jaeger' }), 4318],
        ...(modelOf(service).database === undefined ? [] : [[database, 5432] as const]),
        ...(service === 'order-service' ? [[appPeer('user-service'), 3001] as const] : []),
        ...(service === 'gateway' ? [[appPeer('user-service'), 3001] as const, [appPeer('order-service'), 3002] as const] : []),
      ]
      expect(egress.sort(byJson), service).toEqual(expected.sort(byJson))
    }
  })

  it('lets the database pods replicate, answer the data services and the operator, and reach the API server', () => {
    const ingress = policy('database').ingress!.map((rule) => rule.from![0])
    expect(ingress).toContainEqual(appPeer('user-service'))
    expect(ingress).toContainEqual(appPeer('order-service'))
    expect(ingress).not.toContainEqual(appPeer('gateway'))
    expect(ingress).toContainEqual(inNamespace(SYSTEM, { 'app.kubernetes.io/name': 'cloudnative-pg' }))
    expect(policy('database').egress!.find((rule) => rule.to![0]!.ipBlock !== undefined)!.ports).toEqual([...tcp(443), ...tcp(6443)])
  })
})

describe('prod stack: dependency order', () => {
  const release = (chart: string) => urnOf(releaseNamed(run, chart))
  const OPERATOR_OF: Record<string, string> = {
    'traefik.io': 'traefik',
    'monitoring.coreos.com': 'kube-prometheus-stack',
    'elasticsearch.k8s.elastic.co': 'eck-operator',
    'kibana.k8s.elastic.co': 'eck-operator',
    'logstash.k8s.elastic.co': 'eck-operator',
    'beat.k8s.elastic.co': 'eck-operator',
    'postgresql.cnpg.io': 'cloudnative-pg',
  }

  it('creates every custom resource after the release of the operator that brings its CRD', () => {
    const custom = kubernetesObjects(run).filter(
      (manifest) => manifest.apiVersion.includes('.') && !manifest.apiVersion.includes('k8s.io/'),
    )
    const groups = new Set(custom.map((manifest) => manifest.apiVersion.split('/')[0]!))
    expect([...groups].sort()).toEqual(Object.keys(OPERATOR_OF).sort())
    for (const manifest of custom) {
      const operator = OPERATOR_OF[manifest.apiVersion.split('/')[0]!]!
      expect(dependenciesOf(manifest), `${manifest.kind} ${manifest.metadata.name}`).toContain(release(operator))
    }
  })

  it('installs the releases after the namespaces, Consul after its secrets, Traefik after the Prometheus CRDs', () => {
    const namespaceUrn = (name: string) => urnOf(resourceOf(run, objectNamed(run, 'Namespace', name)))
    for (const chartRelease of releases(run))
      expect(chartRelease.dependencies, String(chartRelease.inputs.chart)).toContain(namespaceUrn(String(chartRelease.inputs.namespace)))
    // Every namespaced object waits for its namespace (its metadata.namespace is the Namespace's output).
    for (const manifest of kubernetesObjects(run).filter((object) => object.metadata.namespace !== undefined)) {
      expect(dependenciesOf(manifest), `${manifest.kind} ${manifest.metadata.name}`).toContain(namespaceUrn(manifest.metadata.namespace!))
    }
    const consul = releaseNamed(run, 'consul').dependencies
    for (const secret of ['consul-ca-cert', 'consul-ca-key', 'consul-bootstrap-acl-token'])
      expect(consul).toContain(urnOf(resourceOf(run, objectNamed(run, 'Secret', secret, SYSTEM))))
    expect(releaseNamed(run, 'traefik').dependencies).toContain(release('kube-prometheus-stack'))
    expect(dependenciesOf(objectsOfKind(run, 'Job')[0]!)).toContain(release('consul'))
  })

  it('creates the app services after what the model says they depend on, and after the Secrets they read', () => {
    const urn = (kind: string, name: string, namespace?: string) => urnOf(resourceOf(run, objectNamed(run, kind, name, namespace)))
    const job = urnOf(resourceOf(run, objectsOfKind(run, 'Job')[0]!))
    for (const service of SERVICES) {
      const dependencies = dependenciesOf(deployment(service))
      expect(dependencies, service).toEqual(
        expect.arrayContaining([release('consul'), job, release('jaeger'), urn('Logstash', 'logstash'), urn('Beat', 'filebeat')]),
      )
      expect(dependencies, service).toContain(urn('Secret', `consul-token-${service}`, APPS))
      if (modelOf(service).database !== undefined) {
        expect(dependencies, service).toEqual(
          expect.arrayContaining([
            urn('Cluster', 'platform-db'),
            urn('Secret', `${service}-db`, APPS),
            ...objectsOfKind(run, 'Database').map((database) => urnOf(resourceOf(run, database))),
          ]),
        )
      }
    }
    expect(dependenciesOf(deployment('order-service'))).toContain(urn('Deployment', 'user-service', APPS))
    expect(dependenciesOf(deployment('gateway'))).toEqual(
      expect.arrayContaining([urn('Deployment', 'user-service', APPS), urn('Deployment', 'order-service', APPS)]),
    )
    // Each Database after the Cluster it lives in.
    for (const database of objectsOfKind(run, 'Database')) expect(dependenciesOf(database)).toContain(urn('Cluster', 'platform-db'))
  })
})

describe('prod stack: outputs', () => {
  it('exports the gateway and the Traefik dashboard on the configured domain', async () => {
    expect(await outputOf('gatewayUrl')).toBe(`https://api.${fileKubernetes.domain}`)
    expect(await outputOf('traefikDashboardUrl')).toBe(`https://traefik.${fileKubernetes.domain}/dashboard/`)
  })

  it('exports, for every other UI, the exact port-forward and the local URL it opens', async () => {
    const access = await outputOf<Record<string, string>>('access')
    expect(access).toMatchObject({
      grafana: `kubectl --namespace ${OBSERVABILITY} port-forward service/grafana 3030:80`,
      kibana: `kubectl --namespace ${OBSERVABILITY} port-forward service/kibana-kb-http 5601:5601`,
      jaeger: `kubectl --namespace ${OBSERVABILITY} port-forward service/jaeger 16686:16686`,
      consul: `kubectl --namespace ${SYSTEM} port-forward service/consul-ui 8500:443`,
      prometheus: `kubectl --namespace ${OBSERVABILITY} port-forward service/kps-prometheus 9090:9090`,
      kibanaElasticPassword: `kubectl --namespace ${OBSERVABILITY} get secret elasticsearch-es-elastic-user --output jsonpath='{.data.elastic}' | base64 --decode`,
    })
    expect(await outputOf('grafanaUrl')).toBe('http://127.0.0.1:3030/')
    expect(await outputOf('kibanaUrl')).toBe('https://127.0.0.1:5601/')
    expect(await outputOf('jaegerUrl')).toBe('http://127.0.0.1:16686/')
    expect(await outputOf('consulUiUrl')).toBe('https://127.0.0.1:8500/ui/')
    expect(await outputOf('prometheusUrl')).toBe('http://127.0.0.1:9090/')
    const dashboardUrls = await outputOf<Record<string, string>>('grafanaDashboardUrls')
    for (const dashboard of dashboards()) expect(dashboardUrls[dashboard.title]).toBe(`http://127.0.0.1:3030/d/${dashboard.uid}`)
  })

  it('exports the generated credentials only as a secret', async () => {
    const credentials = run.program.credentials as pulumi.Output<Record<string, Record<string, string>>>
    expect(await pulumi.isSecret(credentials)).toBe(true)
    const value = await valueOf(credentials)
    expect(value.grafana).toEqual({ user: 'admin', password: 'monitoring-grafana-admin-password' })
    expect(value.traefik).toEqual({ user: 'admin', password: 'edge-dashboard-password' })
    expect(value.consul!.bootstrapToken).toBe(secretData('consul-bootstrap-acl-token', SYSTEM).token)
  })

  it('never sends a generated credential to the cluster in the clear', () => {
    const secrets = run.resources.filter((resource) => resource.type === 'kubernetes:core/v1:Secret')
    for (const resource of secrets) {
      const data = resource.inputs.stringData as Record<string, unknown>
      for (const [key, value] of Object.entries(data)) {
        if (/password|token|tls\.key|uri|dockerconfigjson/.test(key))
          expect(isSecretValue(value) || isSecretValue(resource.inputs.stringData), `${resource.name}.${key}`).toBe(true)
      }
    }
    expect(byType(run.resources, RELEASE).length).toBe(6)
  })
})

/** Orders values by their JSON with sorted keys (the engine hands objects over with sorted keys). */
function byJson(a: unknown, b: unknown): number {
  return canonical(a).localeCompare(canonical(b))
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_, child: unknown) =>
    typeof child === 'object' && child !== null && !Array.isArray(child)
      ? Object.fromEntries(Object.entries(child).sort(([a], [b]) => a.localeCompare(b)))
      : child,
  )
}
