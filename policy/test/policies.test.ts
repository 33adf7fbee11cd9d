// Each policy against a planted bad resource (shaped the way Pulumi hands it over: type token
// and inputs): it fires, and its message says how to fix it. Good resources of the same shapes
// pass, so a policy that fires on everything would fail here too.
import { describe, expect, it } from 'vitest'
import {
  dockerPortsOnLoopback,
  elasticsearchSecurityOn,
  grafanaNoAnonymousAdmin,
  noSecretsInPlainEnv,
  pinnedImages,
  podSecurityRestricted,
  policies,
  readinessAndLivenessProbes,
  readOnlyRootFilesystem,
  replicasAndDisruptionBudget,
  resourceRequestsAndLimits,
  traefikApiNotInsecure,
} from '../policies.ts'
import { parseImage, secretLooking, selectorMatches, TYPES, unpinnedReason } from '../resources.ts'
import { violationsOf, type TestResource } from './support/harness.ts'

type Mutable = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- fixtures are edited by path

const LABELS = { 'app.kubernetes.io/name': 'user-service', 'app.kubernetes.io/part-of': 'microservice-platform' }

/** A container as the prod renderer writes it: restricted, read-only, requests and limits, probes. */
function goodContainer(): Mutable {
  return {
    name: 'user-service',
    image: 'ghcr.io/acme/platform/user-service:86d207029f57f693',
    ports: [{ name: 'http', containerPort: 3001, protocol: 'TCP' }],
    env: [
      { name: 'PORT', value: '3001' },
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'user-service-db', key: 'uri' } } },
      { name: 'NODE_EXTRA_CA_CERTS', value: '/etc/platform/consul-ca/tls.crt' },
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    readinessProbe: { httpGet: { path: '/health/ready', port: 'http' } },
    livenessProbe: { httpGet: { path: '/health/live', port: 'http' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  }
}

function goodPodSpec(): Mutable {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [goodContainer()],
    volumes: [{ name: 'scratch', emptyDir: {} }],
  }
}

function deployment(edit: (props: Mutable) => void = () => {}): TestResource {
  const props: Mutable = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'user-service', namespace: 'platform', labels: LABELS },
    spec: { replicas: 2, selector: { matchLabels: LABELS }, template: { metadata: { labels: LABELS }, spec: goodPodSpec() } },
  }
  edit(props)
  return { type: TYPES.deployment, name: 'apps-user-service', props }
}

function podSpecOf(props: Mutable): Mutable {
  return props.spec.template.spec
}

function container(props: Mutable): Mutable {
  return podSpecOf(props).containers[0]
}

function pdb(edit: (props: Mutable) => void = () => {}): TestResource {
  const props: Mutable = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'user-service', namespace: 'platform' },
    spec: { maxUnavailable: 1, selector: { matchLabels: LABELS } },
  }
  edit(props)
  return { type: TYPES.podDisruptionBudget, name: 'apps-user-service-pdb', props }
}

function dockerContainer(edit: (props: Mutable) => void = () => {}): TestResource {
  const props: Mutable = {
    name: 'platform-dev-grafana',
    image: 'grafana/grafana:12.4.2',
    ports: [{ internal: 3000, external: 3030, ip: '127.0.0.1', protocol: 'tcp' }],
    envs: ['GF_AUTH_ANONYMOUS_ENABLED=false'],
  }
  edit(props)
  return { type: TYPES.dockerContainer, name: 'monitoring-grafana', props }
}

function release(chart: string, values: Mutable): TestResource {
  return {
    type: TYPES.helmRelease,
    name: `${chart}-release`,
    props: { name: chart, chart, version: '1.0.0', namespace: 'platform-system', values },
  }
}

function elasticsearch(config: Mutable | undefined): TestResource {
  return {
    type: TYPES.elasticsearch,
    name: 'logging-elasticsearch',
    props: {
      apiVersion: 'elasticsearch.k8s.elastic.co/v1',
      kind: 'Elasticsearch',
      metadata: { name: 'elasticsearch', namespace: 'platform-observability' },
      spec: { version: '8.19.13', nodeSets: [{ name: 'default', count: 3, ...(config === undefined ? {} : { config }) }] },
    },
  }
}

