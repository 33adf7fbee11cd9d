// The app services, described once. The Docker renderer (infra/docker/services.ts) and the
// Kubernetes renderer (infra/kubernetes/) both read this description, so the two environments
// cannot drift: same ports, probes, environment, resources and shutdown timing.
//
// Values that depend on where a service runs are references, resolved by each renderer:
// a platform endpoint (Consul, the OTLP collector), a secret (a Consul token, a database URL),
// or the instance's own address.
//
// Which services exist, their ports, databases and callees come from the catalog
// (catalog/services.json); this file adds what every service gets the same way.
import { CATALOG, catalogEntry, type Catalog, type CatalogEntry } from '../catalog/catalog.ts'

/** A service of the catalog: its folder under services/. */
export type AppServiceName = string

/** Secrets an app service may need; each renderer supplies them from its own secret store. */
export type SecretName = 'consul-token' | 'database-url'

/** Platform endpoints as URLs; each renderer knows where they live. */
export type EndpointName = 'consul-http' | 'otlp-http'

/** Where one environment variable's value comes from. */
export type EnvSource =
  | { readonly kind: 'value'; readonly value: string }
  /** Docker: a secret Pulumi output; Kubernetes: a `secretKeyRef`. */
  | { readonly kind: 'secret'; readonly secret: SecretName }
  | { readonly kind: 'endpoint'; readonly endpoint: EndpointName }
  /** Docker: the container name; Kubernetes: the pod IP (`status.podIP`). */
  | { readonly kind: 'instance-address' }

/** An HTTP GET probe on the service's own port. */
export interface HttpProbe {
  readonly path: string
  readonly periodSeconds: number
  readonly timeoutSeconds: number
  /** Consecutive failures before the probe counts as failed. */
  readonly failureThreshold: number
}

/** Kubernetes-style quantities: cpu in millicores (`250m`) or cores, memory in `Mi`/`Gi`. */
export interface Quantities {
  readonly cpu: string
  readonly memory: string
}

/** Platform concerns an app service needs before it can become ready, or other app services it calls. */
export type Dependency = 'database' | 'discovery' | 'tracing' | 'logging' | AppServiceName

export interface AppService {
  readonly name: AppServiceName
  /** Port the service listens on (and registers in Consul with). */
  readonly port: number
  readonly replicas: number
  /** Every variable the platform sets; names are the services' own (README's configuration table). */
  readonly env: Readonly<Record<string, EnvSource>>
  readonly probes: {
    /** The process answers: restart it when this fails. */
    readonly liveness: HttpProbe
    /** Database reachable and not draining: send traffic only while this passes. */
    readonly readiness: HttpProbe
    /** Allowance for migrations at start (Docker: the healthcheck's start period). */
    readonly startup: HttpProbe
  }
  readonly dependsOn: readonly Dependency[]
  readonly resources: { readonly requests: Quantities; readonly limits: Quantities }
  readonly shutdown: {
    /** After SIGTERM the instance turns unready, leaves Consul and waits this long before closing. */
    readonly drainDelayMs: number
    /** Hard deadline of the whole shutdown inside the service. */
    readonly timeoutMs: number
    /** What the runtime waits after SIGTERM before SIGKILL: above `timeoutMs`. */
    readonly gracePeriodSeconds: number
    /**
     * Kubernetes only: a `preStop` pause before SIGTERM, so that the endpoint removal has reached
     * Traefik and kube-proxy before the process starts draining. Kubernetes counts it inside the
     * pod's grace period, so the pod's `terminationGracePeriodSeconds` is this plus
     * `gracePeriodSeconds`.
     */
    readonly preStopSeconds: number
  }
  /** Path of the Prometheus metrics on `port`. */
  readonly metricsPath: string
  /** Directories the process writes to (Kubernetes: emptyDir volumes under a read-only root filesystem). */
  readonly scratchPaths: readonly string[]
  /** The PostgreSQL database this service owns, and the role it logs in as. */
  readonly database?: { readonly name: string; readonly role: string }
  /** Published at the edge through Traefik (the Consul tags carry the router). */
  readonly ingress?: { readonly routerRule: string }
}

