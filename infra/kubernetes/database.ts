// The database on Kubernetes: the CloudNativePG operator from its chart, and one PostgreSQL
// `Cluster` (a primary and streaming replicas) in the app namespace. Each data service gets its
// own role and database, as in dev: the role is a managed role of the Cluster whose password
// comes from a Secret Pulumi generates, the database a `Database` object owned by that role. The
// same Secret (type basic-auth, the shape of CloudNativePG's own `<cluster>-app` Secret:
// username, password, host, port, dbname, uri) is where the service reads its DATABASE_URL,
// through a secretKeyRef on `uri`; no service can read another's.
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import type { ChartVersions } from '../config.ts'
import { chartRelease } from './charts.ts'
import type { NamespaceRef } from './namespaces.ts'
import { customResource } from './resources.ts'

/** Typed values of the cloudnative-pg/cloudnative-pg chart: the parts this stack sets. */
export interface CloudNativePgValues {
  readonly fullnameOverride: string
  readonly crds: { readonly create: boolean }
  readonly config: { readonly clusterWide: boolean }
  readonly monitoring: { readonly podMonitorEnabled: boolean }
  readonly resources: k8s.types.input.core.v1.ResourceRequirements
}

export interface OwnedDatabase {
  readonly service: string
  /** Database name, e.g. `users`. */
  readonly name: string
  /** Login role that owns it, e.g. `user_service`. */
  readonly role: string
}

export interface DatabaseArgs {
  readonly versions: ChartVersions
  /** Namespace of the operator. */
  readonly operatorNamespace: NamespaceRef
  /** Namespace of the Cluster: the app namespace, where the services read their Secrets. */
  readonly namespace: NamespaceRef
  /** The operand image, `ghcr.io/cloudnative-pg/postgresql:<major.minor>-standard-<debian>` (`cloudNativePgImage`). */
  readonly imageName: string
  readonly instances: number
  readonly databases: readonly OwnedDatabase[]
  readonly storageClass?: string
}

/** The Cluster's name: its Services are `<name>-rw` (primary) and `<name>-ro`, its pods labelled `cnpg.io/cluster: <name>`. */
export const CLUSTER_NAME = 'platform-db'
export const POSTGRES_PORT = 5432
/** The instance manager's status port, which the operator calls. */
export const INSTANCE_STATUS_PORT = 8000
/** Labels of the operator's pod. */
export const OPERATOR_POD_LABELS = { 'app.kubernetes.io/name': 'cloudnative-pg' } as const

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/

/** Secret in the app namespace with a service's credentials and its `uri`. */
export function databaseSecretName(service: string): string {
  return `${service}-db`
}

/** CloudNativePG's operand images (cloudnative-pg/postgres-containers). */
export const CNPG_IMAGE_REPOSITORY = 'ghcr.io/cloudnative-pg/postgresql'

/**
 * The CloudNativePG image of the same PostgreSQL and Debian release as dev's image
 * (`postgres:17.10-bookworm` → `…/postgresql:17.10-standard-bookworm`). `standard` is the
 * maintained image type with all locales and extensions; the bare `17.10` tags are the deprecated
 * `system` images on bullseye, scheduled for removal upstream.
 */
export function cloudNativePgImage(devImage: string): string {
  const tag =
    devImage
      .replace(/@sha256:.*$/, '')
      .split(':')
      .pop() ?? ''
  const match = /^([0-9]+\.[0-9]+)-(bookworm|trixie)$/.exec(tag)
  if (match === null) {
    throw new Error(
      `images.postgres=${JSON.stringify(devImage)}: the prod database needs a <major.minor>-<debian> tag (bookworm or trixie) to pick the matching CloudNativePG image`,
    )
  }
  return `${CNPG_IMAGE_REPOSITORY}:${match[1]}-standard-${match[2]}`
}

