// The Kubernetes renderer (prod): NOT WRITTEN YET — the next issue. It reads the same
// RenderInput as the Docker renderer (infra/docker/index.ts): per AppService a Deployment
// (replicas, the env map with `secret` sources as secretKeyRefs and `instance-address` as the
// pod IP, liveness/readiness/startup probes, requests/limits, terminationGracePeriodSeconds
// from shutdown.gracePeriodSeconds), a Service on `port`, and for `ingress` a Traefik route;
// plus the platform charts. The images are already built and pushed by infra/images.ts.
import * as pulumi from '@pulumi/pulumi'
import type { PlatformOutputs, RenderInput } from '../platform.ts'

export function deployKubernetes(input: RenderInput): PlatformOutputs {
  pulumi.log.warn(
    `target kubernetes: the Kubernetes renderer is not implemented yet; this update only builds and pushes the ${input.services.length} service images to ${input.config.registry?.server ?? 'the registry'}`,
  )
  return {}
}
