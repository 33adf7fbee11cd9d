// The three namespaces of the prod stack, and the credentials the app namespace pulls the
// service images with. The app namespace enforces the `restricted` Pod Security Standard; the
// other two cannot: Filebeat reads the nodes' container logs through hostPath volumes and the
// node exporter shares the host's network and PID namespace (observability), and Consul's
// client agents listen on host ports (system). They are labelled `privileged` on purpose, so the
// choice is visible rather than inherited from a cluster default.
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import { podSecurityLabels } from './security.ts'

export interface NamespacesArgs {
  readonly apps: string
  readonly observability: string
  readonly system: string
  readonly stack: string
  /** Where the service images are pulled from, and as whom. */
  readonly registry: { readonly server: string; readonly username: string; readonly password: pulumi.Input<string> }
}

/**
 * A namespace as the components take it: its name for composing DNS names, and the Namespace
 * object's name output for `metadata.namespace`, which makes every object in it wait for it.
 */
export interface NamespaceRef {
  readonly name: string
  readonly output: pulumi.Output<string>
}

/** Name of the image pull Secret in the app namespace. */
export const REGISTRY_PULL_SECRET = 'registry-credentials'

export class Namespaces extends pulumi.ComponentResource {
  readonly apps: k8s.core.v1.Namespace
  readonly observability: k8s.core.v1.Namespace
  readonly system: k8s.core.v1.Namespace
  /** The image pull Secret in the app namespace. */
  readonly pullSecret: k8s.core.v1.Secret
  readonly refs: { readonly apps: NamespaceRef; readonly observability: NamespaceRef; readonly system: NamespaceRef }

  constructor(name: string, args: NamespacesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:kubernetes:Namespaces', name, {}, opts)
    const namespace = (suffix: string, nsName: string, level: 'restricted' | 'privileged', role: string) =>
      new k8s.core.v1.Namespace(
        `${name}-${suffix}`,
        { metadata: { name: nsName, labels: { ...podSecurityLabels(level), 'platform.stack': args.stack, 'platform.role': role } } },
        { parent: this },
      )
    this.apps = namespace('apps', args.apps, 'restricted', 'apps')
    this.observability = namespace('observability', args.observability, 'privileged', 'observability')
    this.system = namespace('system', args.system, 'privileged', 'system')
    this.refs = {
      apps: { name: args.apps, output: this.apps.metadata.name },
      observability: { name: args.observability, output: this.observability.metadata.name },
      system: { name: args.system, output: this.system.metadata.name },
    }

    const dockerConfig = pulumi.output(args.registry.password).apply((password) =>
      JSON.stringify({
        auths: {
          [args.registry.server]: {
            username: args.registry.username,
            password,
            auth: Buffer.from(`${args.registry.username}:${password}`).toString('base64'),
          },
        },
      }),
    )
    this.pullSecret = new k8s.core.v1.Secret(
      `${name}-registry`,
      {
        metadata: { name: REGISTRY_PULL_SECRET, namespace: this.apps.metadata.name },
        type: 'kubernetes.io/dockerconfigjson',
        stringData: { '.dockerconfigjson': pulumi.secret(dockerConfig) },
      },
      { parent: this },
    )
    this.registerOutputs({})
  }
}
