// The Kubernetes renderer's pure parts: the ACL Job's script (run by a real shell against a
// stand-in `consul`), the network flows, the pod environment and timing derived from the model,
// and the Elastic roles shared with dev.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { elasticSetupScript } from '../docker/logging.ts'
import { aclSetupScript } from '../kubernetes/discovery.ts'
import { imageVersion } from '../kubernetes/index.ts'
import { elasticRoles, filebeatConfig } from '../kubernetes/logging.ts'
import { appNamespacePolicies, networkPolicies, platformFlows, policyName, type PlatformPeers } from '../kubernetes/network.ts'
import { autoscalingBounds, ingressMatch, renderEnv } from '../kubernetes/services.ts'
import { appServices, terminationGracePeriodSeconds } from '../model.ts'

const services = appServices({ replicas: { 'user-service': 2, 'order-service': 4, gateway: 1 }, logLevel: 'info' })
const byName = Object.fromEntries(services.map((service) => [service.name, service]))
const ACCESSORS = ['11111111-2222-4333-8444-555555555555', '66666666-7777-4888-8999-aaaaaaaaaaaa']

describe('aclSetupScript, run by sh against a stand-in consul', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'acl-setup-'))
    // Logs its arguments; `read` answers "exists" when EXISTS=1, everything else succeeds.
    writeFileSync(
      join(dir, 'consul'),
      '#!/bin/sh\necho "$*" >> "$LOG"\ncase "$*" in\n  "acl policy read"*|"acl token read"*) [ "$EXISTS" = 1 ] ;;\n  *) exit 0 ;;\nesac\n',
    )
    chmodSync(join(dir, 'consul'), 0o755)
    writeFileSync(
      join(dir, 'acl-setup.sh'),
      aclSetupScript([
        { name: 'user-service', accessorId: ACCESSORS[0]! },
        { name: 'gateway', accessorId: ACCESSORS[1]! },
      ]),
    )
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const runScript = (exists: boolean) => {
    const log = join(dir, `log-${String(exists)}`)
    const result = spawnSync('/bin/sh', [join(dir, 'acl-setup.sh')], {
      env: {
        PATH: `${dir}:/usr/bin:/bin`,
        LOG: log,
        EXISTS: exists ? '1' : '0',
        TOKEN_USER_SERVICE: 'secret-user',
        TOKEN_GATEWAY: 'secret-gateway',
      },
      encoding: 'utf8',
    })
    return { status: result.status, stdout: result.stdout, calls: readFileSync(log, 'utf8').trim().split('\n') }
  }

  it('creates each policy and a token with the given accessor and secret IDs on a fresh cluster', () => {
    const { status, calls, stdout } = runScript(false)
    expect(status).toBe(0)
    expect(stdout).toBe('acl: user-service\nacl: gateway\n')
    expect(calls).toContain(
      'acl policy create -name user-service -description user-service (managed by Pulumi) -rules @/acl/user-service.hcl',
    )
    expect(calls).toContain(
      `acl token create -accessor ${ACCESSORS[0]} -secret secret-user -policy-name user-service -description user-service (managed by Pulumi)`,
    )
    expect(calls).toContain(
      `acl token create -accessor ${ACCESSORS[1]} -secret secret-gateway -policy-name gateway -description gateway (managed by Pulumi)`,
    )
  })

  it('updates the policies and leaves existing tokens alone when run again', () => {
    const { status, calls } = runScript(true)
    expect(status).toBe(0)
    expect(calls).toContain('acl policy update -name user-service -rules @/acl/user-service.hcl')
    expect(calls.filter((call) => call.startsWith('acl token create') || call.startsWith('acl policy create'))).toEqual([])
  })

  it('refuses names and accessors it could not put in a shell line safely', () => {
    expect(() => aclSetupScript([{ name: 'user service; rm -rf /', accessorId: ACCESSORS[0]! }])).toThrow(/not a plain service name/)
    expect(() => aclSetupScript([{ name: 'gateway', accessorId: '$(id)' }])).toThrow(/not a UUID/)
  })
})

describe('the pod environment and timing from the model', () => {
  const resolve = {
    endpoint: (name: string) => `endpoint-of-${name}`,
    secret: (name: string) => ({ name: `secret-${name}`, key: 'value' }),
  }

  it("renders every model variable, HOST_IP before the Consul address that uses it, and the Consul CA's path last", () => {
    const env = renderEnv(byName['order-service']!, resolve)
    expect(env.map((entry) => entry.name)).toEqual(['HOST_IP', ...Object.keys(byName['order-service']!.env), 'NODE_EXTRA_CA_CERTS'])
    expect(env.find((entry) => entry.name === 'DATABASE_URL')).toEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'secret-database-url', key: 'value' } },
    })
    expect(env.find((entry) => entry.name === 'CONSUL_HTTP_ADDR')).toEqual({ name: 'CONSUL_HTTP_ADDR', value: 'endpoint-of-consul-http' })
  })

  it('gives the pod its preStop pause plus the grace the services need after SIGTERM', () => {
    for (const service of services) {
      expect(service.shutdown.preStopSeconds * 1000).toBe(service.shutdown.drainDelayMs)
      expect(terminationGracePeriodSeconds(service)).toBe(service.shutdown.preStopSeconds + service.shutdown.gracePeriodSeconds)
      expect((terminationGracePeriodSeconds(service) - service.shutdown.preStopSeconds) * 1000).toBeGreaterThan(service.shutdown.timeoutMs)
    }
  })

  it('autoscales from the configured replicas up to three times that, never above 10', () => {
    expect(autoscalingBounds(byName.gateway!)).toEqual({ min: 1, max: 3 })
    expect(autoscalingBounds(byName['order-service']!)).toEqual({ min: 4, max: 10 })
    expect(autoscalingBounds({ ...byName.gateway!, replicas: 10 })).toEqual({ min: 10, max: 10 })
  })

  it("prefixes the gateway's router rule with its host", () => {
    expect(ingressMatch('api.example.com', byName.gateway!.ingress!.routerRule)).toBe(
      'Host(`api.example.com`) && (PathPrefix(`/`) && !PathPrefix(`/metrics`) && !PathPrefix(`/health`))',
    )
  })

  it('reads versions from pinned image references', () => {
    expect(imageVersion('docker.elastic.co/elasticsearch/elasticsearch:8.19.13')).toBe('8.19.13')
    expect(imageVersion('postgres:17.10-bookworm')).toBe('17.10')
    expect(imageVersion('traefik:v3.7.10@sha256:' + '0'.repeat(64))).toBe('3.7.10')
    expect(() => imageVersion('postgres:latest')).toThrow(/no version/)
  })
})

