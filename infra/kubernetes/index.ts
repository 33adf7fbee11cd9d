// The Kubernetes renderer (prod): the platform on the cluster the stack config names, through an
// explicit provider. Three namespaces (apps: restricted; observability; system), the supporting
// systems from their official charts at the pinned versions, their custom resources after their
// operators, and a component per app service rendered from the same model as dev's containers
// (plus one for what the app namespace has once: the alert rules, the shared policies). Nothing but
// the gateway (https://api.<domain>) and the Traefik dashboard (behind a password) is exposed;
// the outputs give the exact `kubectl port-forward` for every other UI.
import * as k8s from '@pulumi/kubernetes'
import * as pulumi from '@pulumi/pulumi'
import type { Credentials, PlatformOutputs, RenderInput } from '../platform.ts'
import { forwardedUrl, portForwardCommand, type ClusterService } from './access.ts'
import {
  CLUSTER_NAME,
  CloudNativePgDatabase,
  cloudNativePgImage,
  databaseSecretName,
  INSTANCE_STATUS_PORT,
  OPERATOR_POD_LABELS,
  POSTGRES_PORT,
} from './database.ts'
import { CONSUL_CA_SECRET, CONSUL_CLIENT_HTTPS_PORT, CONSUL_NAME, ConsulDiscovery, consulTokenSecretName } from './discovery.ts'
import { TLS_ENTRYPOINT, TraefikEdge } from './edge.ts'
import { EckLogging } from './logging.ts'
import { KubePrometheusStack } from './monitoring.ts'
import { Namespaces, REGISTRY_PULL_SECRET } from './namespaces.ts'
import { appNamespacePolicies } from './network.ts'
import { KubernetesAppRules, KubernetesService } from './services.ts'
import { JaegerTracing, OTLP_HTTP_PORT } from './tracing.ts'

/** The version part of a pinned image reference: `docker.elastic.co/...:8.19.13` → `8.19.13`. */
export function imageVersion(image: string): string {
  const tag =
    image
      .replace(/@sha256:.*$/, '')
      .split(':')
      .pop() ?? ''
  const match = /^v?([0-9]+\.[0-9]+(?:\.[0-9]+)?)/.exec(tag)
  if (match === null) throw new Error(`no version in image reference ${JSON.stringify(image)}`)
  return match[1]!
}

