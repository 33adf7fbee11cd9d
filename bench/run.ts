// `npm run bench`: the gateway's benchmark. Starts a user-service, our gateway in front of it
// (production defaults: discovery, metrics, tracing to a local OTLP sink, one access log line per
// request) and a plain @fastify/reply-from proxy in front of the same user-service, drives the
// same load against all three in alternation for several rounds, and prints a table of medians
// plus PASS/MISS per target. A measurement, not a test: it exits 0 on a MISS. See bench/README.md.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, release } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePorts } from '../scripts/lib/ports.ts'
import { startService, type ServiceName } from '../scripts/lib/service-process.ts'
import { autocannonRun, paced, type LoadResult } from './lib/load.ts'
import { allowedCpus, canPin, cpuMicros, cpuTimes, LogDrain, pin, rssBytes, spawnPinned, timeToReady } from './lib/proc.ts'
import { RemoteProfiler } from './lib/inspector.ts'
import { monotonicMicros, summarizeProfile, type ProfileSummary } from './lib/profile.ts'
import { deltaMs, fixed, ms, table } from './lib/report.ts'
import { CountingSink } from './lib/sink.ts'
import { median } from './lib/stats.ts'

const USAGE = `usage: npm run bench -- [options]

  --rounds N            rounds of (direct, gateway, reply-from), medians reported   (3)
  --duration S          seconds of each measured saturation run                     (8)
  --warmup S            seconds of initial warm-up per target                       (10)
  --connections N       concurrent connections of the saturation runs               (50)
  --rate R              fixed offered rate of the latency runs, requests/s          (1000)
  --rate-duration S     seconds of each fixed-rate run                              (5)
  --rate-tool T         paced (open loop, default) or autocannon (overallRate)
  --starts N            gateway starts timed for start-to-ready (median)            (3)
  --logging MODE        production (default): gateway LOG_REQUESTS=true and one access
                        line per request in reply-from; off: no request logs in either
  --no-tracing          gateway without OTEL_EXPORTER_OTLP_ENDPOINT (diagnosis only)
  --gateway-env K=V     extra gateway environment, repeatable (experiments, e.g.
                        OTEL_TRACES_SAMPLER=parentbased_traceidratio); shown in the header
  --pin MODE            split (default): load generator and OTLP sink on CPU 0, every
                        server on CPU 1; none: no pinning
  --cpu-prof            after the rounds, one more gateway saturation run under V8's CPU
                        profiler (the gateway alone on its core): writes the .cpuprofile
                        next to the results and prints where the gateway's CPU goes
  --long                rounds 5, duration 15, warmup 10, rate-duration 10
  --quick               rounds 1, duration 3, warmup 2, rate-duration 2, starts 1 (smoke test)
  -h, --help`

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    'rate-duration': { type: 'string' },
    'rate-tool': { type: 'string' },
    starts: { type: 'string' },
    logging: { type: 'string' },
    'no-tracing': { type: 'boolean' },
    'gateway-env': { type: 'string', multiple: true },
    pin: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    long: { type: 'boolean' },
    quick: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (flags.help === true) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}