export interface ModelSettings {
  /** Instances of every service of the catalog. */
  readonly replicas: Readonly<Record<AppServiceName, number>>
  readonly logLevel: string
  /** The gateway's /docs page (default on). */
  readonly apiDocs?: boolean
}

const DRAIN_DELAY_MS = 5000
/**
 * Everything at the edge goes to the gateway but its operational paths: metrics and probes are
 * for Prometheus, Consul and the kubelet, which call each instance directly. The catalog holds
 * it; the gateway's own default ROUTER_RULE is this rule (a test keeps them equal).
 */
export const GATEWAY_ROUTER_RULE: string = catalogEntry('gateway').routerRule ?? ''
const SHUTDOWN_TIMEOUT_MS = 25_000

/** Variables of a service's environment read by Node itself or the C library under it, not by the service's config. */
export const RUNTIME_VARIABLES: readonly string[] = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX']

/**
 * glibc's malloc keeps up to eight arenas per core, one more for each thread that allocates while
 * the others hold theirs (V8's workers, libuv's pool), and what is freed in one stays there. One
 * event loop needs two: the gateway's RSS after 20 s of saturation was 145–148 MiB with them
 * against 155–159 MiB without, in three of four interleaved pairs, at the same CPU per request.
 * The variable is glibc's own (infra/UPSTREAM.md, the node image's row).
 */
const MALLOC_ARENA_MAX = '2'

/** Every app container's requests and limits. */
const RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } } as const

const probe = (path: string, failureThreshold: number): HttpProbe => ({ path, periodSeconds: 5, timeoutSeconds: 3, failureThreshold })

/** The platform's app services, in start order: one per catalog entry. */
export function appServices(settings: ModelSettings, catalog: Catalog = CATALOG): AppService[] {
  return catalog.map((entry) => appService(entry, settings))
}

function appService(entry: CatalogEntry, settings: ModelSettings): AppService {
  const replicas = settings.replicas[entry.name]
  if (replicas === undefined)
    throw new Error(`appServices: no replica count for ${entry.name} (settings.replicas has ${Object.keys(settings.replicas).join(', ')})`)
  const env: Record<string, EnvSource> = {
    PORT: value(String(entry.port)),
    LOG_LEVEL: value(settings.logLevel),
    SERVICE_ADDRESS: { kind: 'instance-address' },
    CONSUL_HTTP_ADDR: { kind: 'endpoint', endpoint: 'consul-http' },
    CONSUL_HTTP_TOKEN: { kind: 'secret', secret: 'consul-token' },
    OTEL_EXPORTER_OTLP_ENDPOINT: { kind: 'endpoint', endpoint: 'otlp-http' },
    DRAIN_DELAY_MS: value(String(DRAIN_DELAY_MS)),
    SHUTDOWN_TIMEOUT_MS: value(String(SHUTDOWN_TIMEOUT_MS)),
    NODE_OPTIONS: value(nodeOptions(mebibytes(RESOURCES.limits.memory))),
    MALLOC_ARENA_MAX: value(MALLOC_ARENA_MAX),
    ...(entry.database === undefined ? {} : { DATABASE_URL: { kind: 'secret', secret: 'database-url' } }),
    ...(entry.routerRule === undefined
      ? {}
      : {
          // Behind Traefik: X-Forwarded-For carries the client, so rate limiting keys on it.
          TRUST_PROXY: value('true'),
          ROUTER_RULE: value(entry.routerRule),
          API_DOCS: value(String(settings.apiDocs ?? true)),
        }),
  }
  return {
    name: entry.name,
    port: entry.port,
    replicas,
    env,
    probes: {
      liveness: probe('/health/live', 3),
      readiness: probe('/health/ready', 3),
      // Migrations run at start under an advisory lock: allow a minute.
      startup: probe('/health/ready', 12),
    },
    // Its database and the services it calls must be up before it can become ready.
    dependsOn: [...(entry.database === undefined ? [] : ['database' as const]), 'discovery', 'tracing', 'logging', ...entry.calls],
    resources: RESOURCES,
    shutdown: {
      drainDelayMs: DRAIN_DELAY_MS,
      timeoutMs: SHUTDOWN_TIMEOUT_MS,
      gracePeriodSeconds: SHUTDOWN_TIMEOUT_MS / 1000 + 5,
      preStopSeconds: DRAIN_DELAY_MS / 1000,
    },
    metricsPath: '/metrics',
    // Node and its libraries (undici, the OpenTelemetry exporter) write temporary files only here.
    scratchPaths: ['/tmp'],
    ...(entry.database === undefined ? {} : { database: { ...entry.database } }),
    ...(entry.routerRule === undefined ? {} : { ingress: { routerRule: entry.routerRule } }),
  }
}

