// Discovery on Kubernetes: Consul from the official chart (three servers, ACLs managed by the
// chart, TLS everywhere with HTTP off) plus a client agent on every node.
//
// The app services keep registering themselves, as in dev: each pod talks to the client agent
// on its own node (`https://$(HOST_IP):8501`, the agent's host port), which runs the HTTP check
// on /health/ready and drops the instance the moment it deregisters while draining. The services
// that call others keep discovering through `/v1/health/service/<name>?passing`. Catalog sync
// (Kubernetes Services → Consul) is off: the services register whenever CONSUL_HTTP_ADDR is set,
// so a synced copy of their Services would list every pod twice, with Kubernetes readiness instead
// of the Consul check and the sync loop's delay on the way out. The app Services say so with the
// `consul.hashicorp.com/service-sync: "false"` annotation, should sync ever be turned on.
//
// Pulumi owns the secrets the chart would otherwise invent, so that nothing it needs is only
// readable from the cluster after the fact: the CA (certificate and key; the chart's tls-init
// signs the server and client certificates with it, the app pods trust it) and the bootstrap
// (initial management) token. With that token a one-shot Job creates, per app service, an ACL
// policy (the same rules as dev) and a token whose accessor and secret IDs Pulumi generated.
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import * as tls from '@pulumi/tls'
import type { ChartVersions } from '../config.ts'
import { serviceRules } from '../access.ts'
import { chartRelease } from './charts.ts'
import type { ClusterService } from './access.ts'
import type { NamespaceRef } from './namespaces.ts'
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from './security.ts'

/** Typed values of the hashicorp/consul chart: the parts this stack sets. */
export interface ConsulValues {
  readonly global: {
    readonly name: string
    readonly datacenter: string
    readonly image: string
    readonly logJSON: boolean
    readonly tls: {
      readonly enabled: boolean
      readonly enableAutoEncrypt: boolean
      readonly httpsOnly: boolean
      readonly verify: boolean
      readonly caCert: { readonly secretName: string; readonly secretKey: string }
      readonly caKey: { readonly secretName: string; readonly secretKey: string }
    }
    readonly acls: {
      readonly manageSystemACLs: boolean
      readonly bootstrapToken: { readonly secretName: string; readonly secretKey: string }
    }
    readonly gossipEncryption: { readonly autoGenerate: boolean }
  }
  readonly server: {
    readonly replicas: number
    readonly bootstrapExpect: number
    readonly storage: string
    readonly storageClass: string | null
    readonly resources: k8s.types.input.core.v1.ResourceRequirements
  }
  readonly client: { readonly enabled: boolean; readonly grpc: boolean; readonly resources: k8s.types.input.core.v1.ResourceRequirements }
  readonly ui: { readonly enabled: boolean; readonly service: { readonly type: 'ClusterIP' } }
  readonly connectInject: { readonly enabled: boolean }
  readonly syncCatalog: { readonly enabled: boolean }
  readonly dns: { readonly enabled: boolean }
}

export interface DiscoveryArgs {
  readonly versions: ChartVersions
  /** Namespace of Consul. */
  readonly namespace: NamespaceRef
  /** Namespace of the app services: their tokens and the CA certificate are copied there. */
  readonly appsNamespace: NamespaceRef
  /** The Consul image, the same as dev's (`images.consul`). */
  readonly image: string
  /** App services that register themselves. */
  readonly services: readonly string[]
  readonly storageClass?: string
  /** Default 3: a quorum survives one server's loss. */
  readonly servers?: number
  /** Default `dc1`, as in dev. */
  readonly datacenter?: string
}

/** Helm release name and `global.name`: the chart's objects are `consul-server`, `consul-ui`, `consul-client`. */
export const CONSUL_NAME = 'consul'
/** The client agents' HTTPS port, published on every node. */
export const CONSUL_CLIENT_HTTPS_PORT = 8501
/** Secret (in the app namespace too) holding the Consul CA certificate as `tls.crt`. */
export const CONSUL_CA_SECRET = 'consul-ca-cert'
const CONSUL_CA_KEY_SECRET = 'consul-ca-key'
const BOOTSTRAP_SECRET = 'consul-bootstrap-acl-token'
const CLIENT_TOKENS_SECRET = 'consul-app-tokens'

/** Secret in the app namespace holding a service's Consul token as `token`. */
export function consulTokenSecretName(service: string): string {
  return `consul-token-${service}`
}

/** The environment variable the ACL Job reads a client's secret ID from. */
function tokenVariable(client: string): string {
  return `TOKEN_${client.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`
}

export interface AclClient {
  readonly name: string
  readonly accessorId: string
}

/**
 * The ACL Job's script: waits for the servers, then per client creates or updates its policy
 * (rules from /acl/<name>.hcl) and creates its token with the given accessor and secret IDs
 * unless it exists. Idempotent, so a replaced Job converges.
 */