/** Messages of a policy for these resources. */
async function messages(policy: (typeof policies)[number], ...resources: TestResource[]): Promise<string[]> {
  return (await violationsOf(policy, resources)).map((violation) => violation.message)
}

/** Every violation message: "<object>: <problem>. Fix: <how>". */
function expectFixes(found: string[], fix: RegExp) {
  expect(found.length).toBeGreaterThan(0)
  for (const message of found) expect(message).toMatch(/^.+: .+\. Fix: .+/)
  expect(found.join('\n')).toMatch(fix)
}

/**
 * One planted violation per policy, by the policy's name. The list of policies comes from the
 * pack itself: a policy added without an entry here fails the first test below.
 */
const PLANTED: Readonly<Record<string, () => TestResource[]>> = {
  'pod-security-restricted': () => [deployment((p) => (container(p).securityContext.privileged = true)), pdb()],
  'read-only-root-filesystem': () => [deployment((p) => (container(p).securityContext.readOnlyRootFilesystem = false)), pdb()],
  'resource-requests-and-limits': () => [deployment((p) => delete container(p).resources.limits), pdb()],
  'readiness-and-liveness-probes': () => [deployment((p) => delete container(p).readinessProbe), pdb()],
  'replicas-and-disruption-budget': () => [deployment((p) => (p.spec.replicas = 1)), pdb()],
  'traefik-api-not-insecure': () => [release('traefik', { api: { insecure: true } })],
  'no-secrets-in-plain-env': () => [deployment((p) => container(p).env.push({ name: 'DB_PASSWORD', value: 'hunter2-but-longer' })), pdb()],
  'elasticsearch-security-on': () => [elasticsearch({ 'xpack.security.enabled': false })],
  'grafana-no-anonymous-admin': () => [
    release('kube-prometheus-stack', { grafana: { 'grafana.ini': { 'auth.anonymous': { enabled: true, org_role: 'Admin' } } } }),
  ],
  'pinned-images': () => [deployment((p) => (container(p).image = 'ghcr.io/acme/platform/user-service:latest')), pdb()],
  'docker-ports-on-loopback': () => [dockerContainer((p) => (p.ports[0].ip = '0.0.0.0'))],
}

describe('every policy of the pack', () => {
  it('has a planted violation in this file', () => {
    expect(Object.keys(PLANTED).sort()).toEqual(policies.map((policy) => policy.name).sort())
  })

  it.each(policies.map((policy) => [policy.name, policy] as const))(
    '%s fires on its planted violation, and only there, with a fix',
    async (name, policy) => {
      const planted = PLANTED[name]?.() ?? expect.unreachable(`no planted violation for ${name}`)
      expectFixes(await messages(policy, ...planted), /./)
      // The same resources of every other planted violation do not trigger this policy by accident.
      for (const [other, resources] of Object.entries(PLANTED)) {
        if (other !== name) expect(await messages(policy, ...resources()), `${name} on the violation planted for ${other}`).toEqual([])
      }
    },
  )
})

describe('the good fixtures', () => {
  it.each(policies.map((policy) => [policy.name, policy] as const))(
    '%s: a restricted Deployment with its PDB, pinned images, loopback ports and safe chart values pass',
    async (_name, policy) => {
      const resources = [
        deployment(),
        pdb(),
        dockerContainer(),
        release('traefik', {
          additionalArguments: ['--serversTransport.forwardingTimeouts.idleConnTimeout=60s'],
          ingressRoute: { dashboard: { enabled: false } },
        }),
        release('kube-prometheus-stack', { grafana: { 'grafana.ini': { 'auth.anonymous': { enabled: false } } } }),
        elasticsearch({ 'node.store.allow_mmap': false }),
      ]
      expect(await violationsOf(policy, resources)).toEqual([])
    },
  )
})