const preset = flags.quick === true ? { rounds: 1, duration: 3, warmup: 2, rateDuration: 2, starts: 1 } : flags.long === true ? { rounds: 5, duration: 15, warmup: 10, rateDuration: 10, starts: 3 } : { rounds: 3, duration: 8, warmup: 10, rateDuration: 5, starts: 3 }
const number = (flag: string | undefined, fallback: number, name: string): number => {
  if (flag === undefined) return fallback
  const value = Number(flag)
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} must be a positive number, got ${flag}`)
  return value
}
const choice = <T extends string>(flag: string | undefined, allowed: readonly T[], name: string): T => {
  if (flag === undefined) return allowed[0]!
  if (!(allowed as readonly string[]).includes(flag)) fail(`--${name} must be one of ${allowed.join(', ')}, got ${flag}`)
  return flag as T
}
const cpuCount = cpus().length
const settings = {
  rounds: Math.round(number(flags.rounds, preset.rounds, 'rounds')),
  duration: number(flags.duration, preset.duration, 'duration'),
  warmup: number(flags.warmup, preset.warmup, 'warmup'),
  connections: Math.round(number(flags.connections, 50, 'connections')),
  rate: number(flags.rate, 1000, 'rate'),
  rateDuration: number(flags['rate-duration'], preset.rateDuration, 'rate-duration'),
  rateTool: choice(flags['rate-tool'], ['paced', 'autocannon'] as const, 'rate-tool'),
  starts: Math.round(number(flags.starts, preset.starts, 'starts')),
  logging: choice(flags.logging, ['production', 'off'] as const, 'logging'),
  tracing: flags['no-tracing'] !== true,
  pin: choice(flags.pin, ['split', 'none'] as const, 'pin'),
  cpuProf: flags['cpu-prof'] === true,
  gatewayEnv: Object.fromEntries(
    (flags['gateway-env'] ?? []).map((pair) => {
      const at = pair.indexOf('=')
      if (at <= 0) fail(`--gateway-env takes KEY=VALUE, got ${pair}`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  ) as Record<string, string>,
}
if (settings.pin === 'split' && !canPin(cpuCount)) {
  process.stdout.write(`note: pinning needs taskset and 2 CPUs (found ${cpuCount}); running unpinned\n`)
  settings.pin = 'none'
}
const LOADER_CPU = settings.pin === 'split' ? '0' : undefined
const SERVER_CPU = settings.pin === 'split' ? '1' : undefined
/** Connections of the fixed-rate runs: far more than needed at 1,000 req/s, so a stall queues on the server, not in the client. */
const RATE_CONNECTIONS = 16
const PATH = '/users/1'

const TARGETS = [
  { name: 'direct', label: 'direct (user-service)' },
  { name: 'gateway', label: 'our gateway' },
  { name: 'reply-from', label: '@fastify/reply-from' },
] as const
type TargetName = (typeof TARGETS)[number]['name']

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(2)
}

/** A server process of the benchmark. */
interface Server {
  readonly pid: number
  readonly url: string
  readonly output: LogDrain
  readonly startToReadyMs: number
  stop(signal: NodeJS.Signals): Promise<unknown>
}

const repoRoot = fileURLToPath(new URL('../', import.meta.url))
const resultsDir = join(repoRoot, 'bench', 'results')
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
const log = (line = '') => process.stdout.write(`${line}\n`)
const running: Server[] = []

/** Starts a service the way production does (scripts/lib/service-process.ts), pinned from its first instruction. */
async function startPlatformService(name: ServiceName, port: number, env: Record<string, string>): Promise<Server> {
  const started = performance.now()
  const pending = spawnPinned(SERVER_CPU, LOADER_CPU, () => startService({ name, port, env, readyTimeoutMs: 30_000 }))
  // Our own 5 ms poll times readiness; startService's 100 ms poll would round it up.
  const [startToReadyMs, service] = await Promise.all([timeToReady(`http://127.0.0.1:${port}/health/ready`, started), pending])
  const server: Server = {
    pid: service.child.pid!,
    url: service.url,
    output: new LogDrain(service.child),
    startToReadyMs,
    stop: (signal) => service.stop(signal),
  }
  running.push(server)
  return server
}