export function aclSetupScript(clients: readonly AclClient[]): string {
  for (const client of clients) {
    if (!/^[a-z0-9-]+$/.test(client.name)) throw new Error(`aclSetupScript: ${JSON.stringify(client.name)} is not a plain service name`)
    if (!/^[0-9a-f-]{36}$/.test(client.accessorId)) throw new Error(`aclSetupScript: accessor of ${client.name} is not a UUID`)
  }
  return [
    '#!/bin/sh',
    '# Generated by infra/kubernetes/discovery.ts. The secret IDs arrive in the environment.',
    'set -eu',
    'tries=0',
    'until consul acl policy list >/dev/null 2>&1; do',
    '  tries=$((tries + 1))',
    '  [ "$tries" -ge 90 ] && { echo "consul did not answer with the bootstrap token" >&2; exit 1; }',
    '  sleep 2',
    'done',
    'apply() {',
    '  name=$1 accessor=$2 secret=$3',
    '  if consul acl policy read -name "$name" >/dev/null 2>&1; then',
    '    consul acl policy update -name "$name" -rules "@/acl/$name.hcl" >/dev/null',
    '  else',
    '    consul acl policy create -name "$name" -description "$name (managed by Pulumi)" -rules "@/acl/$name.hcl" >/dev/null',
    '  fi',
    '  if ! consul acl token read -accessor-id "$accessor" >/dev/null 2>&1; then',
    '    consul acl token create -accessor "$accessor" -secret "$secret" -policy-name "$name" -description "$name (managed by Pulumi)" >/dev/null',
    '  fi',
    '  echo "acl: $name"',
    '}',
    ...clients.map((client) => `apply ${client.name} ${client.accessorId} "$${tokenVariable(client.name)}"`),
    '',
  ].join('\n')
}

export class ConsulDiscovery extends pulumi.ComponentResource {
  /** The Helm release: what depends on Consul waits for it. */
  readonly release: k8s.helm.v3.Release
  /** The Job that created the app services' ACL tokens. */
  readonly aclJob: k8s.batch.v1.Job
  /** Secrets in the app namespace: one token per service, and the CA certificate. */
  readonly appSecrets: readonly k8s.core.v1.Secret[]
  /** `CONSUL_HTTP_ADDR` of a pod: the client agent on its node (needs `HOST_IP` in the environment first). */
  readonly clientAddress: string
  /** The bootstrap token (secret): Consul UI login. */
  readonly bootstrapToken: pulumi.Output<string>
  /** The UI, behind `kubectl port-forward`. */
  readonly ui: ClusterService