function value(text: string): EnvSource {
  return { kind: 'value', value: text }
}

/**
 * What a service's process runs with beneath its config (`RUNTIME_VARIABLES`: V8's sizing, the
 * allocator's arenas), as the stacks set it: what the bench and the capacity check give the
 * processes they start.
 */
export function runtimeEnv(service: AppService): Record<string, string> {
  return Object.fromEntries(
    RUNTIME_VARIABLES.map((name) => {
      const source = service.env[name]
      if (source?.kind !== 'value') throw new Error(`${service.name}: the model sets no ${name} value`)
      return [name, source.value]
    }),
  )
}

/** Every secret a service's environment refers to. */
export function secretsOf(service: AppService): SecretName[] {
  return [...new Set(Object.values(service.env).flatMap((source) => (source.kind === 'secret' ? [source.secret] : [])))]
}

/**
 * V8's heap sized to a container's memory limit (MiB): the old space gets 5/8 of it, the rest is
 * left to code, the young generation (semi-spaces of 8 MiB), buffers and native memory. Without
 * limits V8 sizes its heap from the memory it sees and lets garbage pile up in the old space long
 * before it collects: a gateway under load grew to 300 MiB that way, and to about 150 MiB with
 * these (npm run bench reads them from here).
 */
export function nodeOptions(memoryLimitMiB: number): string {
  if (!Number.isInteger(memoryLimitMiB) || memoryLimitMiB < 128)
    throw new Error(`a Node service needs at least 128 MiB of memory (got ${memoryLimitMiB})`)
  return `--max-old-space-size=${Math.floor((memoryLimitMiB * 5) / 8)} --max-semi-space-size=8`
}

/** `500m` → 0.5, `2` → 2. */
export function cpuCores(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(quantity)
  if (match === null) throw new Error(`cpu quantity must be like 500m or 2 (got ${JSON.stringify(quantity)})`)
  return match[2] === 'm' ? Number(match[1]) / 1000 : Number(match[1])
}

/** `256Mi` → 256, `1Gi` → 1024 (MiB, as Docker's memory limit takes it). */
export function mebibytes(quantity: string): number {
  const match = /^([0-9]+)(Mi|Gi)$/.exec(quantity)
  if (match === null) throw new Error(`memory quantity must be like 256Mi or 1Gi (got ${JSON.stringify(quantity)})`)
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1)
}

// --- What each renderer derives from a service ----------------------------------------------
// Both renderers need these, and a second copy in one of them is how environments drift: they
// stay here, plain and tested, and the renderers only map the results onto their resources.

/** The platform concerns a service can depend on; any other dependency names an app service. */
export const PLATFORM_DEPENDENCIES = ['database', 'discovery', 'tracing', 'logging'] as const

export type PlatformDependency = (typeof PLATFORM_DEPENDENCIES)[number]

export function isPlatformDependency(dependency: string): dependency is PlatformDependency {
  return (PLATFORM_DEPENDENCIES as readonly string[]).includes(dependency)
}

/** What a renderer has for each dependency: the platform's pieces, and the app services made so far. */
export interface DependencyTargets<T> {
  readonly platform: Readonly<Partial<Record<PlatformDependency, readonly T[]>>>
  readonly services: Readonly<Record<string, T>>
}

/**
 * What a service waits for, in the order it lists its dependencies, and which of them nothing was
 * given for (a platform piece left out, or an app service not made before it).
 */