export function deployKubernetes({ config, services, images }: RenderInput): PlatformOutputs {
  const k8sConfig = config.kubernetes
  if (config.registry === undefined)
    throw new Error('deployKubernetes: the stack config has no registry (loadStackConfig requires one on kubernetes)')

  // Every Kubernetes object goes through this provider (the components hand it to their
  // children), so the stack file, not the shell's current context, says which cluster.
  const provider = new k8s.Provider('kubernetes', {
    ...(k8sConfig.kubeconfig === undefined ? {} : { kubeconfig: k8sConfig.kubeconfig }),
    ...(k8sConfig.context === undefined ? {} : { context: k8sConfig.context }),
  })
  const onCluster: pulumi.ComponentResourceOptions = { providers: { kubernetes: provider } }
  const { namespace: appsNs, observabilityNamespace: observabilityNs, systemNamespace: systemNs, charts: versions } = k8sConfig
  const storageClass = k8sConfig.storageClass === undefined ? {} : { storageClass: k8sConfig.storageClass }

  const namespaces = new Namespaces(
    'namespaces',
    { apps: appsNs, observability: observabilityNs, system: systemNs, stack: config.stack, registry: config.registry },
    onCluster,
  )
  const { apps: appsRef, observability: observabilityRef, system: systemRef } = namespaces.refs

  const tracing = new JaegerTracing('tracing', { versions, namespace: observabilityRef }, onCluster)

  const logging = new EckLogging(
    'logging',
    { versions, namespace: observabilityRef, appsNamespace: appsNs, version: imageVersion(config.images.elasticsearch), ...storageClass },
    onCluster,
  )

  const monitoring = new KubePrometheusStack(
    'monitoring',
    {
      versions,
      namespace: observabilityRef,
      stack: config.stack,
      elasticsearchUrl: logging.elasticsearchUrl,
      jaegerUrl: tracing.queryUrl,
      grafanaLocalPort: config.ports.grafana,
      grafanaVersion: imageVersion(config.images.grafana),
      services: services.map((service) => service.name),
      after: [logging],
      ...storageClass,
    },
    onCluster,
  )

  const discovery = new ConsulDiscovery(
    'consul',
    {
      versions,
      namespace: systemRef,
      appsNamespace: appsRef,
      image: config.images.consul,
      services: services.map((service) => service.name),
      ...storageClass,
    },
    onCluster,
  )

  const edge = new TraefikEdge(
    'edge',
    {
      versions,
      namespace: systemRef,
      watchNamespaces: [appsNs, systemNs],
      domain: k8sConfig.domain,
      ...(k8sConfig.tlsSecret === undefined ? {} : { tlsSecret: k8sConfig.tlsSecret }),
      prometheusOperator: monitoring.release,
    },
    onCluster,
  )

  const database = new CloudNativePgDatabase(
    'database',
    {
      versions,
      operatorNamespace: systemRef,
      namespace: appsRef,
      imageName: cloudNativePgImage(config.images.postgres),
      instances: k8sConfig.databaseInstances,
      databases: services.flatMap((service) => (service.database === undefined ? [] : [{ service: service.name, ...service.database }])),
      ...storageClass,
    },
    onCluster,
  )

  const gatewayHost = `api.${k8sConfig.domain}`
  const policies = appNamespacePolicies(services, {
    traefik: { pods: edge.podLabels, namespace: systemNs },
    prometheus: { pods: monitoring.prometheusPodLabels, namespace: observabilityNs },
    consulAgents: { pods: { app: CONSUL_NAME, component: 'client' }, namespace: systemNs },
    consulAgentPort: CONSUL_CLIENT_HTTPS_PORT,
    jaeger: { pods: tracing.podLabels, namespace: observabilityNs },
    otlpPort: OTLP_HTTP_PORT,
    database: { pods: database.podLabels, port: POSTGRES_PORT, statusPort: INSTANCE_STATUS_PORT },
    databaseOperator: { pods: OPERATOR_POD_LABELS, namespace: systemNs },
    dns: { pods: { 'k8s-app': 'kube-dns' }, namespace: 'kube-system' },
  })
  // Until each service had its own component, one component `apps` made them all.
  const formerParentName = 'apps'
  new KubernetesAppRules(
    'apps',
    {
      services: services.map((service) => service.name),
      namespace: appsRef,
      prometheusOperator: monitoring.release,
      policies: policies.shared,
      formerParentName,
    },
    onCluster,
  )

  // Made in the model's order: a service's upstreams exist before it, so it can wait for them.
  const apps: Record<string, KubernetesService> = {}
  for (const service of services) {
    const networkPolicy = policies.services[service.name]
    if (networkPolicy === undefined) throw new Error(`deployKubernetes: no network policy was derived for ${service.name}`)
    apps[service.name] = new KubernetesService(
      `apps-${service.name}`,
      {
        service,
        image: images[service.name],
        namespace: appsRef,
        imagePullSecret: REGISTRY_PULL_SECRET,
        endpoints: { 'consul-http': discovery.clientAddress, 'otlp-http': tracing.otlpHttpEndpoint },
        secrets: {
          'consul-token': { name: consulTokenSecretName(service.name), key: 'token' },
          ...(service.database === undefined ? {} : { 'database-url': { name: databaseSecretName(service.name), key: 'uri' } }),
        },
        consulCaSecret: CONSUL_CA_SECRET,
        platform: {
          database: [database.cluster, ...database.databases],
          discovery: [discovery.release, discovery.aclJob],
          tracing: [tracing.release],
          logging: [logging.logstash, logging.filebeat],
        },
        upstreams: { ...apps },
        secretResources: [namespaces.pullSecret, ...discovery.appSecrets, ...database.secrets],
        traefik: edge.release,
        tlsEntryPoint: TLS_ENTRYPOINT,
        prometheusOperator: monitoring.release,
        ingressHost: gatewayHost,
        networkPolicy,
        formerParentName,
      },
      onCluster,
    )
  }
  const published = Object.values(apps).flatMap((app) => (app.publicUrl === undefined ? [] : [app.publicUrl]))
  if (published.length !== 1)
    throw new Error(`deployKubernetes: the model must publish exactly one app service at the edge (it publishes ${published.length})`)

  // Everything else stays inside the cluster: the same local ports as dev's published ones.
  const forwarded: Record<string, { target: ClusterService; localPort: number }> = {
    grafana: { target: monitoring.grafana, localPort: config.ports.grafana },
    kibana: { target: logging.kibana, localPort: config.ports.kibana },
    jaeger: { target: tracing.ui, localPort: config.ports.jaeger },
    consul: { target: discovery.ui, localPort: config.ports.consul },
    prometheus: { target: monitoring.prometheus, localPort: config.ports.prometheus },
    alertmanager: { target: monitoring.alertmanager, localPort: 9093 },
  }
  const url = (key: string) => forwardedUrl(forwarded[key]!.target, forwarded[key]!.localPort)
  const grafanaUrl = url('grafana')

  return {
    gatewayUrl: published[0]!,
    traefikDashboardUrl: edge.dashboardUrl,
    consulUiUrl: url('consul'),
    grafanaUrl,
    grafanaDashboardUrls: grafanaUrl.apply((base) =>
      Object.fromEntries(Object.entries(monitoring.dashboardPaths).map(([title, path]) => [title, `${base.replace(/\/$/, '')}${path}`])),
    ),
    kibanaUrl: url('kibana'),
    jaegerUrl: url('jaeger'),
    prometheusUrl: url('prometheus'),
    access: pulumi
      .all(
        Object.fromEntries([
          ...Object.entries(forwarded).map(([key, { target, localPort }]) => [key, portForwardCommand(target, localPort)] as const),
          ['kibanaElasticPassword', pulumi.output(logging.elasticPasswordCommand)] as const,
          ['database', pulumi.output(`kubectl --namespace ${appsNs} get cluster.postgresql.cnpg.io ${CLUSTER_NAME}`)] as const,
        ]),
      )
      .apply((commands): Record<string, string> => commands),
    credentials: pulumi.secret(
      pulumi
        .output({
          consul: { bootstrapToken: discovery.bootstrapToken },
          grafana: { user: monitoring.grafanaAdminUser, password: monitoring.grafanaAdminPassword },
          traefik: { user: edge.dashboardUser, password: edge.dashboardPassword },
        })
        .apply((credentials): Credentials => credentials),
    ),
  }
}
