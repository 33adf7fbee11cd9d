// The stack configuration, read once and validated with one schema. Every key of the project's
// namespace is checked before the program creates anything: an unknown key, a wrong type or a
// bad value stops the run with one line naming the key and what it must be.
import * as pulumi from '@pulumi/pulumi'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { CATALOG, serviceNames, type Catalog } from '../catalog/catalog.ts'

/** A stack configuration problem: one line, no stack trace (a `RunError` prints only its message). */
export class StackConfigError extends pulumi.RunError {
  override readonly name = 'StackConfigError'
}

/**
 * An image reference with an exact version tag: a registry/repository, `:`, a tag that starts
 * with the version (`versionPattern`), and optionally `@sha256:` digest. Never `latest`.
 */
const pinnedImage = (fallback: string, versionPattern: string, description: string) =>
  Type.String({
    pattern: `^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*:${versionPattern}(?:-[A-Za-z0-9_.-]+)?(?:@sha256:[a-f0-9]{64})?$`,
    default: fallback,
    description,
    expected: `an image reference with an exact version tag, like ${fallback}`,
  })
/** major.minor.patch, with an optional leading v. */
const SEMVER = 'v?[0-9]+\\.[0-9]+\\.[0-9]+'
/** PostgreSQL's own versions are exact at major.minor (17.10). */
const PG_VERSION = '[0-9]+\\.[0-9]+'

/** Replicas of an app service when the stack sets none: one container on docker, two pods on kubernetes. */
export const DEFAULT_REPLICAS = { docker: 1, kubernetes: 2 } as const

const replicas = (service: string) =>
  Type.Object(
    {
      replicas: Type.Integer({
        minimum: 1,
        maximum: 10,
        default: DEFAULT_REPLICAS.docker,
        description: `instances of ${service} (containers on docker, pods on kubernetes)`,
        tableNote: `${DEFAULT_REPLICAS.kubernetes} when unset and target is kubernetes`,
      }),
    },
    { additionalProperties: false, default: {} },
  )

/** A Helm chart version: exact, never a range (the release installs what the stack file says). */
const chartVersion = (fallback: string, chart: string) =>
  Type.String({
    pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$',
    default: fallback,
    description: `version of the ${chart} Helm chart (kubernetes target)`,
    expected: `an exact chart version like ${fallback}`,
  })

/** A Kubernetes object name that is also a DNS label (namespaces). */
const dnsLabel = (fallback: string, description: string) =>
  Type.String({
    pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$',
    expected: 'a DNS label: at most 63 lowercase letters, digits and -, starting and ending with a letter or digit',
    default: fallback,
    description,
  })

const hostPort = (fallback: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 65_535, default: fallback, description: `port on 127.0.0.1 for ${description}` })

/** Keys whose values are credentials: set with `--secret`, never echoed in an error. */
export const SECRET_KEYS = ['registryPassword'] as const

/** `services.<name>.replicas` for every service of the catalog, and no other name. */
const servicesSchema = (catalog: Catalog) =>
  Type.Object(
    Object.fromEntries(serviceNames(catalog).map((name) => [name, replicas(name)])) as Record<string, ReturnType<typeof replicas>>,
    {
      additionalProperties: false,
      default: {},
    },
  )

/**
 * The project namespace's keys, for the services of `catalog`. `npm run docs:config` writes
 * them as infra/README.md's table.
 */