export function resolveDependencies<T>(
  service: AppService,
  targets: DependencyTargets<T>,
): { readonly resolved: T[]; readonly unresolved: string[] } {
  const resolved: T[] = []
  const unresolved: string[] = []
  for (const dependency of service.dependsOn) {
    const found = isPlatformDependency(dependency)
      ? targets.platform[dependency]
      : Object.hasOwn(targets.services, dependency)
        ? [targets.services[dependency]!]
        : undefined
    if (found === undefined) unresolved.push(dependency)
    else resolved.push(...found)
  }
  return { resolved, unresolved }
}

/** The secrets a service's environment refers to that `provided` lacks. */
export function missingSecrets(service: AppService, provided: Readonly<Partial<Record<SecretName, unknown>>>): SecretName[] {
  return secretsOf(service).filter((secret) => provided[secret] === undefined)
}

/**
 * What a renderer's component needs to render a service: its image, every secret its
 * environment refers to, and a target for every dependency. Returns the resolved dependencies,
 * or the first problem as one line for the component's `ResourceError`.
 */
export function checkServiceInputs<T, I>(
  service: AppService,
  given: {
    readonly image: I | undefined
    readonly secrets: Readonly<Partial<Record<SecretName, unknown>>>
    readonly targets: DependencyTargets<T>
  },
): { readonly image: I; readonly dependsOn: T[] } | { readonly problem: string } {
  if (given.image === undefined) return { problem: `no image for ${service.name}` }
  const missing = missingSecrets(service, given.secrets)
  if (missing.length > 0) {
    return { problem: `${service.name} needs the secret ${missing.join(' and the secret ')}, which the stack did not provide` }
  }
  const { resolved, unresolved } = resolveDependencies(service, given.targets)
  if (unresolved.length > 0) {
    return {
      problem: `${service.name} depends on ${unresolved.join(', ')}: given neither as a platform component nor as a service made before it`,
    }
  }
  return { image: given.image, dependsOn: resolved }
}

/** How a renderer turns each kind of source into its own form of a value. */
export interface EnvResolver<T> {
  readonly value: (text: string) => T
  readonly secret: (secret: SecretName) => T
  readonly endpoint: (endpoint: EndpointName) => T
  /** The address the instance is reached at (Docker: its container name; Kubernetes: the pod IP). */
  readonly instanceAddress: () => T
}

/** The service's environment in the model's order, each value resolved by the renderer. */
export function resolveEnv<T>(service: AppService, resolver: EnvResolver<T>): [name: string, value: T][] {
  return Object.entries(service.env).map(([name, source]): [string, T] => {
    switch (source.kind) {
      case 'value':
        return [name, resolver.value(source.value)]
      case 'secret':
        return [name, resolver.secret(source.secret)]
      case 'endpoint':
        return [name, resolver.endpoint(source.endpoint)]
      case 'instance-address':
        return [name, resolver.instanceAddress()]
    }
  })
}

/**
 * Seconds a new instance may take to turn ready: the startup probe's period times its failures
 * (Kubernetes runs the probe itself; Docker's healthcheck takes it as its start period).
 */
export function startAllowanceSeconds(service: AppService): number {
  return service.probes.startup.periodSeconds * service.probes.startup.failureThreshold
}

/** The pod's grace period: Kubernetes counts the preStop pause inside it (Docker has no such pause). */
export function terminationGracePeriodSeconds(service: AppService): number {
  return service.shutdown.preStopSeconds + service.shutdown.gracePeriodSeconds
}

/** Requests and limits as numbers: cores and MiB (what Docker takes, and what a budget adds up). */
export function resourceAmounts(service: AppService): {
  readonly cpu: { readonly request: number; readonly limit: number }
  readonly memoryMiB: { readonly request: number; readonly limit: number }
} {
  const { requests, limits } = service.resources
  return {
    cpu: { request: cpuCores(requests.cpu), limit: cpuCores(limits.cpu) },
    memoryMiB: { request: mebibytes(requests.memory), limit: mebibytes(limits.memory) },
  }
}