async function startReplyFrom(port: number, upstream: string): Promise<Server> {
  const started = performance.now()
  const child = spawnPinned(SERVER_CPU, LOADER_CPU, () =>
    spawn(process.execPath, [fileURLToPath(new URL('./reply-from-proxy.ts', import.meta.url))], {
      env: { PATH: process.env.PATH, PORT: String(port), UPSTREAM_URL: upstream, ACCESS_LOG: String(settings.logging === 'production') },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  const output = new LogDrain(child)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let ready = false
  const startToReadyMs = await Promise.race([
    timeToReady(`http://127.0.0.1:${port}/health/ready`, started).finally(() => (ready = true)),
    exited.then(() => (ready ? new Promise<never>(() => {}) : fail(`reply-from proxy exited before it was ready:\n${output.tail()}`))),
  ])
  const server: Server = {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    output,
    startToReadyMs,
    stop: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
  running.push(server)
  return server
}

async function stopAll(signal: NodeJS.Signals = 'SIGKILL') {
  const servers = running.splice(0)
  await Promise.all(servers.map((server) => server.stop(signal)))
  for (const server of servers) server.output.stop()
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)))
// Whatever happens, no server outlives the benchmark (the drains exit when their IPC channel closes).
process.on('exit', () => {
  for (const server of running) {
    try {
      process.kill(server.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})

// ---------------------------------------------------------------------------------------------
// Start-up

if (LOADER_CPU !== undefined) pin(process.pid, LOADER_CPU)
const sink = new CountingSink()
const sinkUrl = await sink.start()
const [userPort, replyFromPort, noOrderServicePort, ...gatewayPorts] = await freePorts(3 + settings.starts)

log('starting user-service, gateway, reply-from proxy…')

async function startAll(): Promise<{ user: Server; gateway: Server; replyFrom: Server; gatewayStarts: number[] }> {
  // The upstream, the same for all three targets: production build, embedded PGlite in memory
  // with its seed rows; kept lean (no tracing, warnings only) so the upstream does not flatter
  // the proxies' ratios to direct.
  const user = await startPlatformService('user-service', userPort!, { LOG_LEVEL: 'warn' })

  const gatewayEnv: Record<string, string> = {
    USER_SERVICE_URLS: user.url,
    // Required at boot (the /orders proxy), never called by the benchmark: nothing listens there.
    ORDER_SERVICE_URLS: `http://127.0.0.1:${noOrderServicePort}`,
    // The default 6,000/min per client IP would turn the run into 429s.
    RATE_LIMIT_MAX: '1000000000',
  }
  if (settings.tracing) gatewayEnv.OTEL_EXPORTER_OTLP_ENDPOINT = sinkUrl
  if (settings.logging === 'off') gatewayEnv.LOG_REQUESTS = 'false'
  Object.assign(gatewayEnv, settings.gatewayEnv)
  // Extra starts only time start-to-ready; the last one serves the load.
  const gatewayStarts: number[] = []
  let gateway: Server | undefined
  for (let start = 0; start < settings.starts; start++) {
    const last = start === settings.starts - 1
    const server = await startPlatformService('gateway', gatewayPorts[start]!, gatewayEnv)
    gatewayStarts.push(server.startToReadyMs)
    if (last) gateway = server
    else {
      await server.stop('SIGKILL')
      server.output.stop()
      running.splice(running.indexOf(server), 1)
    }
  }
  const replyFrom = await startReplyFrom(replyFromPort!, user.url)
  return { user, gateway: gateway!, replyFrom, gatewayStarts }
}

const { user, gateway, replyFrom, gatewayStarts } = await startAll().catch(async (error: unknown) => {
  await stopAll()
  await sink.stop()
  return fail(`start-up failed: ${(error as Error).message}`)
})

const targetUrl: Record<TargetName, string> = {
  direct: `${user.url}${PATH}`,
  gateway: `${gateway.url}${PATH}`,
  'reply-from': `${replyFrom.url}${PATH}`,
}
for (const target of TARGETS) {
  const response = await fetch(targetUrl[target.name])
  const body = await response.text()
  if (response.status !== 200) fail(`${target.label} answered ${response.status} to GET ${PATH}: ${body}`)
}
if (settings.pin === 'split') {
  for (const server of [user, gateway, replyFrom]) pin(server.pid, SERVER_CPU!) // every thread, whatever it inherited
}

// ---------------------------------------------------------------------------------------------
// Header

const model = cpus()[0]?.model.trim() ?? 'unknown CPU'
const header = [
  `gateway benchmark — ${new Date().toISOString()}`,
  `machine: ${cpuCount} × ${model}, Linux ${release()}, Node ${process.version}`,
  settings.pin === 'split'
    ? `pinning: load generator (autocannon, this process), OTLP sink and log drains on CPU ${LOADER_CPU}; user-service, gateway and reply-from on CPU ${SERVER_CPU} (one core for the system under test)`
    : 'pinning: none (the scheduler places every process)',
  `load: GET ${PATH} (user-service reads it from PGlite in memory); saturation: autocannon, ${settings.connections} connections, ${settings.duration} s per run after a 1 s settle, ${settings.warmup} s warm-up per target first; ${settings.rounds} round(s) alternating direct → gateway → reply-from, medians shown`,
  `fixed rate: ${settings.rate} req/s for ${settings.rateDuration} s per target and round, ${settings.rateTool === 'paced' ? `open loop (requests issued on a clock, ${RATE_CONNECTIONS} keep-alive connections)` : `autocannon overallRate, ${RATE_CONNECTIONS} connections (closed-loop bursts each second)`}; added = gateway − direct, same round${settings.pin === 'split' ? `; during these runs the user-service moves to CPU ${LOADER_CPU} so that proxy and upstream do not share a core` : ''}`,
  `user-service (upstream of all three): started as in production, LOG_LEVEL=warn, no tracing (a lean upstream: a heavier one would flatter every proxy's ratio to direct)`,
  `our gateway: production defaults — static discovery (USER_SERVICE_URLS; Consul's resolver serves the same cached list per request), Prometheus metrics, ${settings.tracing ? 'tracing on (default sampler: every request sampled) exporting to a local OTLP sink' : 'TRACING OFF (--no-tracing)'}, ${settings.logging === 'production' ? 'LOG_REQUESTS=true (one ECS JSON access line per request)' : 'LOG_REQUESTS=false'}, rate limit raised to 1e9/min`,
  ...(Object.keys(settings.gatewayEnv).length > 0 ? [`gateway environment overrides (an experiment, not production defaults): ${Object.entries(settings.gatewayEnv).map(([key, value]) => `${key}=${value}`).join(' ')}`] : []),
  `reply-from: plain Fastify + @fastify/reply-from defaults, ${settings.logging === 'production' ? 'one pino JSON access line per request (the same kind and amount of logging as ours)' : 'no request logging'}; no metrics, tracing, rate limit or security headers`,
  'stdout of every server: drained and counted by a helper process per server (bench/lib/drain.ts), not by the load generator',
]
log()
for (const line of header) log(line)
log()

// ---------------------------------------------------------------------------------------------
// Load

/** CPU time of each process of the benchmark and of the whole machine, at one instant. */
interface Snapshot {
  readonly at: number
  readonly user: number
  readonly gateway: number
  readonly replyFrom: number
  readonly loader: number
  readonly machineBusy: number
  readonly machineSteal: number
}

function snapshot(): Snapshot {
  const loader = process.cpuUsage()
  const machine = cpuTimes()
  return {
    at: monotonicMicros(),
    user: cpuMicros(user.pid),
    gateway: cpuMicros(gateway.pid),
    replyFrom: cpuMicros(replyFrom.pid),
    // The load generator, the sink and the log drains: everything of ours on the loader core.
    loader: loader.user + loader.system + [user, gateway, replyFrom].reduce((sum, server) => sum + cpuMicros(server.output.pid), 0),
    machineBusy: machine.busy.reduce((sum, value) => sum + value, 0),
    machineSteal: machine.steal.reduce((sum, value) => sum + value, 0),
  }
}

/** CPU µs each process used between two snapshots, and the share of the machine used by anything else. */
function usage(before: Snapshot, after: Snapshot) {
  const wall = after.at - before.at
  const cpu = {
    user: after.user - before.user,
    gateway: after.gateway - before.gateway,
    replyFrom: after.replyFrom - before.replyFrom,
    loader: after.loader - before.loader,
  }
  const ours = cpu.user + cpu.gateway + cpu.replyFrom + cpu.loader
  return {
    wall,
    cpu,
    /** Busy time of processes outside the benchmark (and the kernel's own work), share of all CPUs. */
    foreign: Math.max(0, after.machineBusy - before.machineBusy - ours) / (wall * cpuCount),
    /** Time the hypervisor ran something else on our vCPUs, share of all CPUs. */
    steal: (after.machineSteal - before.machineSteal) / (wall * cpuCount),
  }
}

interface SaturationRun extends LoadResult {
  readonly target: TargetName
  readonly round: number
  /** CPU µs per response, by process (loader: this process and the log drains). */
  readonly cpuPerRequest: { readonly user: number; readonly gateway: number; readonly replyFrom: number; readonly loader: number }
  /** Share of one core the servers used together during the run (1 = the server core was saturated). */
  readonly serverCoreBusy: number
  /** Share of the machine's CPU used by other processes during the run, and stolen by the hypervisor. */
  readonly foreign: number
  readonly steal: number
  readonly rssMb: { readonly user: number; readonly gateway: number; readonly replyFrom: number }
  readonly spansPerRequest: number
  readonly logLinesPerRequest: number
}

interface RateRun extends LoadResult {
  readonly target: TargetName
  readonly round: number
  readonly maxInFlight?: number
  /** CPU µs per response of the proxy under test (NaN for direct) and of the user-service. */
  readonly proxyCpuPerRequest: number
  readonly userCpuPerRequest: number
  /** The target's own event-loop lag maximum and GC during the run (gateway and user-service). */
  readonly pauses: ReturnType<typeof pausesDuring> | undefined
  readonly foreign: number
  readonly steal: number
}

const saturationRuns: SaturationRun[] = []
const rateRuns: RateRun[] = []
const proxyOf = { direct: undefined, gateway, 'reply-from': replyFrom } as const

async function saturation(target: TargetName, round: number): Promise<SaturationRun> {
  const url = targetUrl[target]
  await autocannonRun(url, { connections: settings.connections, seconds: 1 })
  const spans0 = sink.spans
  const lines0 = (await proxyOf[target]?.output.counts())?.lines ?? 0
  const before = snapshot()
  const load = await autocannonRun(url, { connections: settings.connections, seconds: settings.duration })
  const after = snapshot()
  const { wall, cpu, foreign, steal } = usage(before, after)
  const responses = Math.max(1, load.ok + load.non2xx)
  const mb = (pid: number) => rssBytes(pid) / 2 ** 20
  return {
    ...load,
    target,
    round,
    cpuPerRequest: {
      user: cpu.user / responses,
      gateway: cpu.gateway / responses,
      replyFrom: cpu.replyFrom / responses,
      loader: cpu.loader / responses,
    },
    serverCoreBusy: (cpu.user + cpu.gateway + cpu.replyFrom) / (wall * (settings.pin === 'split' ? 1 : cpuCount)),
    foreign,
    steal,
    rssMb: { user: mb(user.pid), gateway: mb(gateway.pid), replyFrom: mb(replyFrom.pid) },
    spansPerRequest: target === 'gateway' ? (sink.spans - spans0) / responses : 0,
    logLinesPerRequest: (((await proxyOf[target]?.output.counts())?.lines ?? 0) - lines0) / responses,
  }
}

/** What a service's Prometheus metrics say about pauses: event-loop lag and GC (counters since start; the lag max since the last scrape). */
interface PauseMetrics {
  readonly lagMaxMs: number
  readonly gc: Record<string, { readonly seconds: number; readonly count: number }>
}

async function pauses(origin: string): Promise<PauseMetrics> {
  const text = await (await fetch(`${origin}/metrics`)).text()
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN)
  const gc: Record<string, { seconds: number; count: number }> = {}
  for (const match of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{[^}]*kind="(\w+)"[^}]*\} (\S+)$/gm)) {
    const entry = (gc[match[2]!] ??= { seconds: 0, count: 0 })
    if (match[1] === 'sum') entry.seconds = Number(match[3])
    else entry.count = Number(match[3])
  }
  return { lagMaxMs: 1000 * value(/^nodejs_eventloop_lag_max_seconds\{[^}]*\} (\S+)$/m), gc }
}