describe('pod-security-restricted', () => {
  it.each([
    [
      'runAsNonRoot unset on pod and container',
      (p: Mutable) => (delete podSpecOf(p).securityContext.runAsNonRoot, delete container(p).securityContext.runAsNonRoot),
      /set securityContext\.runAsNonRoot: true/,
    ],
    ['allowPrivilegeEscalation true', (p: Mutable) => (container(p).securityContext.allowPrivilegeEscalation = true), /set it to false/],
    ['no capabilities dropped', (p: Mutable) => delete container(p).securityContext.capabilities, /capabilities\.drop: \[ALL\]/],
    [
      'a capability added',
      (p: Mutable) => (container(p).securityContext.capabilities.add = ['SYS_ADMIN']),
      /remove them from securityContext\.capabilities\.add/,
    ],
    [
      'no seccomp profile',
      (p: Mutable) => (delete podSpecOf(p).securityContext.seccompProfile, delete container(p).securityContext.seccompProfile),
      /seccompProfile: \{ type: RuntimeDefault \}/,
    ],
    [
      'seccomp Unconfined',
      (p: Mutable) => (container(p).securityContext.seccompProfile = { type: 'Unconfined' }),
      /seccompProfile: \{ type: RuntimeDefault \}/,
    ],
    ['privileged', (p: Mutable) => (container(p).securityContext.privileged = true), /remove securityContext\.privileged/],
    ['UID 0', (p: Mutable) => (container(p).securityContext.runAsUser = 0), /non-zero UID/],
    ['host network', (p: Mutable) => (podSpecOf(p).hostNetwork = true), /remove hostNetwork/],
    [
      'a hostPath volume',
      (p: Mutable) => podSpecOf(p).volumes.push({ name: 'docker', hostPath: { path: '/var/run/docker.sock' } }),
      /emptyDir, configMap, secret or persistentVolumeClaim/,
    ],
    ['a host port', (p: Mutable) => (container(p).ports[0].hostPort = 8080), /remove hostPort/],
    [
      'an init container without a security context',
      (p: Mutable) => (podSpecOf(p).initContainers = [{ name: 'migrate', image: 'ghcr.io/acme/migrate:1.0.0' }]),
      /init container "migrate"/,
    ],
  ])('fires on %s, saying what to set', async (_case, edit, fix) => {
    expectFixes(await messages(podSecurityRestricted, deployment(edit)), fix)
  })

  it("reads the pod spec of each Pod-spec'd kind where the kind keeps it", async () => {
    const bad = { ...goodPodSpec(), containers: [{ ...goodContainer(), securityContext: {} }] }
    const kinds: TestResource[] = [
      { type: TYPES.pod, name: 'pod', props: { spec: bad } },
      { type: TYPES.statefulSet, name: 'sts', props: { spec: { template: { spec: bad } } } },
      { type: TYPES.daemonSet, name: 'ds', props: { spec: { template: { spec: bad } } } },
      { type: TYPES.job, name: 'job', props: { spec: { template: { spec: bad } } } },
      { type: TYPES.cronJob, name: 'cron', props: { spec: { jobTemplate: { spec: { template: { spec: bad } } } } } },
    ]
    for (const resource of kinds) expect(await messages(podSecurityRestricted, resource), resource.type).not.toEqual([])
  })
})

describe('read-only-root-filesystem', () => {
  it('fires on a writable root filesystem, saying to set it read-only with an emptyDir for writes', async () => {
    expectFixes(
      await messages(
        readOnlyRootFilesystem,
        deployment((p) => delete container(p).securityContext.readOnlyRootFilesystem),
      ),
      /readOnlyRootFilesystem: true and mount an emptyDir/,
    )
  })
})

describe('resource-requests-and-limits', () => {
  it('fires on a container without a memory limit, naming the missing field', async () => {
    const found = await messages(
      resourceRequestsAndLimits,
      deployment((p) => delete container(p).resources.limits.memory),
    )
    expectFixes(found, /resources\.limits\.memory.*Fix: set resources\.requests and resources\.limits/)
  })

  it('fires on a container with no resources at all', async () => {
    expectFixes(
      await messages(
        resourceRequestsAndLimits,
        deployment((p) => delete container(p).resources),
      ),
      /requests\.cpu, resources\.requests\.memory, resources\.limits\.cpu, resources\.limits\.memory/,
    )
  })
})