export const stackConfigSchemaFor = (catalog: Catalog = CATALOG) =>
  Type.Object(
    {
      target: Type.Union([Type.Literal('docker'), Type.Literal('kubernetes')], {
        default: 'docker',
        description: 'where the stack runs: the local Docker engine (dev) or a Kubernetes cluster (prod)',
      }),
      logLevel: Type.Union(
        ['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((level) => Type.Literal(level)),
        { default: 'info', description: 'LOG_LEVEL of the app services' },
      ),
      apiDocs: Type.Boolean({
        default: true,
        description: "the gateway's interactive API reference at /docs (API_DOCS); /openapi.json is always served",
      }),
      services: servicesSchema(catalog),
      images: Type.Object(
        {
          node: pinnedImage('node:24.19.0-bookworm-slim', SEMVER, 'base image of the service images (build argument NODE_IMAGE)'),
          consul: pinnedImage('hashicorp/consul:1.22.1', SEMVER, 'Consul server'),
          traefik: pinnedImage('traefik:v3.7.10', SEMVER, 'Traefik edge proxy'),
          elasticsearch: pinnedImage(
            'docker.elastic.co/elasticsearch/elasticsearch:8.19.13',
            SEMVER,
            'Elasticsearch (same version as Logstash and Kibana)',
          ),
          logstash: pinnedImage('docker.elastic.co/logstash/logstash:8.19.13', SEMVER, 'Logstash'),
          kibana: pinnedImage('docker.elastic.co/kibana/kibana:8.19.13', SEMVER, 'Kibana'),
          prometheus: pinnedImage('prom/prometheus:v3.13.0', SEMVER, 'Prometheus (an upstream build: it has Consul service discovery)'),
          grafana: pinnedImage('grafana/grafana:12.4.2', SEMVER, 'Grafana'),
          jaeger: pinnedImage('jaegertracing/jaeger:2.19.0', SEMVER, 'Jaeger v2 (OTLP in, UI on 16686)'),
          postgres: pinnedImage('postgres:17.10-bookworm', PG_VERSION, 'PostgreSQL'),
        },
        { additionalProperties: false, default: {} },
      ),
      ports: Type.Object(
        {
          web: hostPort(8000, "Traefik's web entrypoint: the gateway"),
          traefik: hostPort(8080, 'the Traefik dashboard and API'),
          consul: hostPort(8500, 'the Consul UI and HTTP API (the Pulumi Consul provider uses it)'),
          grafana: hostPort(3030, 'Grafana'),
          kibana: hostPort(5601, 'Kibana'),
          prometheus: hostPort(9090, 'Prometheus'),
          jaeger: hostPort(16686, 'the Jaeger UI'),
          elasticsearch: hostPort(9200, 'the Elasticsearch HTTP API'),
          postgres: hostPort(5432, 'PostgreSQL'),
          gelf: hostPort(12201, "Logstash's gelf input (UDP; Docker's log driver sends from the host)"),
        },
        { additionalProperties: false, default: {} },
      ),
      registry: Type.Optional(
        Type.Object(
          {
            server: Type.String({
              pattern: '^[a-z0-9.-]+(:[0-9]+)?$',
              expected: 'a registry host with an optional port, like ghcr.io or registry.local:5000',
              description:
                'registry the service images are pushed to, e.g. ghcr.io (registry.* go together; required on kubernetes; unset = images stay in the local engine)',
            }),
            repository: Type.String({
              pattern: '^[a-z0-9]+([._/-][a-z0-9]+)*$',
              expected: 'a lowercase repository path like acme/platform',
              description: 'path under the server, e.g. acme/platform',
            }),
            username: Type.String({ minLength: 1, description: 'user the images are pushed as' }),
          },
          { additionalProperties: false },
        ),
      ),
      registryPassword: Type.Optional(
        Type.String({
          minLength: 1,
          description: 'password or token of registry.username (secret: pulumi config set --secret registryPassword ...)',
        }),
      ),
      kubernetes: Type.Object(
        {
          namespace: dnsLabel(
            'platform',
            'namespace of the app services and their database (kubernetes target; enforces the restricted Pod Security Standard)',
          ),
          observabilityNamespace: dnsLabel(
            'platform-observability',
            'namespace of Elasticsearch, Kibana, Logstash, Filebeat, Prometheus, Alertmanager, Grafana and Jaeger',
          ),
          systemNamespace: dnsLabel('platform-system', 'namespace of Consul, Traefik and the CloudNativePG operator'),
          kubeconfig: Type.Optional(
            Type.String({ minLength: 1, description: 'kubeconfig file of the cluster (unset: $KUBECONFIG, else ~/.kube/config)' }),
          ),
          context: Type.Optional(Type.String({ minLength: 1, description: 'kubeconfig context to use (unset: the current context)' })),
          domain: Type.String({
            pattern: '^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$',
            expected: 'a DNS domain like platform.example.com',
            default: 'platform.example.com',
            description: 'DNS domain whose hosts point at Traefik: api.<domain> is the gateway, traefik.<domain> the dashboard',
          }),
          tlsSecret: Type.Optional(
            Type.String({
              pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$',
              expected: 'the name of a kubernetes.io/tls Secret',
              description:
                "kubernetes.io/tls Secret in systemNamespace for *.<domain>: Traefik's default certificate (unset: Traefik's self-signed one)",
            }),
          ),
          storageClass: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                "StorageClass of the persistent volumes (Consul, Elasticsearch, Logstash, PostgreSQL, Prometheus; unset: the cluster's default)",
            }),
          ),
          databaseInstances: Type.Integer({
            minimum: 1,
            maximum: 5,
            default: 2,
            description: 'PostgreSQL instances of the CloudNativePG Cluster: one primary, the rest streaming replicas',
          }),
          // The one place each chart is pinned. Renovate (renovate.json) proposes new versions from
          // the `renovate:` lines; infra/UPSTREAM.md must be re-checked with each.
          charts: Type.Object(
            {
              // renovate: datasource=helm registryUrl=https://helm.releases.hashicorp.com depName=consul
              consul: chartVersion('1.9.3', 'hashicorp/consul'),
              // renovate: datasource=helm registryUrl=https://traefik.github.io/charts depName=traefik
              traefik: chartVersion('41.2.0', 'traefik/traefik'),
              // renovate: datasource=helm registryUrl=https://helm.elastic.co depName=eck-operator
              eckOperator: chartVersion('3.2.0', 'elastic/eck-operator'),
              // renovate: datasource=helm registryUrl=https://prometheus-community.github.io/helm-charts depName=kube-prometheus-stack
              kubePrometheusStack: chartVersion('81.4.3', 'prometheus-community/kube-prometheus-stack'),
              // renovate: datasource=helm registryUrl=https://jaegertracing.github.io/helm-charts depName=jaeger
              jaeger: chartVersion('4.11.1', 'jaegertracing/jaeger'),
              // renovate: datasource=helm registryUrl=https://cloudnative-pg.github.io/charts depName=cloudnative-pg
              cloudnativePg: chartVersion('0.27.0', 'cloudnative-pg/cloudnative-pg'),
            },
            { additionalProperties: false, default: {} },
          ),
        },
        { additionalProperties: false, default: {} },
      ),
    },
    { additionalProperties: false },
  )

