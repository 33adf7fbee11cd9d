// The pack loaded the way `pulumi preview --policy-pack policy` loads it: Pulumi's own runner
// (@pulumi/pulumi/cmd/run-policy-pack, resolved from policy/ like the pulumi-analyzer-policy
// script does, with ts-node registered as it always is) started in policy/, then asked over the
// analyzer gRPC protocol the engine uses: which policies it has, and what it says about a bad
// resource and a bad stack. No Pulumi CLI is needed for this; the engine side is not exercised.
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { policies } from '../policies.ts'

const POLICY_DIR = fileURLToPath(new URL('..', import.meta.url))
// Resolved from the pack's folder, as the runner script resolves it, and the gRPC pieces from
// @pulumi/pulumi's own dependencies, so client and server speak through the same stubs.
const fromPack = createRequire(`${POLICY_DIR}package.json`)
const runPolicyPack = fromPack.resolve('@pulumi/pulumi/cmd/run-policy-pack')
const fromPulumi = createRequire(fromPack.resolve('@pulumi/pulumi'))

interface Message {
  toObject(): unknown
}
interface Struct {
  fromJavaScript(value: Record<string, unknown>): unknown
}
interface Diagnostic {
  getPolicyname(): string
  getMessage(): string
  getEnforcementlevel(): number
  getUrn(): string
}
type Callback<T> = (error: Error | null, response: T) => void
interface AnalyzerClient {
  getAnalyzerInfo(
    request: unknown,
    callback: Callback<{ getName(): string; getPoliciesList(): { getName(): string; getEnforcementlevel(): number }[] }>,
  ): void
  analyze(request: unknown, callback: Callback<{ getDiagnosticsList(): Diagnostic[] }>): void
  analyzeStack(request: unknown, callback: Callback<{ getDiagnosticsList(): Diagnostic[] }>): void
  close(): void
}

const grpc = fromPulumi('@grpc/grpc-js') as { credentials: { createInsecure(): unknown } }
const services = fromPulumi('./proto/analyzer_grpc_pb.js') as {
  AnalyzerClient: new (address: string, credentials: unknown) => AnalyzerClient
}
const messages = fromPulumi('./proto/analyzer_pb.js') as Record<string, new () => Message & Record<string, (value: unknown) => unknown>> & {
  EnforcementLevel: Record<string, number>
}
const { Struct } = fromPulumi('google-protobuf/google/protobuf/struct_pb.js') as { Struct: Struct }
const { Empty } = fromPulumi('google-protobuf/google/protobuf/empty_pb.js') as { Empty: new () => unknown }

const LABELS = { app: 'gateway' }
const container = (securityContext: Record<string, unknown>) => ({
  name: 'gateway',
  image: 'ghcr.io/acme/platform/gateway:2c1874fd4605fca2',
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  readinessProbe: { httpGet: { path: '/health/ready', port: 3000 } },
  livenessProbe: { httpGet: { path: '/health/live', port: 3000 } },
  securityContext: {
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    ...securityContext,
  },
})
const deployment = (securityContext: Record<string, unknown>) => ({
  metadata: { name: 'gateway', namespace: 'platform' },
  spec: {
    replicas: 2,
    selector: { matchLabels: LABELS },
    template: { metadata: { labels: LABELS }, spec: { containers: [container(securityContext)] } },
  },
})
const DEPLOYMENT = 'kubernetes:apps/v1:Deployment'
const URN = `urn:pulumi:prod::microservice-platform::${DEPLOYMENT}::apps-gateway`

function resource(kind: 'AnalyzeRequest' | 'AnalyzerResource', props: Record<string, unknown>) {
  const request = new messages[kind]!()
  request.setType!(DEPLOYMENT)
  request.setName!('apps-gateway')
  request.setUrn!(URN)
  request.setProperties!(Struct.fromJavaScript(props))
  // The engine always sends the resource options (protect, ignoreChanges, ...); defaults here.
  request.setOptions!(new messages.AnalyzerResourceOptions!())
  return request
}

const call = <T>(method: (request: unknown, callback: Callback<T>) => void, request: unknown) =>
  new Promise<T>((resolve, reject) => method(request, (error, response) => (error === null ? resolve(response) : reject(error))))

let server: ChildProcess
let client: AnalyzerClient
let stderr = ''

beforeAll(async () => {
  // The engine address is the runner's first argument; this test is the engine, so any will do.
  server = spawn(process.execPath, [runPolicyPack, '127.0.0.1:1', '.'], {
    cwd: POLICY_DIR,
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
  })
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = ''
    server.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /^(\d+)\s*$/m.exec(stdout)
      if (match !== null) resolve(Number(match[1]))
    })
    server.on('exit', (code) => reject(new Error(`the policy pack exited with ${code} before listening: ${stderr}`)))
  })
  client = new services.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
}, 60_000)

afterAll(() => {
  client?.close()
  server?.kill()
})

describe("the policy pack under Pulumi's policy runner", () => {
  it('starts, and lists every policy as mandatory', async () => {
    const info = await call(client.getAnalyzerInfo.bind(client), new Empty())
    expect(info.getName()).toBe('microservice-platform')
    const listed = info.getPoliciesList()
    expect(listed.map((policy) => policy.getName()).sort()).toEqual(policies.map((policy) => policy.name).sort())
    expect(listed.length).toBeGreaterThan(0)
    for (const policy of listed) expect(policy.getEnforcementlevel(), policy.getName()).toBe(messages.EnforcementLevel.MANDATORY)
  })

  it('answers Analyze for a Deployment allowed to escalate with a mandatory violation that says how to fix it', async () => {
    const response = await call(client.analyze.bind(client), resource('AnalyzeRequest', deployment({ allowPrivilegeEscalation: true })))
    const diagnostics = response.getDiagnosticsList()
    expect(diagnostics.map((diagnostic) => [diagnostic.getPolicyname(), diagnostic.getEnforcementlevel()])).toEqual([
      ['pod-security-restricted', messages.EnforcementLevel.MANDATORY],
    ])
    expect(diagnostics[0]!.getMessage()).toMatch(/allowPrivilegeEscalation: false\. Fix: set it to false/)
  })

  it('answers Analyze for a compliant Deployment with no violation', async () => {
    const response = await call(client.analyze.bind(client), resource('AnalyzeRequest', deployment({ allowPrivilegeEscalation: false })))
    expect(response.getDiagnosticsList().map((diagnostic) => diagnostic.getMessage())).toEqual([])
  })

  it('answers AnalyzeStack for a Deployment without a PodDisruptionBudget, pointing at its URN', async () => {
    const request = new messages.AnalyzeStackRequest!()
    request.setResourcesList!([resource('AnalyzerResource', deployment({ allowPrivilegeEscalation: false }))])
    const diagnostics = (await call(client.analyzeStack.bind(client), request)).getDiagnosticsList()
    expect(diagnostics.map((diagnostic) => [diagnostic.getPolicyname(), diagnostic.getUrn()])).toEqual([
      ['replicas-and-disruption-budget', URN],
    ])
    expect(diagnostics[0]!.getMessage()).toMatch(/no PodDisruptionBudget selects its pods/)
  })
})