/** GC time and event-loop lag during a run: `before` was scraped just before it (which also resets the lag maximum). */
function pausesDuring(before: PauseMetrics, after: PauseMetrics) {
  const gc: Record<string, { count: number; ms: number }> = {}
  for (const [kind, entry] of Object.entries(after.gc)) {
    const earlier = before.gc[kind] ?? { seconds: 0, count: 0 }
    gc[kind] = { count: entry.count - earlier.count, ms: 1000 * (entry.seconds - earlier.seconds) }
  }
  return { lagMaxMs: after.lagMaxMs, gc }
}

async function fixedRate(target: TargetName, round: number): Promise<RateRun> {
  const url = targetUrl[target]
  // The kit's services expose prom-client's GC and event-loop metrics; reply-from has none.
  const metricsOrigin = target === 'gateway' ? gateway.url : target === 'direct' ? user.url : undefined
  const pauses0 = metricsOrigin === undefined ? undefined : await pauses(metricsOrigin)
  const before = snapshot()
  const load =
    settings.rateTool === 'paced'
      ? await paced(url, { rate: settings.rate, seconds: settings.rateDuration, connections: RATE_CONNECTIONS })
      : await autocannonRun(url, { connections: RATE_CONNECTIONS, seconds: settings.rateDuration, overallRate: settings.rate })
  const { cpu, foreign, steal } = usage(before, snapshot())
  const during = metricsOrigin === undefined || pauses0 === undefined ? undefined : pausesDuring(pauses0, await pauses(metricsOrigin))
  const responses = Math.max(1, load.ok + load.non2xx)
  const proxyCpu = target === 'gateway' ? cpu.gateway : target === 'reply-from' ? cpu.replyFrom : Number.NaN
  return { ...load, target, round, proxyCpuPerRequest: proxyCpu / responses, userCpuPerRequest: cpu.user / responses, foreign, steal, pauses: during }
}

