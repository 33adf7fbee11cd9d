// How a person reaches what runs inside the cluster: a Service behind `kubectl port-forward`
// (nothing but the gateway and the Traefik dashboard is exposed), with the local URL to open.
import * as pulumi from '@pulumi/pulumi'

/** A Service inside the cluster that serves a UI or an API. */
export interface ClusterService {
  readonly namespace: pulumi.Input<string>
  /** The Service's name. */
  readonly service: string
  /** The Service's port. */
  readonly port: number
  readonly scheme: 'http' | 'https'
  /** Path of the UI, e.g. `/ui/`; default `/`. */
  readonly path?: string
}

/** The exact command that forwards `localPort` on 127.0.0.1 to the Service. */
export function portForwardCommand(target: ClusterService, localPort: number): pulumi.Output<string> {
  return pulumi.interpolate`kubectl --namespace ${target.namespace} port-forward service/${target.service} ${localPort}:${target.port}`
}

/** The URL to open while the port-forward runs. */
export function forwardedUrl(target: ClusterService, localPort: number): pulumi.Output<string> {
  return pulumi.output(`${target.scheme}://127.0.0.1:${localPort}${target.path ?? '/'}`)
}
