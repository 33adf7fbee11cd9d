// Monitoring on Kubernetes: kube-prometheus-stack (the Prometheus Operator, Prometheus,
// Alertmanager, Grafana). Prometheus selects every ServiceMonitor and PrometheusRule in the
// cluster (not only the chart's own), so the app services' objects in their namespace count.
// Grafana's admin credentials come from a Secret Pulumi generates; its data sources and
// dashboards come from the same generators as dev (infra/observability), delivered through the
// chart's sidecars: dashboards as ConfigMaps labelled `grafana_dashboard`, data sources as a
// Secret labelled `grafana_datasource` (the Elasticsearch password is `${LOGS_READER_PASSWORD}`,
// expanded by Grafana from its environment; the CA is a mounted file).
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import type { ChartVersions } from '../config.ts'
import { LOGS_READER_USER } from '../access.ts'
import { dashboards, grafanaProvisioningFiles } from '../observability/index.ts'
import type { ClusterService } from './access.ts'
import { chartRelease } from './charts.ts'
import { ES_CA_SECRET, LOGS_READER_SECRET } from './logging.ts'
import type { NamespaceRef } from './namespaces.ts'

type Resources = k8s.types.input.core.v1.ResourceRequirements

/** Typed values of prometheus-community/kube-prometheus-stack: the parts this stack sets. */
export interface KubePrometheusStackValues {
  readonly fullnameOverride: string
  readonly crds: { readonly enabled: boolean }
  readonly prometheus: {
    readonly prometheusSpec: {
      readonly serviceMonitorSelectorNilUsesHelmValues: boolean
      readonly podMonitorSelectorNilUsesHelmValues: boolean
      readonly ruleSelectorNilUsesHelmValues: boolean
      readonly retention: string
      readonly externalLabels: Readonly<Record<string, string>>
      readonly resources: Resources
      readonly storageSpec: { readonly volumeClaimTemplate: { readonly spec: k8s.types.input.core.v1.PersistentVolumeClaimSpec } }
    }
  }
  readonly alertmanager: { readonly alertmanagerSpec: { readonly replicas: number; readonly resources: Resources } }
  readonly grafana: {
    readonly fullnameOverride: string
    /** The grafana subchart's image tag (its default is the subchart's appVersion). */
    readonly image: { readonly tag: string }
    readonly admin: { readonly existingSecret: string; readonly userKey: string; readonly passwordKey: string }
    readonly 'grafana.ini': Readonly<Record<string, Readonly<Record<string, string | boolean>>>>
    readonly sidecar: {
      readonly dashboards: {
        readonly enabled: boolean
        readonly label: string
        readonly labelValue: string
        readonly searchNamespace: string
        readonly folderAnnotation: string
        readonly provider: { readonly foldersFromFilesStructure: boolean; readonly allowUiUpdates: boolean }
      }
      readonly datasources: {
        readonly enabled: boolean
        readonly label: string
        readonly labelValue: string
        readonly defaultDatasourceEnabled: boolean
      }
    }
    readonly envValueFrom: Readonly<Record<string, { readonly secretKeyRef: { readonly name: string; readonly key: string } }>>
    readonly extraSecretMounts: readonly {
      readonly name: string
      readonly secretName: string
      readonly mountPath: string
      readonly readOnly: boolean
    }[]
    readonly resources: Resources
  }
}

export interface MonitoringArgs {
  readonly versions: ChartVersions
  readonly namespace: NamespaceRef
  readonly stack: string
  /** Elasticsearch's HTTPS URL inside the cluster (Grafana's logs data source). */
  readonly elasticsearchUrl: string
  /** Jaeger's query service inside the cluster. */
  readonly jaegerUrl: pulumi.Input<string>
  /** The local port `grafanaUrl` assumes for the port-forward (Grafana's root URL). */
  readonly grafanaLocalPort: number
  /** Grafana's version, the same as dev's image (`images.grafana`), e.g. `12.4.2`. */
  readonly grafanaVersion: string
  /** Resources that must exist before Grafana starts (the logs reader's Secret). */
  readonly after: readonly pulumi.Resource[]
  readonly storageClass?: string
  /** The app services with a row in the dashboards. */
  readonly services: readonly string[]
  /** Default `15s`. */
  readonly scrapeInterval?: string
}

const FULLNAME = 'kps'
const GRAFANA_NAME = 'grafana'
const GRAFANA_ADMIN_SECRET = 'grafana-admin'
const GRAFANA_ADMIN = 'admin'
const ES_CA_MOUNT = '/etc/grafana/es-ca'
/** Label (and value) the Grafana sidecar picks dashboards up by. */
export const DASHBOARD_LABEL = { grafana_dashboard: '1' } as const
/** Label (and value) the Grafana sidecar picks data sources up by. */
export const DATASOURCE_LABEL = { grafana_datasource: '1' } as const