/** ", other load 12%" when something outside the benchmark used a noticeable share of the machine. */
const interference = (run: { foreign: number; steal: number }) =>
  run.foreign + run.steal >= 0.02 ? `  [other load ${fixed(100 * run.foreign)}%${run.steal >= 0.01 ? `, steal ${fixed(100 * run.steal)}%` : ''}]` : ''

const describe = (run: SaturationRun) => {
  const proxy = run.target === 'gateway' ? ` gateway ${fixed(run.cpuPerRequest.gateway)} µs/req` : run.target === 'reply-from' ? ` reply-from ${fixed(run.cpuPerRequest.replyFrom)} µs/req` : ''
  const bad = run.non2xx + run.errors > 0 ? `  (${run.non2xx} non-2xx, ${run.errors} errors)` : ''
  return `${fixed(run.rps)} req/s, p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms; user-service ${fixed(run.cpuPerRequest.user)} µs/req${proxy}${bad}${interference(run)}`
}

try {
  log(`warm-up: ${settings.warmup} s per target`)
  for (const target of TARGETS) await autocannonRun(targetUrl[target.name], { connections: settings.connections, seconds: settings.warmup })
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of TARGETS) {
      const run = await saturation(target.name, round)
      saturationRuns.push(run)
      log(`round ${round}/${settings.rounds}  ${target.name.padEnd(10)}  ${describe(run)}`)
    }
    // At the fixed rate the proxy and the user-service do not share a core: with both runnable on
    // one CPU each hop can wait out the other's time slice (milliseconds), which is queueing on
    // the test rig, not latency the gateway adds. The user-service joins the light open-loop
    // client on CPU 0 (about 25% busy at 1,000 req/s), the proxy keeps CPU 1.
    if (settings.pin === 'split') pin(user.pid, LOADER_CPU!)
    for (const target of TARGETS) {
      const run = await fixedRate(target.name, round)
      rateRuns.push(run)
      const bad = run.non2xx + run.errors > 0 ? `  (${run.non2xx} non-2xx, ${run.errors} errors)` : ''
      log(`round ${round}/${settings.rounds}  ${target.name.padEnd(10)}  @${settings.rate} req/s: p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms, max ${ms(run.max)} ms${bad}${interference(run)}`)
    }
    if (settings.pin === 'split') pin(user.pid, SERVER_CPU!)
  }
} catch (error) {
  await stopAll()
  await sink.stop()
  fail(`load failed: ${(error as Error).stack ?? String(error)}`)
}