/** The schema for the repository's catalog. */
export const stackConfigSchema = stackConfigSchemaFor()

type Schema = Static<typeof stackConfigSchema>
export type AppServiceReplicas = Schema['services']
export type ImageConfig = Schema['images']
export type HostPorts = Schema['ports']
export type KubernetesConfig = Schema['kubernetes']
export type ChartVersions = KubernetesConfig['charts']

/** The pinned default of every chart (`kubernetes.charts.*` unset): the one place a chart version is pinned. */
export const DEFAULT_CHARTS = Value.Default(stackConfigSchema.properties.kubernetes.properties.charts, {}) as ChartVersions

/** The pinned default of every image (`images.*` unset). */
export const DEFAULT_IMAGES = Value.Default(stackConfigSchema.properties.images, {}) as ImageConfig

export interface RegistryConfig {
  readonly server: string
  readonly repository: string
  readonly username: string
  /** Secret output of `registryPassword`. */
  readonly password: pulumi.Output<string>
}

/** The validated configuration of one stack. */
export interface StackConfig {
  readonly project: string
  readonly stack: string
  readonly target: Schema['target']
  readonly logLevel: Schema['logLevel']
  readonly apiDocs: boolean
  readonly services: AppServiceReplicas
  readonly images: ImageConfig
  readonly ports: HostPorts
  readonly registry?: RegistryConfig
  readonly kubernetes: Schema['kubernetes']
}

