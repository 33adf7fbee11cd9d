// The Docker renderer of the service model (infra/model.ts): a container per replica, named
// `<prefix>-<service>-<n>`, advertising that name to Consul, with the model's environment
// resolved for Docker, its readiness probe as the healthcheck, its limits, its grace period,
// and its logs sent to Logstash through Docker's gelf driver.
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'
import { cpuCores, mebibytes, secretsOf, type AppService, type Dependency, type EndpointName, type EnvSource, type SecretName } from '../model.ts'
import { componentLabels, platformContainer, type Healthcheck } from './container.ts'

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

/** The container names of one service's replicas: also the addresses they register in Consul. */
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
  /** Container names per service. */
  readonly containerNames: Readonly<Record<string, readonly string[]>>

  constructor(name: string, args: AppServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:apps:DockerServices', name, {}, opts)
    const containers = new Map<string, docker.Container[]>()
    const names: Record<string, string[]> = {}

    for (const service of args.services) {
      const image = args.images[service.name]
      if (image === undefined) throw new Error(`AppServices: no image for ${service.name}`)
      const secrets = args.secrets[service.name] ?? {}
      for (const secret of secretsOf(service)) {
        if (secrets[secret] === undefined) throw new Error(`AppServices: ${service.name} needs the secret ${secret}, which the stack did not provide`)
      }
      const dependsOn = service.dependsOn.flatMap((dependency): pulumi.Resource[] => {
        const platform = args.platform[dependency as Exclude<Dependency, AppService['name']>]
        if (platform !== undefined) return [...platform]
        const upstream = containers.get(dependency)
        if (upstream === undefined) throw new Error(`AppServices: ${service.name} depends on ${dependency}, which is neither a platform component given nor a service declared before it`)
        return upstream
      })

      const replicas = replicaNames(args.namePrefix, service).map((containerName) =>
        platformContainer(
          `${name}-${containerName.slice(args.namePrefix.length + 1)}`,
          {
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
          },
          { parent: this, dependsOn },
        ),
      )
      containers.set(service.name, replicas)
      names[service.name] = replicaNames(args.namePrefix, service)
    }
    this.containerNames = names
    this.registerOutputs({ containerNames: names })
  }
}

/** `NAME=value` entries in the model's order; any secret value makes the whole list secret. */
function renderEnv(env: Readonly<Record<string, EnvSource>>, resolve: (source: EnvSource) => pulumi.Input<string>): pulumi.Output<string>[] {
  return Object.entries(env).map(([key, source]) => pulumi.interpolate`${key}=${resolve(source)}`)
}
