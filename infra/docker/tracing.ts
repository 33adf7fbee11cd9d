// Tracing: Jaeger v2 (all-in-one, in-memory storage) receives OTLP from the services on
// http://jaeger:4318 and serves its UI on 127.0.0.1. Traces live as long as the container.
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'
import { componentLabels, platformContainer, wgetCheck } from './container.ts'

export interface TracingArgs {
  /** e.g. `jaegertracing/jaeger:2.19.0`. */
  readonly image: string
  readonly network: pulumi.Input<string>
  readonly namePrefix: string
  readonly stack: string
  /** Port of the UI on 127.0.0.1. */
  readonly hostPort: number
}

/** The healthcheckv2 extension's HTTP port in Jaeger's all-in-one configuration. */
const HEALTH_PORT = 13133

export class Tracing extends pulumi.ComponentResource {
  /** OTLP/HTTP base URL inside the network (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly otlpHttpEndpoint: string
  /** The query service inside the network (Grafana's data source). */
  readonly queryUrl: string
  readonly uiUrl: pulumi.Output<string>
  readonly container: docker.Container

  constructor(name: string, args: TracingArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:tracing:Jaeger', name, {}, opts)
    const alias = 'jaeger'
    // The image is Alpine-based (busybox wget is there) and its all-in-one configuration runs the
    // healthcheckv2 extension on 13133, whose /status answers 200 once the pipelines are up: the
    // services start after it, so their first spans are not dropped.
    this.container = platformContainer(
      name,
      {
        containerName: `${args.namePrefix}-jaeger`,
        alias,
        image: args.image,
        network: args.network,
        labels: componentLabels(args.stack, 'tracing'),
        ports: [{ internal: 16686, external: args.hostPort }],
        memoryMiB: { limit: 512 },
        healthcheck: { test: wgetCheck(`http://127.0.0.1:${HEALTH_PORT}/status`) },
        waitHealthy: true,
      },
      { parent: this },
    )
    this.otlpHttpEndpoint = `http://${alias}:4318`
    this.queryUrl = `http://${alias}:16686`
    this.uiUrl = pulumi.output(`http://127.0.0.1:${args.hostPort}`)
    this.registerOutputs({ uiUrl: this.uiUrl })
  }
}