interface Described {
  readonly type?: string
  readonly description?: string
  readonly default?: unknown
  readonly expected?: string
  /** Appended to the description in the configuration table only. */
  readonly tableNote?: string
  readonly properties?: Record<string, Described>
  readonly anyOf?: readonly { readonly const?: unknown }[]
  readonly minimum?: number
  readonly maximum?: number
}

/**
 * Reads the project namespace of the stack configuration (`pulumi.runtime.allConfig()`),
 * validates it and returns it typed with defaults applied. Throws a StackConfigError naming the
 * first bad key; call it before creating any resource. `catalog` says which services take replicas.
 */
export function loadStackConfig(catalog: Catalog = CATALOG): StackConfig {
  const schema = catalog === CATALOG ? stackConfigSchema : stackConfigSchemaFor(catalog)
  const properties = schema.properties as unknown as Record<string, Described>
  const project = pulumi.getProject()
  const stack = pulumi.getStack()
  const prefix = `${project}:`
  const input: Record<string, unknown> = {}
  for (const [fullKey, raw] of Object.entries(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith(prefix)) continue // other namespaces belong to providers (docker:host, ...)
    const key = fullKey.slice(prefix.length)
    if (!(key in properties)) {
      throw new StackConfigError(`${fullKey} is not a configuration key of ${project} (known keys: ${Object.keys(properties).join(', ')})`)
    }
    input[key] = parseRaw(properties[key]!, raw)
  }

  const coerced = coerceText({ type: 'object', properties }, input)
  // Read before Value.Default fills (and mutates) the input.
  const replicasGiven = servicesWithReplicas(coerced)
  const value = Value.Default(schema, coerced) as Schema
  const first = Value.Errors(schema, value)[0]
  if (first !== undefined) throw new StackConfigError(describeError(prefix, first, value, properties))
  crossChecks(prefix, value)
  applyTargetDefaults(value, replicasGiven)

  if (value.registryPassword !== undefined && !isConfigSecret(`${prefix}registryPassword`)) {
    throw new StackConfigError(
      `${prefix}registryPassword must be stored as a secret: pulumi config set --secret registryPassword <password>`,
    )
  }
  const registry =
    value.registry === undefined ? undefined : { ...value.registry, password: new pulumi.Config(project).requireSecret('registryPassword') }

  return {
    project,
    stack,
    target: value.target,
    logLevel: value.logLevel,
    apiDocs: value.apiDocs,
    services: value.services,
    images: value.images,
    ports: value.ports,
    ...(registry === undefined ? {} : { registry }),
    kubernetes: value.kubernetes,
  }
}

/**
 * Defaults that depend on the target, applied where the stack file says nothing: a replica
 * count left unset means two pods on kubernetes (one can then be drained or evicted while the
 * other serves), one container on docker.
 */
function applyTargetDefaults(value: Schema, replicasGiven: ReadonlySet<string>): void {
  for (const name of Object.keys(value.services) as (keyof Schema['services'])[]) {
    if (!replicasGiven.has(name)) value.services[name].replicas = DEFAULT_REPLICAS[value.target]
  }
}

/** The services whose replica count the stack config sets. */
function servicesWithReplicas(input: unknown): Set<string> {
  const services = (input as { services?: unknown } | undefined)?.services
  if (typeof services !== 'object' || services === null) return new Set()
  return new Set(
    Object.entries(services).flatMap(([name, service]) =>
      typeof service === 'object' && service !== null && (service as { replicas?: unknown }).replicas !== undefined ? [name] : [],
    ),
  )
}

