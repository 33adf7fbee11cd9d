// The chart values against the layout each pinned chart accepts (infra/UPSTREAM.md says where each
// key was read). Traefik's chart validates its values with a JSON schema that refuses unknown
// keys at the top level and on every port, so a key in the wrong place fails the release: the
// layout below is the one of traefik/traefik 41.2.0's values.schema.json for the keys we set.
import { describe, expect, it } from 'vitest'
import { DEFAULT_CHARTS, DEFAULT_IMAGES } from '../config.ts'
import { cloudNativePgImage } from '../kubernetes/database.ts'
import { traefikValues } from '../kubernetes/edge.ts'
import { deepPlain, objectsOfKind, releaseNamed, runProd } from './support/kubernetes.ts'

/** Top-level keys of the 41.2.0 schema (additionalProperties: false) among those a stack could set. */
const TRAEFIK_41_TOP_LEVEL = new Set([
  'accessLog',
  'additionalArguments',
  'deployment',
  'global',
  'image',
  'ingressRoute',
  'log',
  'metrics',
  'podDisruptionBudget',
  'ports',
  'providers',
  'resources',
  'service',
  'tlsOptions',
  'tlsStore',
  'updateStrategy',
])
/** Keys of one port in the 41.2.0 schema (additionalProperties: false). */
const TRAEFIK_41_PORT = new Set([
  'allowACMEByPass',
  'appProtocol',
  'asDefault',
  'containerPort',
  'expose',
  'exposedPort',
  'forwardedHeaders',
  'hostIP',
  'hostPort',
  'http',
  'http3',
  'nodePort',
  'observability',
  'port',
  'protocol',
  'proxyProtocol',
  'targetPort',
  'transport',
  'uplink',
])

describe('traefik/traefik values', () => {
  const values = traefikValues({ watchNamespaces: ['platform', 'platform-system'], tlsSecret: 'wildcard' }) as unknown as Record<
    string,
    Record<string, unknown>
  >

  it('is pinned at 41.2.0, the layout below', () => {
    expect(DEFAULT_CHARTS.traefik).toBe('41.2.0')
  })

  it('sets only top-level keys the schema knows (no `logs`, which 41 renamed to `log` and `accessLog`)', () => {
    for (const key of Object.keys(values)) expect(TRAEFIK_41_TOP_LEVEL, key).toContain(key)
    expect(values).not.toHaveProperty('logs')
  })

  it('nests the HTTP → HTTPS redirection under ports.web.http, the only place a port accepts it', () => {
    const web = (values.ports as Record<string, Record<string, unknown>>).web!
    for (const key of Object.keys(web)) expect(TRAEFIK_41_PORT, key).toContain(key)
    expect(web).toEqual({ http: { redirections: { entryPoint: { to: 'websecure', scheme: 'https', permanent: true } } } })
  })

  it('uses the enums of log.format, log.level and accessLog.format', () => {
    expect(['common', 'json']).toContain(values.log!.format)
    expect(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'PANIC']).toContain(values.log!.level)
    expect(values.accessLog).toEqual({ enabled: true, format: 'json' })
    expect(['common', 'genericCLF', 'json']).toContain(values.accessLog!.format)
  })

  it("runs the Traefik of dev's image: the chart's default image is its appVersion v3.7.10", () => {
    expect(DEFAULT_IMAGES.traefik).toBe('traefik:v3.7.10')
    expect(values).not.toHaveProperty('image')
  })
})

describe('cloudNativePgImage', () => {
  it("takes dev's PostgreSQL version and Debian release into the maintained standard image", () => {
    expect(cloudNativePgImage('postgres:17.10-bookworm')).toBe('ghcr.io/cloudnative-pg/postgresql:17.10-standard-bookworm')
    expect(cloudNativePgImage(`postgres:18.4-trixie@sha256:${'0'.repeat(64)}`)).toBe(
      'ghcr.io/cloudnative-pg/postgresql:18.4-standard-trixie',
    )
  })

  it('refuses a dev tag that names no Debian release (no CloudNativePG image would match it)', () => {
    expect(() => cloudNativePgImage('postgres:17.10-alpine')).toThrow(/images\.postgres="postgres:17\.10-alpine"/)
    expect(() => cloudNativePgImage('postgres:17.10')).toThrow(/<major\.minor>-<debian>/)
  })
})

describe('prod stack with a StorageClass', () => {
  it("puts Logstash's data claim (ECK's default `logstash-data`) and Prometheus's on that class", async () => {
    const run = await runProd({
      'microservice-platform:kubernetes': JSON.stringify({ context: 'prod', domain: 'platform.example.com', storageClass: 'fast-ssd' }),
    })
    const logstash = objectsOfKind(run, 'Logstash')[0]! as unknown as { spec: { volumeClaimTemplates: unknown[] } }
    expect(logstash.spec.volumeClaimTemplates).toEqual([
      {
        metadata: { name: 'logstash-data' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1.5Gi' } }, storageClassName: 'fast-ssd' },
      },
    ])
    const kps = deepPlain(releaseNamed(run, 'kube-prometheus-stack').inputs.values) as {
      prometheus: { prometheusSpec: { storageSpec: { volumeClaimTemplate: { spec: { storageClassName: string } } } } }
    }
    expect(kps.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName).toBe('fast-ssd')
    const jaeger = deepPlain(releaseNamed(run, 'jaeger').inputs.values) as { fullnameOverride: string; jaeger: Record<string, unknown> }
    // 4.11.1's Service is the release's fullname: `jaeger`, with otlp-http 4318 and http-query 16686.
    expect(jaeger.fullnameOverride).toBe('jaeger')
    expect(Object.keys(jaeger.jaeger).sort()).toEqual([
      'enabled',
      'podSecurityContext',
      'replicas',
      'resources',
      'securityContext',
      'service',
    ])
  })
})