describe('network flows', () => {
  const peers: PlatformPeers = {
    traefik: { pods: { app: 'traefik' }, namespace: 'system' },
    prometheus: { pods: { app: 'prometheus' }, namespace: 'observability' },
    consulAgents: { pods: { app: 'consul' }, namespace: 'system' },
    consulAgentPort: 8501,
    jaeger: { pods: { app: 'jaeger' }, namespace: 'observability' },
    otlpPort: 4318,
    database: { pods: { db: 'platform' }, port: 5432, statusPort: 8000 },
    databaseOperator: { pods: { app: 'cnpg' }, namespace: 'system' },
    dns: { pods: { 'k8s-app': 'kube-dns' }, namespace: 'kube-system' },
  }
  const flows = platformFlows(services, peers)

  it('lets only the published service in from the edge, and only callers the model names reach a service', () => {
    expect(flows.filter((flow) => flow.from === peers.traefik).map((flow) => flow.purpose)).toEqual(['Traefik routes the edge to gateway'])
    const callersOfUserService = flows.filter(
      (flow) =>
        'pods' in flow.to &&
        flow.to.pods['app.kubernetes.io/name'] === 'user-service' &&
        'pods' in flow.from &&
        flow.from.namespace === undefined,
    )
    expect(callersOfUserService.map((flow) => flow.purpose).sort()).toEqual([
      'gateway calls user-service',
      'order-service calls user-service',
    ])
  })

  it('renders a local flow on both ends and a flow from elsewhere on the local end only', () => {
    const names = Object.fromEntries([
      ...services.map((service) =>
        policyName({ 'app.kubernetes.io/name': service.name, 'app.kubernetes.io/part-of': 'microservice-platform' }, service.name),
      ),
      policyName(peers.database.pods, 'database'),
    ])
    const policies = Object.fromEntries(networkPolicies(flows, peers.dns, names).map((policy) => [policy.name, policy]))
    expect(policies.gateway!.spec.egress).toContainEqual({
      to: [
        {
          podSelector: { matchLabels: { 'app.kubernetes.io/name': 'user-service', 'app.kubernetes.io/part-of': 'microservice-platform' } },
        },
      ],
      ports: [{ port: 3001, protocol: 'TCP' }],
    })
    expect(policies['user-service']!.spec.ingress).toContainEqual({
      from: [
        { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway', 'app.kubernetes.io/part-of': 'microservice-platform' } } },
      ],
      ports: [{ port: 3001, protocol: 'TCP' }],
    })
    expect(policies.gateway!.purposes).toContain('Traefik routes the edge to gateway')
    expect(() => networkPolicies(flows, peers.dns, {})).toThrow(/no policy name/)
  })

  it("splits the namespace's policies by owner: each service its pods' own, the rest shared", () => {
    const { shared, services: own } = appNamespacePolicies(services, peers)
    expect(shared.map((policy) => policy.name)).toEqual(['default-deny', 'allow-dns', 'database'])
    expect(Object.keys(own).sort()).toEqual(['gateway', 'order-service', 'user-service'])
    for (const [service, policy] of Object.entries(own))
      expect(policy.spec.podSelector, service).toEqual({
        matchLabels: { 'app.kubernetes.io/name': service, 'app.kubernetes.io/part-of': 'microservice-platform' },
      })
  })
})

describe('Elastic on ECK', () => {
  it("grants the same roles as dev's setup job", () => {
    const script = elasticSetupScript()
    const roles = elasticRoles() as Record<string, unknown>
    expect(script).toContain(`/_security/role/logs_writer" -d '${JSON.stringify(roles.logs_writer)}'`)
    expect(script).toContain(`/_security/role/logs_reader" -d '${JSON.stringify(roles.logs_reader)}'`)
  })

  it("ships only the app namespace's container logs, with pod metadata, to Logstash", () => {
    const config = filebeatConfig({ appsNamespace: 'platform', logstash: 'logstash:5044' })
    expect(config['output.logstash']).toEqual({ hosts: ['logstash:5044'] })
    const [input] = config['filebeat.inputs'] as Record<string, unknown>[]
    expect(input).toMatchObject({
      type: 'filestream',
      paths: ['/var/log/containers/*_platform_*.log'],
      parsers: [{ container: { stream: 'all', format: 'auto' } }],
    })
  })
})
