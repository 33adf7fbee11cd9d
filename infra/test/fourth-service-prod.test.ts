// The prod stack with audit-service (internal, called by no one, no database) added to a copy of
// the catalog, under mocks: the Kubernetes renderer gives it everything the other services get,
// from its Deployment's security context and probes to its disruption budget, network policy,
// ServiceMonitor, alerts and dashboard rows.
import { beforeAll, describe, expect, it } from 'vitest'
import { DASHBOARD_UIDS, panelQueries, type GeneratedDashboard } from '../observability/index.ts'
import { PROJECT, type ProgramRun } from './support/program.ts'
import { kubernetesState, objectNamed, objectsOfKind, REGISTRY_PASSWORD, type Manifest } from './support/kubernetes.ts'
import { FOURTH, FOURTH_REPLICAS, runWithFourthService } from './support/fourth-service.ts'

const APPS = 'platform'
const OBSERVABILITY = 'platform-observability'

let run: ProgramRun
beforeAll(async () => {
  run = await runWithFourthService('prod', { [`${PROJECT}:registryPassword`]: REGISTRY_PASSWORD }, { state: kubernetesState })
})

type Probe = { httpGet: { path: string; port: string } }
type Container = {
  image: string
  ports: { name: string; containerPort: number }[]
  resources: unknown
  startupProbe: Probe
  readinessProbe: Probe
  livenessProbe: Probe
  securityContext: Record<string, unknown>
}
type Deployment = Manifest & {
  spec: {
    replicas: number
    selector: { matchLabels: Record<string, string> }
    template: { spec: { securityContext: Record<string, unknown>; containers: Container[] } }
  }
}
type Rule = { from?: { podSelector?: { matchLabels: Record<string, string> } }[]; to?: unknown[]; ports: { port: number }[] }

const deployment = () => objectNamed(run, 'Deployment', FOURTH.name, APPS) as Deployment
const container = () => deployment().spec.template.spec.containers[0]!

describe('prod stack with a fourth service', () => {
  it('runs it as a Deployment of the replicas asked for, on its pushed image and port', () => {
    expect(deployment().spec.replicas).toBe(FOURTH_REPLICAS)
    expect(container().image).toMatch(new RegExp(`^ghcr\\.io/example/microservice-platform/${FOURTH.name}:[0-9a-f]{16}$`))
    expect(container().ports).toEqual([{ name: 'http', containerPort: FOURTH.port, protocol: 'TCP' }])
  })

  it('runs it restricted: non-root, no privilege escalation, no capabilities, read-only root', () => {
    expect(deployment().spec.template.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    })
    expect(container().securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    })
  })

  it('probes its startup, readiness and liveness and sets requests and limits', () => {
    expect(container().startupProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' })
    expect(container().readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' })
    expect(container().livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' })
    expect(container().resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } })
  })

  it('gives it a disruption budget and a ServiceMonitor on its metrics', () => {
    const labels = deployment().spec.selector.matchLabels
    expect(objectNamed(run, 'PodDisruptionBudget', FOURTH.name, APPS).spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: labels },
    })
    expect(objectNamed(run, 'ServiceMonitor', FOURTH.name, APPS).spec).toMatchObject({
      selector: { matchLabels: labels },
      endpoints: [expect.objectContaining({ port: 'http', path: '/metrics' })],
    })
  })

  it('lets in only Prometheus and the Consul agents (no one calls it), on its port; lets out no app service', () => {
    const policy = objectNamed(run, 'NetworkPolicy', FOURTH.name, APPS).spec as { ingress: Rule[]; egress: Rule[] }
    for (const rule of policy.ingress) expect(rule.ports).toEqual([{ port: FOURTH.port, protocol: 'TCP' }])
    expect(policy.ingress.some((rule) => JSON.stringify(rule.from).includes('"app.kubernetes.io/part-of":"microservice-platform"'))).toBe(
      false,
    )
    expect(policy.ingress.some((rule) => JSON.stringify(rule.from).includes('prometheus'))).toBe(true)
    expect(policy.egress.some((rule) => JSON.stringify(rule.to).includes('"app.kubernetes.io/part-of":"microservice-platform"'))).toBe(
      false,
    )
  })

  it('alerts on it and gives it rows in the services overview dashboard', () => {
    expect(JSON.stringify(objectNamed(run, 'PrometheusRule', 'platform-alerts', APPS).spec)).toContain(`job=\\"${FOURTH.name}\\"`)
    const map = objectNamed(run, 'ConfigMap', `grafana-dashboard-${DASHBOARD_UIDS.servicesOverview}`, OBSERVABILITY) as Manifest & {
      data: Record<string, string>
    }
    const overview = JSON.parse(map.data[`${DASHBOARD_UIDS.servicesOverview}.json`]!) as GeneratedDashboard['json']
    expect((overview.panels ?? []).filter((panel) => panel.type === 'row').map((panel) => panel.title)).toContain(`Service: ${FOURTH.name}`)
    expect(panelQueries(overview).filter((query) => query.panel.startsWith(`${FOURTH.name}:`))).toHaveLength(3)
  })

  it('publishes only the edge service, not the fourth', () => {
    expect(
      objectsOfKind(run, 'IngressRoute')
        .filter((route) => route.metadata.namespace === APPS)
        .map((route) => route.metadata.name),
    ).toEqual(['gateway'])
  })
})