const rssAfterLoad = { user: rssBytes(user.pid) / 2 ** 20, gateway: rssBytes(gateway.pid) / 2 ** 20, replyFrom: rssBytes(replyFrom.pid) / 2 ** 20 }
const pinned = { user: allowedCpus(user.pid), gateway: allowedCpus(gateway.pid), replyFrom: allowedCpus(replyFrom.pid), loader: allowedCpus(process.pid) }

// ---------------------------------------------------------------------------------------------
// Shutdown (and the profile, written by the gateway as it exits)

let profile: (ProfileSummary & { file: string; cpuPerRequest: number }) | undefined
if (settings.cpuProf) {
  log(`profiling: one more ${settings.duration} s gateway saturation run under the CPU profiler${settings.pin === 'split' ? ', user-service moved to CPU 0 so that the gateway has CPU 1 to itself' : ''}`)
  if (settings.pin === 'split') pin(user.pid, LOADER_CPU!)
  try {
    const profiler = await RemoteProfiler.attach(gateway.pid, () => gateway.output.tail())
    await autocannonRun(targetUrl.gateway, { connections: settings.connections, seconds: 1 })
    const before = snapshot()
    await profiler.start()
    const load = await autocannonRun(targetUrl.gateway, { connections: settings.connections, seconds: settings.duration })
    const cpuProfile = await profiler.stop()
    const { cpu } = usage(before, snapshot())
    profiler.close()
    mkdirSync(resultsDir, { recursive: true })
    const file = join(resultsDir, `${stamp}-gateway.cpuprofile`)
    writeFileSync(file, JSON.stringify(cpuProfile))
    profile = { file, cpuPerRequest: cpu.gateway / Math.max(1, load.ok + load.non2xx), ...summarizeProfile(cpuProfile) }
  } catch (error) {
    log(`profiling failed, results without a profile: ${(error as Error).message}`)
  }
}
await stopAll()
await sink.stop()

// ---------------------------------------------------------------------------------------------
// Results

const of = <T extends { target: TargetName }>(runs: readonly T[], target: TargetName) => runs.filter((run) => run.target === target)
const med = <T>(runs: readonly T[], pick: (run: T) => number) => median(runs.map(pick))

const summary = Object.fromEntries(
  TARGETS.map(({ name }) => {
    const runs = of(saturationRuns, name)
    const rate = of(rateRuns, name)
    const proxyCpu = (run: SaturationRun) => (name === 'gateway' ? run.cpuPerRequest.gateway : name === 'reply-from' ? run.cpuPerRequest.replyFrom : Number.NaN)
    const rss = (run: SaturationRun) => (name === 'gateway' ? run.rssMb.gateway : name === 'reply-from' ? run.rssMb.replyFrom : run.rssMb.user)
    return [
      name,
      {
        rps: med(runs, (run) => run.rps),
        p50: med(runs, (run) => run.p50),
        p99: med(runs, (run) => run.p99),
        proxyCpuPerRequest: med(runs, proxyCpu),
        userCpuPerRequest: med(runs, (run) => run.cpuPerRequest.user),
        loaderCpuPerRequest: med(runs, (run) => run.cpuPerRequest.loader),
        serverCoreBusy: med(runs, (run) => run.serverCoreBusy),
        rssMb: med(runs, rss),
        errors: [...runs, ...rate].reduce((sum, run) => sum + run.errors + run.non2xx, 0),
        rate: {
          p50: med(rate, (run) => run.p50),
          p99: med(rate, (run) => run.p99),
          max: med(rate, (run) => run.max),
          proxyCpuPerRequest: med(rate, (run) => run.proxyCpuPerRequest),
        },
      },
    ]
  }),
) as Record<TargetName, {
  rps: number
  p50: number
  p99: number
  proxyCpuPerRequest: number
  userCpuPerRequest: number
  loaderCpuPerRequest: number
  serverCoreBusy: number
  rssMb: number
  errors: number
  rate: { p50: number; p99: number; max: number; proxyCpuPerRequest: number }
}>

