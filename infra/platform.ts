// What a renderer takes and gives: the Docker renderer (dev) and the Kubernetes renderer (prod)
// both turn the validated stack config, the service model and the built images into the same
// set of stack outputs.
import type * as pulumi from '@pulumi/pulumi'
import type { StackConfig } from './config.ts'
import type { AppService } from './model.ts'

export interface RenderInput {
  readonly config: StackConfig
  readonly services: readonly AppService[]
  /** Image reference per app service. */
  readonly images: Readonly<Record<string, pulumi.Output<string>>>
}

/** The stack outputs: URLs to open, and the generated credentials as one secret. */
export interface PlatformOutputs {
  /** The gateway, through the edge proxy. */
  readonly gatewayUrl?: pulumi.Output<string>
  readonly traefikDashboardUrl?: pulumi.Output<string>
  readonly consulUiUrl?: pulumi.Output<string>
  readonly grafanaUrl?: pulumi.Output<string>
  /** Dashboard title → URL. */
  readonly grafanaDashboardUrls?: pulumi.Output<Record<string, string>>
  readonly kibanaUrl?: pulumi.Output<string>
  readonly jaegerUrl?: pulumi.Output<string>
  readonly prometheusUrl?: pulumi.Output<string>
  /**
   * How to reach what is not published (kubernetes): name → the exact command to run first,
   * e.g. the `kubectl port-forward` that makes `grafanaUrl` answer.
   */
  readonly access?: pulumi.Output<Record<string, string>>
  /** Generated credentials (a secret output): component → user and password or token. */
  readonly credentials?: pulumi.Output<Credentials>
}

export type Credentials = Record<string, Record<string, string>>

export type Renderer = (input: RenderInput) => PlatformOutputs
