interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
}

export interface ProfileShare {
  readonly name: string
  /** Percent of the samples in the windows. */
  readonly percent: number
}

export interface ProfileSummary {
  readonly samples: number
  /** Self time rolled up by what it is for (approximate: Node's socket code serves every connection). */
  readonly areas: readonly ProfileShare[]
  /** Self time by component; native frames are charged to the nearest JavaScript caller's. */
  readonly components: readonly ProfileShare[]
  /** Self time by function, natives charged to their caller as `native (caller)`. */
  readonly functions: readonly ProfileShare[]
}

/** Monotonic clock in microseconds: the clock V8 stamps `.cpuprofile` samples with on Linux. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/** Summarizes a V8 `.cpuprofile` (the object, as `node --cpu-prof` writes it), idle samples left out. */
export function summarizeProfile(cpuProfile: unknown, top = 20): ProfileSummary {
  const profile = cpuProfile as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  // Each node's component and the name its self time is listed under, resolved once.
  const resolved = new Map<number, { component: string; fn: string }>()
  const resolve = (id: number): { component: string; fn: string } => {
    const known = resolved.get(id)
    if (known !== undefined) return known
    const frame = byId.get(id)!.callFrame
    let result: { component: string; fn: string }
    if (frame.url !== '') {
      result = {
        component: componentOf(frame.url),
        fn: `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`,
      }
    } else if (/^\((garbage collector|idle|program|root)\)$/.test(frame.functionName)) {
      result = { component: frame.functionName, fn: frame.functionName }
    } else {
      const up = parent.get(id)
      const caller = up === undefined ? undefined : resolve(up)
      const name = `${frame.functionName || '(native)'} (native)`
      result = caller === undefined ? { component: '(native)', fn: name } : { component: caller.component, fn: `${name} ← ${caller.fn}` }
    }
    resolved.set(id, result)
    return result
  }

  const components = new Map<string, number>()
  const functions = new Map<string, number>()
  let samples = 0
  for (const sample of profile.samples) {
    const { component, fn } = resolve(sample)
    if (component === '(idle)') continue
    samples += 1
    components.set(component, (components.get(component) ?? 0) + 1)
    functions.set(fn, (functions.get(fn) ?? 0) + 1)
  }
  const shares = (counts: Map<string, number>): ProfileShare[] =>
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => ({ name, percent: (100 * count) / Math.max(1, samples) }))
  const areas = new Map<string, number>()
  for (const [component, count] of components) areas.set(areaOf(component), (areas.get(areaOf(component)) ?? 0) + count)
  return { samples, areas: shares(areas), components: shares(components), functions: shares(functions) }
}

const AREAS: readonly (readonly [string, RegExp])[] = [
  [
    'tracing (OpenTelemetry: spans, context, export)',
    /^(@opentelemetry\/|@fastify\/otel$|node:async_local_storage$|node:async_context_frame$|node:diagnostics_channel$)/,
  ],
  ['logging (pino, ECS format, stdout writes)', /^(pino|sonic-boom|@elastic\/|node:fs$|kit\/plugins\/access-log)/],
  ['upstream client (undici, balancer, proxy handler)', /^(undici$|kit\/upstream\/|gateway\/plugins\/proxy)/],
  ['metrics (prom-client)', /^(prom-client$|kit\/plugins\/metrics)/],
  [
    'protection (rate limit, load shedding, headers)',
    /^(@fastify\/rate-limit$|@fastify\/under-pressure$|toad-cache$|kit\/plugins\/load-shedding|gateway\/plugins\/security-headers)/,
  ],
  ['garbage collection', /^\(garbage collector\)$/],
  ['Fastify and Node HTTP/socket I/O', /^(fastify$|find-my-way$|avvio$|fastify-plugin$|@fastify\/|light-my-request$|node:|kit\/)/],
]

function areaOf(component: string): string {
  return AREAS.find(([, pattern]) => pattern.test(component))?.[0] ?? 'other'
}

/** A package name for node_modules files, `node:<module>` for Node's own, the workspace path otherwise. */
function componentOf(url: string): string {
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (module !== null) return module[1]!
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').replace(/\/.*$/, '')
  const workspace = /\/services\/([^/]+)\/src\/(.*)$/.exec(url)
  if (workspace !== null) return `${workspace[1]}/${workspace[2]}`
  return url
}

function shortUrl(url: string): string {
  return url
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\/.*\/services\//, '')
    .replace(/^node:/, '')
}
