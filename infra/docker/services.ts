// The Docker renderer of the service model (infra/model.ts): a container per replica, named
// `<prefix>-<service>-<n>-<8 hex>`, advertising that name to Consul, with the model's environment
// resolved for Docker, its readiness probe as the healthcheck, its limits, its grace period,
// and its logs sent to Logstash through Docker's gelf driver.
//
// Updates: the hex suffix is a RandomId keyed on a digest of the container's inputs, so a new
// image or environment gives each replica a new name and Pulumi's create-first replacement works
// (no "name already in use"): the new replica starts and turns healthy before the next one is
// created, and the old ones are stopped at the end of the update, deregistering from Consul
// during their grace period while the new ones already serve.
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import { cpuCores, mebibytes, secretsOf, type AppService, type Dependency, type EndpointName, type EnvSource, type SecretName } from '../model.ts'
import { componentLabels, platformContainer, replacementDigest, type Healthcheck, type PlatformContainerArgs } from './container.ts'

export interface AppServicesArgs {
  readonly services: readonly AppService[]
  /** Image reference per service. */
  readonly images: Readonly<Record<string, pulumi.Input<string>>>
  readonly network: pulumi.Input<string>
  readonly namePrefix: string
  readonly stack: string
  /** URL of each platform endpoint inside the network. */
  readonly endpoints: Readonly<Record<EndpointName, pulumi.Input<string>>>
  /** Secret values per service; every secret a service's env refers to must be here. */
  readonly secrets: Readonly<Record<string, Partial<Record<SecretName, pulumi.Input<string>>>>>
  /** What each platform dependency is, for start order. */
  readonly platform: Readonly<Partial<Record<Exclude<Dependency, AppService['name']>, readonly pulumi.Resource[]>>>
  /** Docker's gelf log driver target, as the daemon reaches it. */
  readonly gelfAddress: pulumi.Input<string>
}

/** The fixed part of each replica's container name, `<prefix>-<service>-<n>`; the name adds `-<8 hex>`. */
export function replicaNames(namePrefix: string, service: AppService): string[] {
  return Array.from({ length: service.replicas }, (_, index) => `${namePrefix}-${service.name}-${index + 1}`)
}

/** Docker's healthcheck from the model's readiness and startup probes (node is in the image; curl is not). */
export function healthcheckOf(service: AppService): Healthcheck {
  const { readiness, startup } = service.probes
  const url = `http://127.0.0.1:${service.port}${readiness.path}`
  return {
    test: ['CMD', 'node', '-e', `fetch('${url}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
    interval: `${readiness.periodSeconds}s`,
    timeout: `${readiness.timeoutSeconds}s`,
    retries: readiness.failureThreshold,
    startPeriod: `${startup.periodSeconds * startup.failureThreshold}s`,
  }
}

export class AppServices extends pulumi.ComponentResource {
  /** Container names per service: also the addresses the replicas register in Consul. */
  readonly containerNames: Readonly<Record<string, readonly pulumi.Output<string>[]>>

  constructor(name: string, args: AppServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:apps:DockerServices', name, {}, opts)
    const containers = new Map<string, docker.Container[]>()
    const names: Record<string, pulumi.Output<string>[]> = {}

    for (const service of args.services) {
      const image = args.images[service.name]
      if (image === undefined) throw new pulumi.ResourceError(`no image for ${service.name}`, this)
      const secrets = args.secrets[service.name] ?? {}
      for (const secret of secretsOf(service)) {
        if (secrets[secret] === undefined) throw new pulumi.ResourceError(`${service.name} needs the secret ${secret}, which the stack did not provide`, this)
      }
      const dependsOn = service.dependsOn.flatMap((dependency): pulumi.Resource[] => {
        const platform = args.platform[dependency as Exclude<Dependency, AppService['name']>]
        if (platform !== undefined) return [...platform]
        const upstream = containers.get(dependency)
        if (upstream === undefined) throw new pulumi.ResourceError(`${service.name} depends on ${dependency}, which is neither a platform component given nor a service declared before it`, this)
        return upstream
      })

      const spec = (containerName: pulumi.Input<string>): PlatformContainerArgs => ({
        containerName,
        alias: containerName,
        image,
        network: args.network,
        labels: { ...componentLabels(args.stack, 'app'), 'platform.service': service.name },
        env: renderEnv(service.env, (source) => {
          switch (source.kind) {
            case 'value':
              return source.value
            case 'endpoint':
              return args.endpoints[source.endpoint]
            case 'secret':
              return pulumi.secret(secrets[source.secret]!)
            case 'instance-address':
              return containerName
          }
        }),
        healthcheck: healthcheckOf(service),
        waitHealthy: true,
        waitTimeoutSeconds: service.probes.startup.periodSeconds * service.probes.startup.failureThreshold + 60,
        gelfAddress: args.gelfAddress,
        memoryMiB: { limit: mebibytes(service.resources.limits.memory), reservation: mebibytes(service.resources.requests.memory) },
        cpus: cpuCores(service.resources.limits.cpu),
        stopGraceSeconds: service.shutdown.gracePeriodSeconds,
      })

      const replicas: docker.Container[] = []
      for (const base of replicaNames(args.namePrefix, service)) {
        const resourceName = `${name}-${base.slice(args.namePrefix.length + 1)}`
        const suffix = new random.RandomId(resourceName, { byteLength: 4, keepers: { inputs: replacementDigest(spec(base)) } }, { parent: this })
        const previous = replicas.at(-1)
        replicas.push(
          platformContainer(resourceName, spec(pulumi.interpolate`${base}-${suffix.hex}`), {
            parent: this,
            // One replica after the other: the next starts once this one is healthy.
            dependsOn: previous === undefined ? dependsOn : [...dependsOn, previous],
          }),
        )
      }
      containers.set(service.name, replicas)
      names[service.name] = replicas.map((replica) => replica.name)
    }
    this.containerNames = names
    this.registerOutputs({ containerNames: names })
  }
}

/** `NAME=value` entries in the model's order; any secret value makes the whole list secret. */
function renderEnv(env: Readonly<Record<string, EnvSource>>, resolve: (source: EnvSource) => pulumi.Input<string>): pulumi.Output<string>[] {
  return Object.entries(env).map(([key, source]) => pulumi.interpolate`${key}=${resolve(source)}`)
}
