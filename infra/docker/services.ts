// The Docker renderer of the service model (infra/model.ts): one `DockerService` component per
// app service, a container per replica, named `<prefix>-<service>-<n>-<8 hex>`, advertising that
// name to Consul, with the model's environment resolved for Docker, its readiness probe as the
// healthcheck, its limits, its grace period, and its logs sent to Logstash through Docker's gelf
// driver. The caller (index.ts) makes one per service in the model's order and hands each the
// components of the services it calls.
//
// Updates: the hex suffix is a RandomId keyed on a digest of the container's inputs, so a new
// image or environment gives each replica a new name and Pulumi's create-first replacement works
// (no "name already in use"): the new replica starts and turns healthy before the next one is
// created, and the old ones are stopped at the end of the update, deregistering from Consul
// during their grace period while the new ones already serve.
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import {
  checkServiceInputs,
  resolveEnv,
  resourceAmounts,
  startAllowanceSeconds,
  type AppService,
  type EndpointName,
  type PlatformDependency,
  type SecretName,
} from '../model.ts'
import { componentLabels, platformContainer, replacementDigest, type Healthcheck, type PlatformContainerArgs } from './container.ts'

/**
 * Type of the one component that made every app service's replicas before each service had a
 * component of its own. Their URNs carried it, so they alias to it (see `formerParentName`).
 */
export const FORMER_APPS_TYPE = 'microservice-platform:apps:DockerServices'

export interface DockerServiceArgs {
  readonly service: AppService
  /** The service's image reference; a missing one is refused. */
  readonly image: pulumi.Input<string> | undefined
  readonly network: pulumi.Input<string>
  readonly namePrefix: string
  readonly stack: string
  /** URL of each platform endpoint inside the network. */
  readonly endpoints: Readonly<Record<EndpointName, pulumi.Input<string>>>
  /** Secret values; every secret the service's env refers to must be here. */
  readonly secrets: Readonly<Partial<Record<SecretName, pulumi.Input<string>>>>
  /** What each platform dependency is, for start order. */
  readonly platform: Readonly<Partial<Record<PlatformDependency, readonly pulumi.Resource[]>>>
  /** The components of the app services made before this one, by service name. */
  readonly upstreams: Readonly<Record<string, pulumi.Resource>>
  /** Docker's gelf log driver target, as the daemon reaches it. */
  readonly gelfAddress: pulumi.Input<string>
  /**
   * Name of the top-level `FORMER_APPS_TYPE` component that made the replicas before: aliasing to
   * it keeps their URNs (a changed parent is a new URN to the engine), so a stack made then keeps
   * its RandomIds, hence its container names, and its containers.
   */
  readonly formerParentName?: string
}

/** The fixed part of each replica's container name, `<prefix>-<service>-<n>`; the name adds `-<8 hex>`. */
export function replicaNames(namePrefix: string, service: AppService): string[] {
  return Array.from({ length: service.replicas }, (_, index) => `${namePrefix}-${service.name}-${index + 1}`)
}

/** Docker's healthcheck from the model's readiness and startup probes (node is in the image; curl is not). */
export function healthcheckOf(service: AppService): Healthcheck {
  const { readiness } = service.probes
  const url = `http://127.0.0.1:${service.port}${readiness.path}`
  return {
    test: ['CMD', 'node', '-e', `fetch('${url}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
    interval: `${readiness.periodSeconds}s`,
    timeout: `${readiness.timeoutSeconds}s`,
    retries: readiness.failureThreshold,
    startPeriod: `${startAllowanceSeconds(service)}s`,
  }
}

export class DockerService extends pulumi.ComponentResource {
  /** The replicas' container names: also the addresses they register in Consul. */
  readonly containerNames: readonly pulumi.Output<string>[]

  constructor(name: string, args: DockerServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:apps:DockerService', name, {}, opts)
    const { service } = args
    const checked = checkServiceInputs(service, {
      image: args.image,
      secrets: args.secrets,
      targets: { platform: args.platform, services: args.upstreams },
    })
    if ('problem' in checked) throw new pulumi.ResourceError(checked.problem, this)
    const { image, dependsOn } = checked
    const formerParent = args.formerParentName === undefined ? undefined : pulumi.createUrn(args.formerParentName, FORMER_APPS_TYPE)
    const child = { parent: this, ...(formerParent === undefined ? {} : { aliases: [{ parent: formerParent }] }) }
    const amounts = resourceAmounts(service)

    const spec = (containerName: pulumi.Input<string>): PlatformContainerArgs => ({
      containerName,
      alias: containerName,
      image,
      network: args.network,
      labels: { ...componentLabels(args.stack, 'app'), 'platform.service': service.name },
      // `NAME=value` entries; any secret value makes the whole list secret.
      env: resolveEnv<pulumi.Input<string>>(service, {
        value: (text) => text,
        endpoint: (endpoint) => args.endpoints[endpoint],
        secret: (secret) => pulumi.secret(args.secrets[secret]!),
        instanceAddress: () => containerName,
      }).map(([key, value]) => pulumi.interpolate`${key}=${value}`),
      healthcheck: healthcheckOf(service),
      waitHealthy: true,
      waitTimeoutSeconds: startAllowanceSeconds(service) + 60,
      gelfAddress: args.gelfAddress,
      memoryMiB: { limit: amounts.memoryMiB.limit, reservation: amounts.memoryMiB.request },
      cpus: amounts.cpu.limit,
      stopGraceSeconds: service.shutdown.gracePeriodSeconds,
    })

    const replicas: docker.Container[] = []
    replicaNames(args.namePrefix, service).forEach((base, index) => {
      const resourceName = `${name}-${index + 1}`
      const suffix = new random.RandomId(resourceName, { byteLength: 4, keepers: { inputs: replacementDigest(spec(base)) } }, child)
      const previous = replicas.at(-1)
      replicas.push(
        platformContainer(resourceName, spec(pulumi.interpolate`${base}-${suffix.hex}`), {
          ...child,
          // One replica after the other: the next starts once this one is healthy.
          dependsOn: previous === undefined ? dependsOn : [...dependsOn, previous],
        }),
      )
    })
    this.containerNames = replicas.map((replica) => replica.name)
    this.registerOutputs({ containerNames: this.containerNames })
  }
}