/** Gateway minus direct at the fixed rate, paired within each round, then the median. */
const added = (pick: (run: RateRun) => number) =>
  median(
    Array.from({ length: settings.rounds }, (_, index) => {
      const round = index + 1
      const gatewayRun = rateRuns.find((run) => run.target === 'gateway' && run.round === round)
      const directRun = rateRuns.find((run) => run.target === 'direct' && run.round === round)
      return gatewayRun === undefined || directRun === undefined ? Number.NaN : pick(gatewayRun) - pick(directRun)
    }),
  )
const addedReplyFrom = (pick: (run: RateRun) => number) =>
  median(
    Array.from({ length: settings.rounds }, (_, index) => {
      const round = index + 1
      const proxyRun = rateRuns.find((run) => run.target === 'reply-from' && run.round === round)
      const directRun = rateRuns.find((run) => run.target === 'direct' && run.round === round)
      return proxyRun === undefined || directRun === undefined ? Number.NaN : pick(proxyRun) - pick(directRun)
    }),
  )
const addedBy = {
  gateway: { p50: added((run) => run.p50), p99: added((run) => run.p99) },
  'reply-from': { p50: addedReplyFrom((run) => run.p50), p99: addedReplyFrom((run) => run.p99) },
}

const direct = summary.direct
const startToReady = {
  user: user.startToReadyMs,
  gateway: median(gatewayStarts),
  gatewayAll: gatewayStarts,
  replyFrom: replyFrom.startToReadyMs,
}

/** A ratio with 2 decimals, or 4 when 2 would round it across `threshold`. */
const ratio = (value: number, threshold: number) => {
  const short = fixed(value, 2)
  return `${Number(short) >= threshold === value >= threshold ? short : fixed(value, 4)}×`
}

const rows = TARGETS.map(({ name, label }) => {
  const s = summary[name]
  const isProxy = name !== 'direct'
  return [
    label,
    fixed(s.rps),
    ms(s.p50),
    ms(s.p99),
    ratio(s.rps / direct.rps, 0.5),
    isProxy ? fixed(s.proxyCpuPerRequest) : '–',
    fixed(s.userCpuPerRequest),
    fixed(s.rssMb),
    fixed(name === 'direct' ? startToReady.user : name === 'gateway' ? startToReady.gateway : startToReady.replyFrom),
    ms(s.rate.p50),
    ms(s.rate.p99),
    isProxy ? deltaMs(addedBy[name].p50) : '–',
    isProxy ? deltaMs(addedBy[name].p99) : '–',
  ]
})
const columns = [
  'target',
  'req/s',
  'p50 ms',
  'p99 ms',
  '× direct',
  'proxy CPU µs/req',
  'upstream CPU µs/req',
  'RSS MB',
  'start→ready ms',
  `@${settings.rate}/s p50`,
  'p99',
  'added p50',
  'added p99',
]

const gatewaySummary = summary.gateway
const vsDirect = gatewaySummary.rps / direct.rps
const vsReplyFrom = gatewaySummary.rps / summary['reply-from'].rps
const targets = [
  { target: 'throughput ≥ 0.5× direct', value: vsDirect, shown: ratio(vsDirect, 0.5), pass: vsDirect >= 0.5 },
  { target: 'throughput ≥ 1.25× reply-from', value: vsReplyFrom, shown: ratio(vsReplyFrom, 1.25), pass: vsReplyFrom >= 1.25 },
  { target: '≤ 70 µs CPU per proxied request', value: gatewaySummary.proxyCpuPerRequest, shown: `${fixed(gatewaySummary.proxyCpuPerRequest)} µs`, pass: gatewaySummary.proxyCpuPerRequest <= 70 },
  { target: `≤ 2 ms added p99 at ${settings.rate} req/s`, value: addedBy.gateway.p99, shown: `${deltaMs(addedBy.gateway.p99)} ms`, pass: addedBy.gateway.p99 <= 2 },
]