  constructor(name: string, args: DiscoveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:discovery:ConsulHelm', name, {}, opts)
    const child = { parent: this }
    const datacenter = args.datacenter ?? 'dc1'
    const servers = args.servers ?? 3

    const caKey = new tls.PrivateKey(`${name}-ca`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, child)
    const caCert = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        validityPeriodHours: 5 * 365 * 24,
        earlyRenewalHours: 90 * 24,
        allowedUses: ['cert_signing', 'crl_signing', 'digital_signature'],
        subject: { commonName: `Consul Agent CA (${datacenter})`, organization: 'microservice-platform' },
      },
      child,
    )
    const caCertSecret = new k8s.core.v1.Secret(
      `${name}-ca-cert`,
      { metadata: { name: CONSUL_CA_SECRET, namespace: args.namespace.output }, stringData: { 'tls.crt': caCert.certPem } },
      child,
    )
    const caKeySecret = new k8s.core.v1.Secret(
      `${name}-ca-key`,
      {
        metadata: { name: CONSUL_CA_KEY_SECRET, namespace: args.namespace.output },
        stringData: { 'tls.key': pulumi.secret(caKey.privateKeyPem) },
      },
      child,
    )

    const bootstrap = new random.RandomUuid(`${name}-bootstrap-token`, {}, { ...child, additionalSecretOutputs: ['result'] })
    this.bootstrapToken = pulumi.secret(bootstrap.result)
    const bootstrapSecret = new k8s.core.v1.Secret(
      `${name}-bootstrap-token`,
      { metadata: { name: BOOTSTRAP_SECRET, namespace: args.namespace.output }, stringData: { token: this.bootstrapToken } },
      child,
    )

    const values: ConsulValues = {
      global: {
        name: CONSUL_NAME,
        datacenter,
        image: args.image,
        logJSON: true,
        tls: {
          enabled: true,
          // The chart's tls-init signs each client's certificate with the CA key, for the node's IP.
          enableAutoEncrypt: false,
          httpsOnly: true,
          verify: true,
          caCert: { secretName: CONSUL_CA_SECRET, secretKey: 'tls.crt' },
          caKey: { secretName: CONSUL_CA_KEY_SECRET, secretKey: 'tls.key' },
        },
        // The servers take this token as their initial management token; the chart's
        // server-acl-init uses it to create the tokens of its own components.
        acls: { manageSystemACLs: true, bootstrapToken: { secretName: BOOTSTRAP_SECRET, secretKey: 'token' } },
        gossipEncryption: { autoGenerate: true },
      },
      server: {
        replicas: servers,
        bootstrapExpect: servers,
        storage: '10Gi',
        storageClass: args.storageClass ?? null,
        resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
      },
      client: {
        enabled: true,
        grpc: false,
        resources: { requests: { cpu: '50m', memory: '100Mi' }, limits: { cpu: '250m', memory: '200Mi' } },
      },
      ui: { enabled: true, service: { type: 'ClusterIP' } },
      connectInject: { enabled: false },
      syncCatalog: { enabled: false },
      dns: { enabled: false },
    }
    this.release = chartRelease(
      `${name}-release`,
      { chart: 'consul', versions: args.versions, releaseName: CONSUL_NAME, namespace: args.namespace.output, values },
      { ...child, dependsOn: [caCertSecret, caKeySecret, bootstrapSecret] },
    )

    // One policy and token per app service, created through the servers by a Job.
    const clients = args.services.map((service) => {
      const accessor = new random.RandomUuid(`${name}-${service}-accessor`, {}, child)
      const secret = new random.RandomUuid(`${name}-${service}-secret`, {}, { ...child, additionalSecretOutputs: ['result'] })
      return { name: service, accessorId: accessor.result, secretId: pulumi.secret(secret.result) }
    })
    const tokensSecret = new k8s.core.v1.Secret(
      `${name}-app-tokens`,
      {
        metadata: { name: CLIENT_TOKENS_SECRET, namespace: args.namespace.output },
        stringData: Object.fromEntries(clients.map((client) => [client.name, client.secretId])),
      },
      child,
    )
    const aclFiles = new k8s.core.v1.ConfigMap(
      `${name}-acl-setup`,
      {
        metadata: { namespace: args.namespace.output, labels: { 'app.kubernetes.io/name': 'consul-acl-setup' } },
        data: pulumi.all(clients.map((client) => client.accessorId)).apply((accessors) => ({
          'acl-setup.sh': aclSetupScript(clients.map((client, index) => ({ name: client.name, accessorId: accessors[index]! }))),
          ...Object.fromEntries(clients.map((client) => [`${client.name}.hcl`, serviceRules(client.name)])),
        })),
      },
      child,
    )
    this.aclJob = new k8s.batch.v1.Job(
      `${name}-acl-setup`,
      {
        metadata: { namespace: args.namespace.output, labels: { 'app.kubernetes.io/name': 'consul-acl-setup' } },
        spec: {
          backoffLimit: 6,
          template: {
            metadata: { labels: { 'app.kubernetes.io/name': 'consul-acl-setup' } },
            spec: {
              restartPolicy: 'OnFailure',
              securityContext: restrictedPodSecurityContext(100),
              containers: [
                {
                  name: 'acl-setup',
                  image: args.image,
                  command: ['/bin/sh', '/acl/acl-setup.sh'],
                  env: [
                    { name: 'CONSUL_HTTP_ADDR', value: `https://${CONSUL_NAME}-server.${args.namespace.name}.svc:8501` },
                    { name: 'CONSUL_CACERT', value: '/consul/ca/tls.crt' },
                    { name: 'CONSUL_HTTP_TOKEN', valueFrom: { secretKeyRef: { name: BOOTSTRAP_SECRET, key: 'token' } } },
                    ...clients.map((client) => ({
                      name: tokenVariable(client.name),
                      valueFrom: { secretKeyRef: { name: CLIENT_TOKENS_SECRET, key: client.name } },
                    })),
                  ],
                  securityContext: restrictedContainerSecurityContext(),
                  resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
                  volumeMounts: [
                    { name: 'acl', mountPath: '/acl', readOnly: true },
                    { name: 'ca', mountPath: '/consul/ca', readOnly: true },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                { name: 'acl', configMap: { name: aclFiles.metadata.name } },
                { name: 'ca', secret: { secretName: CONSUL_CA_SECRET } },
                { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
              ],
            },
          },
        },
      },
      // Pulumi waits for the Job to complete: the app services start with working tokens.
      { ...child, dependsOn: [this.release, tokensSecret, aclFiles] },
    )

    const appSecrets = clients.map(
      (client) =>
        new k8s.core.v1.Secret(
          `${name}-${client.name}-token`,
          {
            metadata: { name: consulTokenSecretName(client.name), namespace: args.appsNamespace.output },
            stringData: { token: client.secretId },
          },
          child,
        ),
    )
    appSecrets.push(
      new k8s.core.v1.Secret(
        `${name}-apps-ca-cert`,
        { metadata: { name: CONSUL_CA_SECRET, namespace: args.appsNamespace.output }, stringData: { 'tls.crt': caCert.certPem } },
        child,
      ),
    )
    this.appSecrets = appSecrets
    this.clientAddress = `https://$(HOST_IP):${CONSUL_CLIENT_HTTPS_PORT}`
    this.ui = { namespace: args.namespace.name, service: `${CONSUL_NAME}-ui`, port: 443, scheme: 'https', path: '/ui/' }
    this.registerOutputs({})
  }
}
