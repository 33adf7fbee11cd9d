// The official charts the prod stack installs, where they come from, and the one way a release
// is declared: a Helm release of an exact version (from the stack config), its values typed by
// the component that sets them, waiting until its workloads are ready so that what depends on
// it (custom resources of its CRDs, the app services) is created after.
import * as k8s from '@pulumi/kubernetes'
import type * as pulumi from '@pulumi/pulumi'
import type { ChartVersions } from '../config.ts'

export interface ChartSource {
  /** Chart name in its repository. */
  readonly chart: string
  /** The repository's URL (`helm repo add`). */
  readonly repo: string
}

/** Config key (`kubernetes.charts.<key>`) → chart. */
export const CHARTS: Readonly<Record<keyof ChartVersions, ChartSource>> = {
  consul: { chart: 'consul', repo: 'https://helm.releases.hashicorp.com' },
  traefik: { chart: 'traefik', repo: 'https://traefik.github.io/charts' },
  eckOperator: { chart: 'eck-operator', repo: 'https://helm.elastic.co' },
  kubePrometheusStack: { chart: 'kube-prometheus-stack', repo: 'https://prometheus-community.github.io/helm-charts' },
  jaeger: { chart: 'jaeger', repo: 'https://jaegertracing.github.io/helm-charts' },
  cloudnativePg: { chart: 'cloudnative-pg', repo: 'https://cloudnative-pg.github.io/charts' },
}

export interface ChartReleaseArgs<Values extends object> {
  /** Which chart (`CHARTS`). */
  readonly chart: keyof ChartVersions
  /** The pinned versions from the stack config. */
  readonly versions: ChartVersions
  /** Helm's release name: it prefixes the chart's object names. */
  readonly releaseName: string
  readonly namespace: pulumi.Input<string>
  readonly values: Values
  /** Seconds Helm waits for the release's workloads; default 600. */
  readonly timeoutSeconds?: number
}

/** A Helm release of one of `CHARTS`, at the version the stack config pins. */
export function chartRelease<Values extends object>(
  name: string,
  args: ChartReleaseArgs<Values>,
  opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
  const source = CHARTS[args.chart]
  return new k8s.helm.v3.Release(
    name,
    {
      name: args.releaseName,
      chart: source.chart,
      version: args.versions[args.chart],
      repositoryOpts: { repo: source.repo },
      namespace: args.namespace,
      createNamespace: false,
      // Wait for the workloads (and so for the CRDs and webhooks they serve), and roll back a
      // failed upgrade instead of leaving it half applied.
      skipAwait: false,
      atomic: true,
      cleanupOnFail: true,
      timeout: args.timeoutSeconds ?? 600,
      values: args.values as Record<string, unknown>,
    },
    opts,
  )
}