describe('readiness-and-liveness-probes', () => {
  it('fires on a Deployment container without a readiness probe', async () => {
    expectFixes(
      await messages(
        readinessAndLivenessProbes,
        deployment((p) => delete container(p).readinessProbe),
      ),
      /add readinessProbe, e\.g\. \{ httpGet: \{ path: '\/health\/ready'/,
    )
  })

  it('fires on a Deployment container without a liveness probe', async () => {
    expectFixes(
      await messages(
        readinessAndLivenessProbes,
        deployment((p) => delete container(p).livenessProbe),
      ),
      /add livenessProbe/,
    )
  })

  it('leaves Jobs and init containers alone: they run to completion', async () => {
    const spec = {
      ...goodPodSpec(),
      containers: [{ name: 'acl-setup', image: 'hashicorp/consul:1.22.1' }],
      initContainers: [{ name: 'wait', image: 'busybox:1.37.0' }],
    }
    expect(await messages(readinessAndLivenessProbes, { type: TYPES.job, name: 'acl', props: { spec: { template: { spec } } } })).toEqual(
      [],
    )
  })
})

describe('replicas-and-disruption-budget', () => {
  it("fires on one replica, reporting the Deployment's URN", async () => {
    const found = await violationsOf(replicasAndDisruptionBudget, [deployment((p) => (p.spec.replicas = 1)), pdb()])
    expectFixes(
      found.map((violation) => violation.message),
      /runs 1 replica\(s\), fewer than 2\. Fix: set spec\.replicas to 2 or more/,
    )
    expect(found[0]!.urn).toMatch(/Deployment::apps-user-service$/)
  })

  it('counts unset replicas as one, unless an HPA keeps at least two', async () => {
    const unset = deployment((p) => delete p.spec.replicas)
    expectFixes(await messages(replicasAndDisruptionBudget, unset, pdb()), /runs 1 replica/)
    const hpa: TestResource = {
      type: TYPES.horizontalPodAutoscaler,
      name: 'hpa',
      props: {
        metadata: { namespace: 'platform' },
        spec: { minReplicas: 2, scaleTargetRef: { kind: 'Deployment', name: 'user-service' } },
      },
    }
    expect(await messages(replicasAndDisruptionBudget, unset, pdb(), hpa)).toEqual([])
  })

  it.each([
    ['no PodDisruptionBudget', []],
    ['a budget in another namespace', [pdb((p) => (p.metadata.namespace = 'platform-system'))]],
    ['a budget selecting other pods', [pdb((p) => (p.spec.selector.matchLabels = { 'app.kubernetes.io/name': 'gateway' }))]],
  ])('fires with %s, saying which budget to add', async (_case, budgets) => {
    expectFixes(
      await messages(replicasAndDisruptionBudget, deployment(), ...budgets),
      /no PodDisruptionBudget selects its pods.*Fix: add a policy\/v1 PodDisruptionBudget in its namespace/,
    )
  })

  it('applies to StatefulSets too', async () => {
    const statefulSet = { ...deployment((p) => (p.spec.replicas = 1)), type: TYPES.statefulSet }
    expectFixes(await messages(replicasAndDisruptionBudget, statefulSet, pdb()), /StatefulSet platform\/user-service: runs 1 replica/)
  })
})

describe('traefik-api-not-insecure', () => {
  const fix = /Fix: remove api\.insecure and publish the dashboard through a router to api@internal behind authentication/

  it('fires on a Traefik release with values.api.insecure', async () => {
    expectFixes(await messages(traefikApiNotInsecure, release('traefik', { api: { insecure: true } })), fix)
  })

  it('fires on --api.insecure in additionalArguments, whatever the chart reference looks like', async () => {
    const oci = {
      ...release('traefik', { additionalArguments: ['--api.insecure=true'] }),
      props: { name: 'edge', chart: 'oci://ghcr.io/traefik/helm/traefik', values: { additionalArguments: ['--api.insecure=true'] } },
    }
    expectFixes(await messages(traefikApiNotInsecure, oci), fix)
  })

  it('fires on a Traefik container in a pod spec started with --api.insecure', async () => {
    const pod = deployment(
      (p) => (podSpecOf(p).containers = [{ ...goodContainer(), name: 'traefik', image: 'traefik:v3.7.10', args: ['--api.insecure'] }]),
    )
    expectFixes(await messages(traefikApiNotInsecure, pod), fix)
  })

  it('fires on the dev Traefik container whose static file sets api.insecure', async () => {
    const traefik = dockerContainer((p) => {
      p.image = 'traefik:v3.7.10'
      p.uploads = [
        {
          file: '/etc/traefik/traefik.yml',
          content: 'entryPoints:\n  web:\n    address: :8000\napi:\n  dashboard: true\n  insecure: true\n',
        },
      ]
    })
    expectFixes(await messages(traefikApiNotInsecure, traefik), fix)
  })

  it('ignores api.insecure in the values of other charts', async () => {
    expect(await messages(traefikApiNotInsecure, release('some-chart', { api: { insecure: true } }))).toEqual([])
  })
})

describe('no-secrets-in-plain-env', () => {
  const fix = /Fix: store it in a Secret and use valueFrom\.secretKeyRef instead of value/

  it.each([
    ['a password in a *_PASSWORD variable', { name: 'DB_PASSWORD', value: 'hunter2-but-longer' }],
    ['a token in a *_TOKEN variable', { name: 'CONSUL_HTTP_TOKEN', value: '2f3c1f7e-6f2b-4c7a-9d55-1a2b3c4d5e6f' }],
    ['a connection URL with a password', { name: 'DATABASE_URL', value: 'postgres://user_service:s3cret@platform-db-rw:5432/users' }],
    ['a private key', { name: 'TLS_KEY_PEM', value: '-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----' }],
  ])('fires on %s', async (_case, variable) => {
    expectFixes(
      await messages(
        noSecretsInPlainEnv,
        deployment((p) => container(p).env.push(variable)),
      ),
      fix,
    )
  })

  it('fires on a literal credential in an ECK pod template', async () => {
    const beat: TestResource = {
      type: 'kubernetes:beat.k8s.elastic.co/v1beta1:Beat',
      name: 'logging-filebeat',
      props: {
        metadata: { name: 'filebeat', namespace: 'platform-observability' },
        spec: {
          daemonSet: {
            podTemplate: { spec: { containers: [{ name: 'filebeat', env: [{ name: 'ES_PASSWORD', value: 'changeme-please' }] }] } },
          },
        },
      },
    }
    expectFixes(await messages(noSecretsInPlainEnv, beat), /spec\.daemonSet\.podTemplate\.spec.*ES_PASSWORD/)
  })

  it('passes secretKeyRefs, file paths, booleans, numbers and URLs without credentials', async () => {
    const clean = deployment((p) =>
      container(p).env.push(
        { name: 'CONSUL_HTTP_TOKEN', valueFrom: { secretKeyRef: { name: 'consul-token-user-service', key: 'token' } } },
        { name: 'CONSUL_CACERT', value: '/consul/ca/tls.crt' },
        { name: 'TOKEN_TTL_SECONDS', value: '300' },
        { name: 'GF_AUTH_DISABLE_LOGIN_FORM', value: 'false' },
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://jaeger.platform-observability.svc:4318' },
        { name: 'CONSUL_HTTP_ADDR', value: 'https://$(HOST_IP):8501' },
      ),
    )
    expect(await messages(noSecretsInPlainEnv, clean)).toEqual([])
  })
})

describe('elasticsearch-security-on', () => {
  const fix = /Fix: remove xpack\.security\.enabled: false \(security stays on\)/

  it.each([
    ['a boolean', { 'xpack.security.enabled': false }],
    ['a string', { 'xpack.security.enabled': 'false' }],
    ['nested keys', { xpack: { security: { enabled: false } } }],
  ])('fires when an ECK nodeSet turns security off with %s', async (_case, config) => {
    expectFixes(await messages(elasticsearchSecurityOn, elasticsearch(config)), fix)
  })

  it('passes an ECK resource that says nothing about security (ECK turns it on) or turns it on', async () => {
    expect(await messages(elasticsearchSecurityOn, elasticsearch(undefined), elasticsearch({ 'xpack.security.enabled': true }))).toEqual([])
  })

  it('fires on the dev Elasticsearch container turning it off in its environment or elasticsearch.yml', async () => {
    const byEnv = dockerContainer(
      (p) => (
        (p.image = 'docker.elastic.co/elasticsearch/elasticsearch:8.19.13'),
        (p.envs = ['discovery.type=single-node', 'xpack.security.enabled=false'])
      ),
    )
    const byFile = dockerContainer((p) => {
      p.image = 'docker.elastic.co/elasticsearch/elasticsearch:8.19.13'
      p.uploads = [
        { file: '/usr/share/elasticsearch/config/elasticsearch.yml', content: 'cluster.name: platform\nxpack.security.enabled: false\n' },
      ]
    })
    expectFixes(await messages(elasticsearchSecurityOn, byEnv), fix)
    expectFixes(await messages(elasticsearchSecurityOn, byFile), /elasticsearch\.yml sets xpack\.security\.enabled: false/)
  })
})

describe('grafana-no-anonymous-admin', () => {
  const fix = /Fix: set grafana\.ini \[auth\.anonymous\] enabled: false/
  const anonymousAdmin = { 'auth.anonymous': { enabled: true, org_role: 'Admin' } }

  it('fires on kube-prometheus-stack values letting anonymous users in as Admin', async () => {
    expectFixes(
      await messages(grafanaNoAnonymousAdmin, release('kube-prometheus-stack', { grafana: { 'grafana.ini': anonymousAdmin } })),
      fix,
    )
  })

  it('fires on the grafana chart itself, and on GF_AUTH_ANONYMOUS_* in its env', async () => {
    expectFixes(await messages(grafanaNoAnonymousAdmin, release('grafana', { 'grafana.ini': anonymousAdmin })), fix)
    expectFixes(
      await messages(
        grafanaNoAnonymousAdmin,
        release('grafana', { env: { GF_AUTH_ANONYMOUS_ENABLED: 'true', GF_AUTH_ANONYMOUS_ORG_ROLE: 'Admin' } }),
      ),
      fix,
    )
  })

  it('fires on the dev Grafana container with anonymous Admin', async () => {
    expectFixes(
      await messages(
        grafanaNoAnonymousAdmin,
        dockerContainer((p) => (p.envs = ['GF_AUTH_ANONYMOUS_ENABLED=true', 'GF_AUTH_ANONYMOUS_ORG_ROLE=Admin'])),
      ),
      fix,
    )
  })

  it('passes anonymous Viewers and anonymous access off', async () => {
    const viewer = release('kube-prometheus-stack', {
      grafana: { 'grafana.ini': { 'auth.anonymous': { enabled: true, org_role: 'Viewer' } } },
    })
    expect(
      await messages(
        grafanaNoAnonymousAdmin,
        viewer,
        release('grafana', { 'grafana.ini': { 'auth.anonymous': { enabled: false, org_role: 'Admin' } } }),
      ),
    ).toEqual([])
  })
})

describe('pinned-images', () => {
  const fix = /Fix: use an exact version tag \(e\.g\. traefik:v3\.7\.10\) or a digest/

  it.each([
    ['an untagged image', 'nginx', /has no tag, so it means latest/],
    ['latest', 'ghcr.io/acme/platform/user-service:latest', /uses the latest tag/],
    ['an untagged image on a registry with a port', 'kind-registry:5000/e2e/user-service', /has no tag/],
  ])('fires on a pod container with %s', async (_case, image, why) => {
    const found = await messages(
      pinnedImages,
      deployment((p) => (container(p).image = image)),
    )
    expectFixes(found, fix)
    expect(found.join('\n')).toMatch(why)
  })

  it('fires on Docker containers, builds and pulls with latest or no tag', async () => {
    expectFixes(
      await messages(
        pinnedImages,
        dockerContainer((p) => (p.image = 'postgres')),
      ),
      fix,
    )
    expectFixes(
      await messages(pinnedImages, { type: TYPES.dockerImage, name: 'images-gateway', props: { imageName: 'platform/gateway:latest' } }),
      fix,
    )
    expectFixes(await messages(pinnedImages, { type: TYPES.dockerRemoteImage, name: 'redis', props: { name: 'redis' } }), fix)
  })

  it('passes exact tags, digests and image IDs', async () => {
    const pinned = [
      deployment((p) => (container(p).image = 'kind-registry:5000/e2e/user-service:86d207029f57f693')),
      deployment((p) => (container(p).image = `nginx@sha256:${'a'.repeat(64)}`)),
      dockerContainer((p) => (p.image = `sha256:${'b'.repeat(64)}`)),
    ]
    expect(await messages(pinnedImages, ...pinned)).toEqual([])
  })
})

describe('docker-ports-on-loopback', () => {
  it.each([
    ['0.0.0.0', { internal: 5432, external: 5432, ip: '0.0.0.0' }, /published on 0\.0\.0\.0/],
    ['no ip (every interface)', { internal: 5432, external: 5432 }, /published on every interface/],
    ['a LAN address', { internal: 5432, external: 5432, ip: '192.168.1.10' }, /published on 192\.168\.1\.10/],
  ])('fires on a port published on %s, saying to bind it to 127.0.0.1', async (_case, port, where) => {
    const found = await messages(
      dockerPortsOnLoopback,
      dockerContainer((p) => p.ports.push(port)),
    )
    expectFixes(found, /Fix: set ip: '127\.0\.0\.1' on the port/)
    expect(found.join('\n')).toMatch(where)
  })

  it('passes loopback addresses, v4 and v6', async () => {
    expect(
      await messages(
        dockerPortsOnLoopback,
        dockerContainer((p) => p.ports.push({ internal: 1, external: 1, ip: '::1' })),
      ),
    ).toEqual([])
  })
})

describe('the pack', () => {
  it('has a planted violation above for every policy, each mandatory, with a description and remediation steps', () => {
    const planted = [
      podSecurityRestricted,
      readOnlyRootFilesystem,
      resourceRequestsAndLimits,
      readinessAndLivenessProbes,
      replicasAndDisruptionBudget,
      traefikApiNotInsecure,
      noSecretsInPlainEnv,
      elasticsearchSecurityOn,
      grafanaNoAnonymousAdmin,
      pinnedImages,
      dockerPortsOnLoopback,
    ]
    expect(new Set(policies)).toEqual(new Set(planted))
    expect(new Set(policies.map((policy) => policy.name)).size).toBe(policies.length)
    for (const policy of policies) {
      expect(policy.enforcementLevel, policy.name).toBe('mandatory')
      expect(policy.description.length, policy.name).toBeGreaterThan(20)
      expect(policy.remediationSteps?.length, policy.name).toBeGreaterThan(20)
    }
  })
})

describe('the shape helpers', () => {
  it('parseImage tells a registry port from a tag, and keeps digests', () => {
    expect(parseImage('kind-registry:5000/e2e/app')).toEqual({ repository: 'kind-registry:5000/e2e/app' })
    expect(parseImage('kind-registry:5000/e2e/app:1.2.3')).toEqual({ repository: 'kind-registry:5000/e2e/app', tag: '1.2.3' })
    expect(parseImage(`traefik:v3.7.10@sha256:${'c'.repeat(64)}`)).toEqual({
      repository: 'traefik',
      tag: 'v3.7.10',
      digest: `sha256:${'c'.repeat(64)}`,
    })
    expect(unpinnedReason('')).toBe('has no image reference')
  })

  it('secretLooking spares names that point at a credential', () => {
    expect(secretLooking('API_TOKEN_FILE', 'tokens.txt')).toBeUndefined()
    expect(secretLooking('SECRET_NAME', 'user-service-db')).toBeUndefined()
    expect(secretLooking('API_KEY', 'k-123456789')).toMatch(/name says/)
  })

  it('selectorMatches understands matchExpressions and refuses an empty selector', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] }, { app: 'b' })).toBe(true)
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['b'] }] }, { app: 'b' })).toBe(false)
    expect(selectorMatches({}, { app: 'b' })).toBe(false)
  })
})