/**
 * Whether the CLI handed this key over as a secret. The SDK keeps the check internal (Config.get
 * uses it to warn); without it in some future SDK, the key is trusted to be a secret.
 */
function isConfigSecret(key: string): boolean {
  const runtime = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }
  return runtime.isConfigSecret?.(key) ?? true
}

/** Pulumi hands every value over as text: structured keys are JSON, plain strings are as typed. */
function parseRaw(schema: Described, raw: string): unknown {
  if (schema.type === 'string' || schema.anyOf !== undefined) return raw
  try {
    return JSON.parse(raw) as unknown
  } catch {
    return raw // left as text, the schema then says which type was expected
  }
}

/**
 * `pulumi config set --path services.gateway.replicas 2` may store the number as text: turn
 * numeric and boolean text into numbers and booleans where the schema wants them, and nothing
 * else (1.5 stays 1.5, so the schema can say it is not an integer).
 */
function coerceText(schema: Described, value: unknown): unknown {
  if (typeof value === 'string') {
    if ((schema.type === 'integer' || schema.type === 'number') && /^-?[0-9]+(\.[0-9]+)?$/.test(value.trim())) return Number(value)
    if (schema.type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
    return value
  }
  if (schema.properties !== undefined && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [
        key,
        schema.properties?.[key] === undefined ? child : coerceText(schema.properties[key], child),
      ]),
    )
  }
  return value
}

interface SchemaError {
  readonly keyword: string
  readonly instancePath: string
  readonly message: string
  readonly params: Record<string, unknown>
}

function describeError(prefix: string, error: SchemaError, value: unknown, properties: Record<string, Described>): string {
  const segments = error.instancePath.split('/').slice(1)
  if (error.keyword === 'additionalProperties' || error.message === 'schema is false') {
    const unknown =
      error.keyword === 'additionalProperties' ? [...segments, String((error.params.additionalProperties as unknown[])[0])] : segments
    const parent = schemaAt(properties, unknown.slice(0, -1))
    const known = Object.keys(parent?.properties ?? {}).join(', ')
    return `${prefix}${unknown.join('.')} is not a configuration key (${unknown.length > 1 ? `${unknown.slice(0, -1).join('.')} takes ` : ''}${known})`
  }
  if (error.keyword === 'required') {
    const missing = [...segments, String((error.params.requiredProperties as unknown[] | undefined)?.[0] ?? '')]
    const schema = schemaAt(properties, missing)
    return `${prefix}${missing.join('.')} is required${schema?.description ? ` (${schema.description})` : ''}`
  }
  const schema = schemaAt(properties, segments)
  const choices = schema?.anyOf?.map((option) => option.const).filter((choice) => choice !== undefined)
  const problem = choices?.length
    ? `must be one of ${choices.join(', ')}`
    : schema?.expected !== undefined
      ? `must be ${schema.expected}`
      : error.message
  const secret = (SECRET_KEYS as readonly string[]).includes(segments[0] ?? '')
  const got = secret ? '' : `=${JSON.stringify(valueAt(value, segments))}`
  const about = schema?.description === undefined || schema.expected !== undefined ? '' : ` (${schema.description})`
  return `${prefix}${segments.join('.')}${got}: ${problem}${about}`
}

function schemaAt(properties: Record<string, Described>, segments: readonly string[]): Described | undefined {
  let schema: Described | undefined = { type: 'object', properties }
  for (const segment of segments) schema = schema?.properties?.[segment]
  return schema
}

function valueAt(value: unknown, segments: readonly string[]): unknown {
  let current = value
  for (const segment of segments) current = (current as Record<string, unknown> | undefined)?.[segment]
  return current
}