const gatewayRuns = of(saturationRuns, 'gateway')
const notes = [
  `CPU µs/req: utime+stime from /proc/<pid>/stat (all threads) over each measured run ÷ responses; proxy = the proxy process alone, upstream = user-service; reply-from ${fixed(summary['reply-from'].proxyCpuPerRequest)} µs/req measured the same way. At ${settings.rate} req/s (less batching per wake-up): gateway ${fixed(gatewaySummary.rate.proxyCpuPerRequest)}, reply-from ${fixed(summary['reply-from'].rate.proxyCpuPerRequest)} µs/req.`,
  `server core busy during saturation (user-service + proxy CPU ÷ wall time${settings.pin === 'split' ? ', one core' : `, ${cpuCount} cores`}): direct ${fixed(100 * direct.serverCoreBusy)}%, gateway ${fixed(100 * gatewaySummary.serverCoreBusy)}%, reply-from ${fixed(100 * summary['reply-from'].serverCoreBusy)}%; load generator, sink and log drains ${fixed(direct.loaderCpuPerRequest)}–${fixed(Math.max(gatewaySummary.loaderCpuPerRequest, summary['reply-from'].loaderCpuPerRequest))} µs/req.`,
  `gateway: ${fixed(median(gatewayRuns.map((run) => run.spansPerRequest)), 1)} spans exported and ${fixed(median(gatewayRuns.map((run) => run.logLinesPerRequest)), 2)} log lines per request; reply-from ${fixed(median(of(saturationRuns, 'reply-from').map((run) => run.logLinesPerRequest)), 2)} log lines per request. OTLP sink received: ${[...sink.paths].map(([path, entry]) => `${path} ${entry.requests} posts / ${fixed(entry.bytes / 2 ** 20, 1)} MB`).join(', ') || 'nothing'}.`,
  `start→ready: spawn to first 200 on /health/ready (5 ms poll); gateway median of ${gatewayStarts.length} start(s): ${gatewayStarts.map((value) => fixed(value)).join(', ')} ms.`,
  `errors and non-2xx: direct ${direct.errors}, gateway ${gatewaySummary.errors}, reply-from ${summary['reply-from'].errors}.`,
]
const pauseNote = (target: TargetName, name: string) => {
  const runs = of(rateRuns, target).flatMap((run) => (run.pauses === undefined ? [] : [run.pauses]))
  if (runs.length === 0) return `${name} –`
  const gc = (kind: string) => {
    const count = runs.reduce((sum, run) => sum + (run.gc[kind]?.count ?? 0), 0)
    const total = runs.reduce((sum, run) => sum + (run.gc[kind]?.ms ?? 0), 0)
    return `${count} ${kind} (avg ${fixed(total / Math.max(1, count), 1)} ms)`
  }
  return `${name}: event-loop lag max ${runs.map((run) => fixed(run.lagMaxMs)).join('/')} ms, GC ${gc('minor')}, ${gc('major')}`
}
notes.push(`pauses during the ${settings.rate} req/s runs (prom-client, 10 ms lag resolution): ${pauseNote('gateway', 'gateway')}; ${pauseNote('direct', 'user-service')}.`)
const allRuns = [...saturationRuns, ...rateRuns]
const worst = Math.max(...allRuns.map((run) => run.foreign + run.steal))
notes.push(
  `other load (processes outside the benchmark + hypervisor steal, share of the whole machine): median ${fixed(100 * median(allRuns.map((run) => run.foreign + run.steal)), 1)}%, worst run ${fixed(100 * worst, 1)}%${worst >= 0.05 ? ' — the machine was not quiet, so throughput, ratios and p99 are noisy; CPU/request (per-process counters) is the most robust figure' : ''}.`,
)

log()
log(table(columns, rows))
log()
for (const note of notes) log(`· ${note}`)
log()
log('targets (our gateway):')
const noisy = worst >= 0.1 ? '   (machine busy during the runs: noisy)' : ''
for (const target of targets) log(`  ${target.pass ? 'PASS' : 'MISS'}  ${target.target.padEnd(34)} ${target.shown}${target.target.includes('CPU') ? '' : noisy}`)

if (profile !== undefined) {
  log()
  log(`gateway CPU profile: ${profile.samples} busy samples, ${fixed(profile.cpuPerRequest)} µs/req with the profiler on (${profile.file})`)
  log('  self time by area (approximate):')
  for (const share of profile.areas) log(`    ${fixed(share.percent, 1).padStart(5)}%  ${share.name}`)
  log('  self time by component (natives charged to their JavaScript caller):')
  for (const share of profile.components) log(`    ${fixed(share.percent, 1).padStart(5)}%  ${share.name}`)
  log('  self time by function:')
  for (const share of profile.functions) log(`    ${fixed(share.percent, 1).padStart(5)}%  ${share.name}`)
}

mkdirSync(resultsDir, { recursive: true })
const resultFile = join(resultsDir, `${stamp}.json`)
writeFileSync(
  resultFile,
  `${JSON.stringify(
    {
      header,
      settings,
      machine: { cpus: cpuCount, model, kernel: release(), node: process.version },
      pinned,
      startToReadyMs: startToReady,
      rssAfterLoadMb: rssAfterLoad,
      summary,
      addedAtFixedRate: addedBy,
      targets,
      notes,
      sink: Object.fromEntries(sink.paths),
      saturationRuns,
      rateRuns,
      profile,
    },
    null,
    2,
  )}\n`,
)
log()
log(`results: ${resultFile}`)