export class CloudNativePgDatabase extends pulumi.ComponentResource {
  readonly operator: k8s.helm.v3.Release
  readonly cluster: k8s.apiextensions.CustomResource
  /** The Database objects, one per data service. */
  readonly databases: readonly k8s.apiextensions.CustomResource[]
  /** The per-service Secrets (with `uri`). */
  readonly secrets: readonly k8s.core.v1.Secret[]
  /** Labels of the Cluster's pods. */
  readonly podLabels: Readonly<Record<string, string>> = { 'cnpg.io/cluster': CLUSTER_NAME }

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:database:CloudNativePg', name, {}, opts)
    const child = { parent: this }
    for (const database of args.databases) {
      for (const identifier of [database.name, database.role]) {
        if (!IDENTIFIER.test(identifier)) throw new Error(`database: ${JSON.stringify(identifier)} is not a plain lowercase SQL identifier`)
      }
    }

    const values: CloudNativePgValues = {
      fullnameOverride: 'cnpg',
      crds: { create: true },
      config: { clusterWide: true },
      monitoring: { podMonitorEnabled: false },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    }
    this.operator = chartRelease(
      `${name}-operator`,
      { chart: 'cloudnativePg', versions: args.versions, releaseName: 'cnpg', namespace: args.operatorNamespace.output, values },
      child,
    )

    const host = `${CLUSTER_NAME}-rw.${args.namespace.name}.svc`
    this.secrets = args.databases.map((database) => {
      const password = new random.RandomPassword(`${name}-${database.role.replace(/_/g, '-')}`, { length: 32, special: false }, child)
        .result
      return new k8s.core.v1.Secret(
        `${name}-${database.service}`,
        {
          metadata: {
            name: databaseSecretName(database.service),
            namespace: args.namespace.output,
            // The operator re-reads a managed role's password when its Secret changes.
            labels: { 'cnpg.io/reload': 'true', 'platform.service': database.service },
          },
          type: 'kubernetes.io/basic-auth',
          stringData: {
            username: database.role,
            password: pulumi.secret(password),
            host,
            port: String(POSTGRES_PORT),
            dbname: database.name,
            uri: pulumi.secret(pulumi.interpolate`postgresql://${database.role}:${password}@${host}:${POSTGRES_PORT}/${database.name}`),
          },
        },
        child,
      )
    })

    this.cluster = customResource(
      `${name}-cluster`,
      {
        type: 'postgresql.cnpg.io/v1/Cluster',
        metadata: { name: CLUSTER_NAME, namespace: args.namespace.output },
        spec: {
          instances: args.instances,
          imageName: args.imageName,
          enableSuperuserAccess: false,
          // initdb must create a database and its owner; the services' own come as managed
          // roles and Database objects below, all alike.
          bootstrap: { initdb: { database: 'platform', owner: 'platform' } },
          managed: {
            roles: args.databases.map((database) => ({
              name: database.role,
              ensure: 'present' as const,
              login: true,
              inherit: true,
              // Above the service's pool (DATABASE_POOL_MAX, default 10) times a few replicas.
              connectionLimit: 100,
              passwordSecret: { name: databaseSecretName(database.service) },
            })),
          },
          storage: { size: '10Gi', ...(args.storageClass === undefined ? {} : { storageClass: args.storageClass }) },
          resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } },
          affinity: { enablePodAntiAffinity: true, topologyKey: 'kubernetes.io/hostname', podAntiAffinityType: 'preferred' },
        },
        operator: this.operator,
        after: this.secrets,
      },
      child,
    )

    this.databases = args.databases.map((database) =>
      customResource(
        `${name}-${database.name}`,
        {
          type: 'postgresql.cnpg.io/v1/Database',
          metadata: { name: `${CLUSTER_NAME}-${database.name}`, namespace: args.namespace.output },
          spec: { name: database.name, owner: database.role, cluster: { name: CLUSTER_NAME }, ensure: 'present' },
          operator: this.operator,
          after: [this.cluster],
        },
        child,
      ),
    )
    this.registerOutputs({})
  }
}