/** Rules that span keys, checked after the schema. */
function crossChecks(prefix: string, value: Schema): void {
  const version = (image: string) =>
    image
      .replace(/@sha256:.*$/, '')
      .split(':')
      .pop()
  const elastic = version(value.images.elasticsearch)
  for (const key of ['logstash', 'kibana'] as const) {
    if (version(value.images[key]) !== elastic) {
      throw new StackConfigError(
        `${prefix}images.${key}=${JSON.stringify(value.images[key])}: must carry the same version as images.elasticsearch (${elastic}); the Elastic Stack is released and tested in lockstep`,
      )
    }
  }
  const seen = new Map<number, string>()
  // In the schema's order, so the error names the key that was changed, not the default it hit.
  for (const key of Object.keys(stackConfigSchema.properties.ports.properties) as (keyof HostPorts)[]) {
    const port = value.ports[key]
    const other = seen.get(port)
    if (other !== undefined)
      throw new StackConfigError(`${prefix}ports.${key}=${port}: must differ from ports.${other}, which is also ${port}`)
    seen.set(port, key)
  }
  if (value.target === 'kubernetes' && value.registry === undefined) {
    throw new StackConfigError(
      `${prefix}registry is required when target is kubernetes: the cluster pulls the service images from it (server, repository, username)`,
    )
  }
  if (value.registry !== undefined && value.registryPassword === undefined) {
    throw new StackConfigError(
      `${prefix}registryPassword is required with registry: pulumi config set --secret registryPassword <password>`,
    )
  }
}

interface TableRow {
  readonly key: string
  readonly type: string
  readonly fallback: string
  readonly description: string
}

/** What each stack file sets, by stack name (`dev`) then dotted key (`services.gateway.replicas`). */
export type StackSettings = Readonly<Record<string, Readonly<Record<string, string>>>>

/**
 * The configuration keys as a Markdown table, generated from the schema (infra/README.md holds
 * it): with `stacks`, a column per stack file shows the value it sets in place of the default,
 * so an override (a chart or image version, a replica count) is seen next to what it replaces.
 */
export function configTable(stacks: StackSettings = {}): string {
  const rows: TableRow[] = []
  const walk = (path: string, schema: Described) => {
    if (schema.type === 'object' && schema.properties !== undefined) {
      for (const [key, child] of Object.entries(schema.properties)) walk(path === '' ? key : `${path}.${key}`, child)
      return
    }
    const choices = schema.anyOf?.map((option) => option.const).filter((choice) => choice !== undefined)
    const type = choices?.length
      ? choices.map((choice) => `\`${String(choice)}\``).join(' \\| ')
      : schema.type === 'integer' && schema.minimum !== undefined
        ? `integer ${schema.minimum}–${schema.maximum}`
        : (schema.type ?? 'object')
    const secret = (SECRET_KEYS as readonly string[]).includes(path)
    rows.push({
      key: path,
      type: secret ? `${type} (secret)` : type,
      fallback: schema.default === undefined ? 'unset' : `\`${String(schema.default)}\``,
      description: [schema.description ?? '', ...(schema.tableNote === undefined ? [] : [schema.tableNote])]
        .join('; ')
        .replace(/\|/g, '\\|'),
    })
  }
  walk('', { type: 'object', properties: stackConfigSchema.properties as unknown as Record<string, Described> })
  const names = Object.keys(stacks)
  const set = (stack: string, key: string) => {
    const value = stacks[stack]?.[key]
    return value === undefined ? '' : `\`${value.replace(/\|/g, '\\|')}\``
  }
  return [
    `| Key | Type | Default | ${names.map((name) => `${name} stack | `).join('')}Meaning |`,
    `| --- | --- | --- | ${names.map(() => '--- | ').join('')}--- |`,
    ...rows.map(
      (row) =>
        `| \`${row.key}\` | ${row.type} | ${row.fallback} | ${names.map((name) => `${set(name, row.key)} | `).join('')}${row.description} |`,
    ),
  ].join('\n')
}
