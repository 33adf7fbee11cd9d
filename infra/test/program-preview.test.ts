// `pulumi preview` of both stacks, as a pull request would run it on a new stack: the engine
// answers only the inputs, so every output a provider computes (generated passwords, the app
// replicas' name suffixes, Consul's token IDs, the setup job's exit code) is unknown. The program
// must still complete and register every resource that `pulumi up` would.
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { runProgram, stackConfigFile, type CapturedResource, type ProgramRun } from './support/program.ts'
import { runProd } from './support/kubernetes.ts'

/** Whether a value, at any depth, is unknown as the mocked engine receives it. */
const isUnknown = (value: unknown) =>
  typeof value === 'object' && value !== null && (value as { __pulumiUnknown?: unknown }).__pulumiUnknown === true
const hasUnknown = (value: unknown): boolean =>
  isUnknown(value) || (typeof value === 'object' && value !== null && Object.values(value).some(hasUnknown))
const devConfig = () => stackConfigFile(new URL('../../Pulumi.dev.yaml', import.meta.url))
const keys = (run: ProgramRun) => run.resources.map((resource: CapturedResource) => `${resource.type}::${resource.name}`).sort()

const runs: Record<'dev' | 'prod', { up: ProgramRun; preview: ProgramRun }> = {} as never

beforeAll(async () => {
  const devUp = await runProgram('dev', devConfig())
  vi.resetModules()
  const devPreview = await runProgram('dev', devConfig(), '../../index.ts', { preview: true })
  vi.resetModules()
  const prodUp = await runProd()
  vi.resetModules()
  const prodPreview = await runProd({}, { preview: true })
  runs.dev = { up: devUp, preview: devPreview }
  runs.prod = { up: prodUp, preview: prodPreview }
})

describe.each(['dev', 'prod'] as const)('%s stack in preview', (stack) => {
  it('registers every resource that up registers, and nothing else', () => {
    expect(runs[stack].preview.resources.length).toBeGreaterThan(20)
    expect(keys(runs[stack].preview)).toEqual(keys(runs[stack].up))
  })

  it('runs with unknown outputs: some inputs reach the engine as unknown', () => {
    expect(runs[stack].preview.resources.some((resource) => hasUnknown(resource.inputs))).toBe(true)
    expect(runs[stack].up.resources.some((resource) => hasUnknown(resource.inputs))).toBe(false)
  })
})

describe('dev stack in preview', () => {
  it("names the app replicas only once their suffix is known: the container's name is unknown", () => {
    const replicas = runs.dev.preview.resources.filter(
      (resource) => resource.type === 'docker:index/container:Container' && resource.name.startsWith('apps-'),
    )
    expect(replicas).toHaveLength(6)
    for (const replica of replicas) expect(isUnknown(replica.inputs.name), replica.name).toBe(true)
  })
})