export class KubePrometheusStack extends pulumi.ComponentResource {
  /** The release: the Prometheus Operator's CRDs exist once it is ready. */
  readonly release: k8s.helm.v3.Release
  readonly grafana: ClusterService
  readonly prometheus: ClusterService
  readonly alertmanager: ClusterService
  readonly grafanaAdminUser: string
  /** Secret. */
  readonly grafanaAdminPassword: pulumi.Output<string>
  /** Dashboard title → path under Grafana's root URL. */
  readonly dashboardPaths: Readonly<Record<string, string>>
  /** Labels of the Prometheus pods, for the app namespace's network policies. */
  readonly prometheusPodLabels: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'prometheus' }

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:monitoring:KubePrometheusStack', name, {}, opts)
    const child = { parent: this }
    const ns = args.namespace.name
    const inNs = args.namespace.output
    const scrapeInterval = args.scrapeInterval ?? '15s'

    const password = new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, child)
    this.grafanaAdminUser = GRAFANA_ADMIN
    this.grafanaAdminPassword = pulumi.secret(password.result)
    const adminSecret = new k8s.core.v1.Secret(
      `${name}-grafana-admin`,
      {
        metadata: { name: GRAFANA_ADMIN_SECRET, namespace: inNs },
        stringData: { 'admin-user': GRAFANA_ADMIN, 'admin-password': this.grafanaAdminPassword },
      },
      child,
    )

    const prometheusUrl = `http://${FULLNAME}-prometheus.${ns}.svc:9090`
    const files = pulumi.output(args.jaegerUrl).apply((jaegerUrl) =>
      grafanaProvisioningFiles({
        prometheusUrl,
        scrapeInterval,
        elasticsearch: {
          url: args.elasticsearchUrl,
          user: LOGS_READER_USER,
          passwordEnvVar: 'LOGS_READER_PASSWORD',
          caCertFile: `${ES_CA_MOUNT}/ca.crt`,
        },
        jaegerUrl,
        services: args.services,
      }),
    )
    const datasources = new k8s.core.v1.Secret(
      `${name}-datasources`,
      {
        metadata: { name: 'grafana-datasources-platform', namespace: inNs, labels: { ...DATASOURCE_LABEL } },
        stringData: {
          'platform.yaml': files.apply((all) => all.find((file) => file.path === 'provisioning/datasources/platform.yaml')!.content),
        },
      },
      child,
    )
    const dashboardMaps = dashboards(args.services).map(
      (dashboard) =>
        new k8s.core.v1.ConfigMap(
          `${name}-dashboard-${dashboard.uid}`,
          {
            metadata: {
              name: `grafana-dashboard-${dashboard.uid}`,
              namespace: inNs,
              labels: { ...DASHBOARD_LABEL },
              annotations: { grafana_folder: 'Platform' },
            },
            data: {
              [`${dashboard.uid}.json`]: files.apply(
                (all) => all.find((file) => file.path === `dashboards/${dashboard.uid}.json`)!.content,
              ),
            },
          },
          child,
        ),
    )

    const storage: k8s.types.input.core.v1.PersistentVolumeClaimSpec = {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '20Gi' } },
      ...(args.storageClass === undefined ? {} : { storageClassName: args.storageClass }),
    }
    const values: KubePrometheusStackValues = {
      fullnameOverride: FULLNAME,
      crds: { enabled: true },
      prometheus: {
        prometheusSpec: {
          // Every ServiceMonitor and rule in the cluster, not only those labelled with this release.
          serviceMonitorSelectorNilUsesHelmValues: false,
          podMonitorSelectorNilUsesHelmValues: false,
          ruleSelectorNilUsesHelmValues: false,
          retention: '15d',
          externalLabels: { stack: args.stack },
          resources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
          storageSpec: { volumeClaimTemplate: { spec: storage } },
        },
      },
      alertmanager: {
        alertmanagerSpec: {
          replicas: 1,
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
        },
      },
      grafana: {
        fullnameOverride: GRAFANA_NAME,
        // The subchart would run its own appVersion; prod runs the Grafana that dev runs.
        image: { tag: args.grafanaVersion },
        admin: { existingSecret: GRAFANA_ADMIN_SECRET, userKey: 'admin-user', passwordKey: 'admin-password' },
        'grafana.ini': {
          server: { root_url: `http://127.0.0.1:${args.grafanaLocalPort}/` },
          'auth.anonymous': { enabled: false },
          users: { allow_sign_up: false },
          analytics: { reporting_enabled: false, check_for_updates: false },
        },
        sidecar: {
          dashboards: {
            enabled: true,
            label: Object.keys(DASHBOARD_LABEL)[0]!,
            labelValue: DASHBOARD_LABEL.grafana_dashboard,
            searchNamespace: ns,
            folderAnnotation: 'grafana_folder',
            provider: { foldersFromFilesStructure: true, allowUiUpdates: false },
          },
          // Ours carries the default (Prometheus, uid platform-prometheus, which the dashboards use).
          datasources: {
            enabled: true,
            label: Object.keys(DATASOURCE_LABEL)[0]!,
            labelValue: DATASOURCE_LABEL.grafana_datasource,
            defaultDatasourceEnabled: false,
          },
        },
        envValueFrom: { LOGS_READER_PASSWORD: { secretKeyRef: { name: LOGS_READER_SECRET, key: 'password' } } },
        extraSecretMounts: [{ name: 'es-ca', secretName: ES_CA_SECRET, mountPath: ES_CA_MOUNT, readOnly: true }],
        resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      },
    }
    this.release = chartRelease(
      `${name}-release`,
      {
        chart: 'kubePrometheusStack',
        versions: args.versions,
        releaseName: 'kube-prometheus-stack',
        namespace: inNs,
        values,
        timeoutSeconds: 900,
      },
      { ...child, dependsOn: [adminSecret, datasources, ...dashboardMaps, ...args.after] },
    )

    this.grafana = { namespace: ns, service: GRAFANA_NAME, port: 80, scheme: 'http' }
    this.prometheus = { namespace: ns, service: `${FULLNAME}-prometheus`, port: 9090, scheme: 'http' }
    this.alertmanager = { namespace: ns, service: `${FULLNAME}-alertmanager`, port: 9093, scheme: 'http' }
    this.dashboardPaths = Object.fromEntries(dashboards(args.services).map((dashboard) => [dashboard.title, `/d/${dashboard.uid}`]))
    this.registerOutputs({})
  }
}
