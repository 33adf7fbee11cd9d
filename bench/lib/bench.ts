import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, release } from 'node:os'
import { join } from 'node:path'
import { RemoteProfiler } from './inspector.ts'
import { autocannonRun, paced, wrkRun, type LoadResult } from './load.ts'
import { between, pausesBetween, scrapePauses, snapshot, type Window } from './measure.ts'
import { allowedCpus, ProcessTable, rssBytes } from './proc.ts'
import { summarizeProfile } from './profile.ts'
import { fixed, ms, percent } from './format.ts'
import { RESULT_FORMAT, type BenchResult } from './results.ts'
import { PATH, startRig, type Rig } from './rig.ts'
import { FIXED_RATE, SATURATION, scenarioLabel, SERVERS, type Scenario, type ServerId } from './scenarios.ts'
import type { Settings } from './settings.ts'
import { median } from './stats.ts'
import {
  summarizeRate,
  summarizeSaturation,
  worst,
  type CpuPerRequest,
  type RateRun,
  type SaturationRun,
  type ServerSummary,
} from './summary.ts'
import { evaluateTargets, NOISY_OTHER_LOAD } from './targets.ts'

/** Connections of the fixed-rate runs: far more than needed at 1,000 req/s, so a stall queues on the server, not in the client. */
const RATE_CONNECTIONS = 16

/**
 * One whole benchmark: starts the rig, warms every scenario up, runs the rounds (every
 * saturation scenario, then every fixed-rate one), optionally profiles the gateway, stops
 * everything and returns the results. `resultsDir` receives the profile, if any.
 */
export async function runBench(settings: Settings, resultsDir: string, stamp: string, log: (line?: string) => void): Promise<BenchResult> {
  const startedAt = new Date().toISOString()
  const rig = await startRig(settings, log)
  const saturationRuns: SaturationRun[] = []
  const rateRuns: RateRun[] = []
  let servers: Partial<Record<ServerId, ServerSummary>>
  let pinned: Record<string, string>
  let profile: BenchResult['profile']
  const header = headerOf(settings, rig, startedAt)
  try {
    log()
    for (const line of header) log(line)
    log()
    log(`warm-up: ${settings.warmup} s per scenario`)
    for (const scenario of SATURATION) await saturate(settings, rig.url(scenario), settings.warmup)
    for (let round = 1; round <= settings.rounds; round++) {
      for (const scenario of SATURATION) {
        const run = await saturation(rig, settings, scenario, round)
        saturationRuns.push(run)
        log(`round ${round}/${settings.rounds}  ${describeSaturation(run, scenario)}`)
      }
      // At the fixed rate the proxy and the user-service do not share a core: with both
      // runnable on one CPU each hop can wait out the other's time slice (milliseconds), which
      // is queueing on the test rig, not latency a proxy adds. The user-service and its
      // database join the light open-loop client on the loader core (lightly busy at 1,000
      // req/s); the proxy keeps the server core.
      if (rig.pinning.loader !== undefined) rig.move('postgres', rig.pinning.loader)
      for (const scenario of FIXED_RATE) {
        const run = await fixedRate(rig, settings, scenario, round)
        rateRuns.push(run)
        log(`round ${round}/${settings.rounds}  ${describeRate(run, scenario, settings.rate)}`)
      }
      if (rig.pinning.server !== undefined) rig.move('postgres', rig.pinning.server)
    }
    servers = serverSummaries(rig)
    pinned = pinnedCpus(rig)
    if (settings.cpuProf) profile = await profileGateway(rig, settings, join(resultsDir, `${stamp}-gateway.cpuprofile`), log)
  } finally {
    await rig.stop()
  }

  const saturationSummary = summarizeSaturation(saturationRuns)
  const fixedRateSummary = summarizeRate(rateRuns)
  const targets = evaluateTargets({
    saturation: saturationSummary,
    fixedRate: fixedRateSummary,
    servers,
    rate: settings.rate,
    startsOtherLoad: rig.startsOtherLoad,
  })
  const allRuns = [...saturationRuns, ...rateRuns]
  const otherLoad = { median: median(allRuns.map((run) => run.foreign + run.steal)), worst: worst(allRuns), starts: rig.startsOtherLoad }
  return {
    format: RESULT_FORMAT,
    startedAt,
    header,
    settings,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model.trim() ?? 'unknown CPU',
      kernel: release(),
      node: process.version,
      postgres: rig.postgres.version,
      nginx: rig.nginxVersion,
    },
    pinned,
    servers,
    saturation: saturationSummary,
    fixedRate: fixedRateSummary,
    targets,
    otherLoad,
    notes: notesOf(settings, saturationRuns, rateRuns, rig, otherLoad),
    sink: Object.fromEntries(rig.sink.paths),
    saturationRuns,
    rateRuns,
    profile,
  }
}

/** Start times and memory of every server, after the runs. */
function serverSummaries(rig: Rig): Partial<Record<ServerId, ServerSummary>> {
  return Object.fromEntries(
    SERVERS.map((id) => {
      const server = rig.servers.get(id)!
      const startsMs = rig.startsMs.get(id) ?? []
      // nginx: master and worker, like its CPU.
      const rss = [server.pid, ...ProcessTable.read().descendants(server.pid)].reduce((sum, pid) => sum + rssBytes(pid), 0)
      return [id, { startsMs, startToReadyMs: median(startsMs), rssMb: rss / 2 ** 20 }]
    }),
  )
}

/** Where each process was allowed to run at the end (taskset lists), to check the pinning afterwards. */
function pinnedCpus(rig: Rig): Record<string, string> {
  return {
    'load generator': allowedCpus(process.pid),
    postgres: allowedCpus(rig.postgres.pid),
    ...Object.fromEntries([...rig.servers].map(([id, server]) => [id, allowedCpus(server.pid)])),
  }
}

/** Closed-loop load with the configured tool. */
function saturate(settings: Settings, url: string, seconds: number): Promise<LoadResult> {
  const options = { connections: settings.connections, seconds }
  return settings.loadTool === 'wrk' ? wrkRun(url, options) : autocannonRun(url, options)
}

/** CPU µs per response of each process of a scenario over a window. */
function cpuPerRequest(rig: Rig, scenario: Scenario, window: Window, responses: number): CpuPerRequest {
  const proxy = rig.proxy(scenario)
  const servers = [...rig.servers.values()].reduce((sum, server) => sum + window.cpu(server.pid), 0)
  return {
    proxy: proxy === undefined ? Number.NaN : window.cpu(proxy.pid) / responses,
    upstream: window.cpu(rig.upstream(scenario).pid) / responses,
    postgres: scenario.upstream === 'postgres' ? window.cpu(rig.postgres.pid) / responses : Number.NaN,
    // This process (OTLP sink, autocannon or the paced client) and everything it spawned but
    // the servers: wrk and the log drains.
    loader: (window.cpu(process.pid) - servers) / responses,
  }
}

async function saturation(rig: Rig, settings: Settings, scenario: Scenario, round: number): Promise<SaturationRun> {
  const url = rig.url(scenario)
  const proxy = rig.proxy(scenario)
  const traced = scenario.proxy === 'gateway' || scenario.proxy === 'gateway-untraced'
  // A settle second: connections open, pools fill, the previous scenario's backlog drains.
  await saturate(settings, url, 1)
  const spans = rig.sink.spans
  const lines = (await proxy?.drain?.counts())?.lines
  const before = snapshot()
  const load = await saturate(settings, url, settings.duration)
  const window = between(before, snapshot(), rig.ours)
  const linesAfter = (await proxy?.drain?.counts())?.lines
  const responses = Math.max(1, load.ok + load.non2xx)
  const serverCpu = [...rig.servers.values()].reduce((sum, server) => sum + window.cpu(server.pid), window.cpu(rig.postgres.pid))
  return {
    ...load,
    scenario: scenario.id,
    round,
    cpuPerRequest: cpuPerRequest(rig, scenario, window, responses),
    serverCoreBusy: serverCpu / (window.wallMicros * (rig.pinning.server === undefined ? cpus().length : 1)),
    foreign: window.foreign,
    steal: window.steal,
    logLinesPerRequest: lines === undefined || linesAfter === undefined ? Number.NaN : (linesAfter - lines) / responses,
    spansPerRequest: traced ? (rig.sink.spans - spans) / responses : Number.NaN,
  }
}

async function fixedRate(rig: Rig, settings: Settings, scenario: Scenario, round: number): Promise<RateRun> {
  const url = rig.url(scenario)
  const offer = async (seconds: number) =>
    settings.rateTool === 'paced'
      ? await paced(url, { rate: settings.rate, seconds, connections: RATE_CONNECTIONS })
      : { ...(await autocannonRun(url, { connections: RATE_CONNECTIONS, seconds, overallRate: settings.rate })), maxInFlight: Number.NaN }
  // A settle second at the same rate, as before every saturation run: the previous scenario
  // left the upstream idle past its database pool's idle timeout (30 s), and the first requests
  // would otherwise time the reconnections, a start-up cost, not latency at a steady rate.
  await offer(1)
  // The kit's services expose prom-client's GC and event-loop metrics; reply-from and nginx have none.
  const metricsOrigin =
    scenario.proxy === 'gateway' ? rig.proxy(scenario)!.url : scenario.proxy === 'direct' ? rig.upstream(scenario).url : undefined
  const pausesBefore = metricsOrigin === undefined ? undefined : await scrapePauses(metricsOrigin)
  const before = snapshot()
  const load = await offer(settings.rateDuration)
  const window = between(before, snapshot(), rig.ours)
  const pauses =
    metricsOrigin === undefined || pausesBefore === undefined ? undefined : pausesBetween(pausesBefore, await scrapePauses(metricsOrigin))
  return {
    ...load,
    scenario: scenario.id,
    round,
    cpuPerRequest: cpuPerRequest(rig, scenario, window, Math.max(1, load.ok + load.non2xx)),
    pauses,
    foreign: window.foreign,
    steal: window.steal,
  }
}

/**
 * One more saturation run of the gateway in front of the light upstream, under V8's CPU
 * profiler started and stopped over the inspector protocol, so the measured runs carry no
 * profiler overhead. The light upstream moves to the loader core so that the gateway has the
 * server core to itself: on a shared core samples pile up where the kernel switches processes.
 */
async function profileGateway(rig: Rig, settings: Settings, file: string, log: (line?: string) => void): Promise<BenchResult['profile']> {
  const scenario = SATURATION.find((entry) => entry.id === 'gateway/light')!
  const gateway = rig.proxy(scenario)!
  log(`profiling: one more ${settings.duration} s saturation run of ${scenarioLabel(scenario)} under the CPU profiler`)
  if (rig.pinning.loader !== undefined) rig.move('light', rig.pinning.loader)
  try {
    const profiler = await RemoteProfiler.attach(gateway.pid, () => gateway.drain?.tail() ?? '')
    try {
      await saturate(settings, rig.url(scenario), 1)
      const before = snapshot()
      await profiler.start()
      const load = await saturate(settings, rig.url(scenario), settings.duration)
      const cpuProfile = await profiler.stop()
      const window = between(before, snapshot(), rig.ours)
      mkdirSync(join(file, '..'), { recursive: true })
      writeFileSync(file, JSON.stringify(cpuProfile))
      return { file, cpuPerRequest: window.cpu(gateway.pid) / Math.max(1, load.ok + load.non2xx), ...summarizeProfile(cpuProfile) }
    } finally {
      profiler.close()
    }
  } catch (error) {
    log(`profiling failed, results without a profile: ${(error as Error).message}`)
    return undefined
  }
}

function headerOf(settings: Settings, rig: Rig, startedAt: string): string[] {
  const cpuCount = cpus().length
  const environment = (env: Readonly<Record<string, string>>) =>
    Object.entries(env)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')
  return [
    `benchmark — ${startedAt}`,
    `machine: ${cpuCount} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}, ${rig.postgres.version}, nginx ${rig.nginxVersion}`,
    rig.pinning.server !== undefined
      ? `pinning: load generators (${settings.loadTool}, the paced client), OTLP sink and log drains on CPU ${rig.pinning.loader}; every server and PostgreSQL on CPU ${rig.pinning.server} (one core for the system under test)`
      : 'pinning: none (the scheduler places every process)',
    `load: GET ${PATH}; saturation: ${settings.loadTool === 'wrk' ? 'wrk, 1 thread' : 'autocannon in this process'}, ${settings.connections} connections, ${settings.duration} s per run after a 1 s settle, ${settings.warmup} s warm-up per scenario first; ${settings.rounds} round(s) over ${SATURATION.length} scenarios, medians shown`,
    `fixed rate: ${settings.rate} req/s for ${settings.rateDuration} s per scenario and round, ${settings.rateTool === 'paced' ? `open loop (requests issued on a clock, ${RATE_CONNECTIONS} keep-alive connections)` : `autocannon overallRate, ${RATE_CONNECTIONS} connections (closed-loop bursts each second)`}; added = proxy − direct, same round${rig.pinning.loader !== undefined ? `; during these runs user-service and PostgreSQL move to CPU ${rig.pinning.loader} so that proxy and upstream do not share a core` : ''}`,
    `upstreams: user-service on PostgreSQL (the production path; private server, durability off), user-service on PGlite in memory, both LOG_LEVEL=warn without tracing${Object.keys(settings.userEnv).length > 0 ? ` then ${environment(settings.userEnv)} (--user-env)` : ''}; the light upstream, a bare Fastify app answering user-service's bytes`,
    `our gateway: production defaults — static discovery (USER_SERVICE_URLS), Prometheus metrics, ${settings.tracing ? 'tracing on (default sampler: parent-based, one in ten of the traces it starts) exporting to a local OTLP sink' : 'TRACING OFF (--no-tracing)'}, ${settings.logging === 'production' ? 'LOG_REQUESTS=true (one ECS JSON access line per request)' : 'LOG_REQUESTS=false'}, rate limit raised to 1e9/min; "tracing off": the same without OTEL_EXPORTER_OTLP_ENDPOINT`,
    ...(Object.keys(settings.gatewayEnv).length > 0
      ? [`gateway environment overrides (an experiment, not production defaults): ${environment(settings.gatewayEnv)}`]
      : []),
    `reply-from: plain Fastify + @fastify/reply-from defaults, ${settings.logging === 'production' ? 'one pino JSON access line per request' : 'no request logging'}; no metrics, tracing, rate limit or security headers`,
    `nginx: worker_processes 1, HTTP/1.1 keep-alive upstream pool, ${settings.logging === 'production' ? 'access_log to a file (combined, 64 KiB buffer)' : 'access_log off'}; its CPU is the master's and the worker's`,
    'stdout of every Node server: drained and counted by a helper process per server (bench/lib/drain.ts), not by the load generator',
  ]
}

/** ", other load 12%" when something outside the benchmark used a noticeable share of the machine. */
function interference(run: { foreign: number; steal: number }): string {
  return run.foreign + run.steal >= 0.02
    ? `  [other load ${percent(run.foreign)}${run.steal >= 0.01 ? `, steal ${percent(run.steal)}` : ''}]`
    : ''
}

function failures(run: { non2xx: number; errors: number }): string {
  return run.non2xx + run.errors > 0 ? `  (${run.non2xx} non-2xx, ${run.errors} errors)` : ''
}

function describeSaturation(run: SaturationRun, scenario: Scenario): string {
  const cpu = run.cpuPerRequest
  const proxy = Number.isNaN(cpu.proxy) ? '' : `, proxy ${fixed(cpu.proxy)} µs/req`
  const postgres = Number.isNaN(cpu.postgres) ? '' : `, postgres ${fixed(cpu.postgres)}`
  return `${scenarioLabel(scenario).padEnd(48)} ${fixed(run.rps)} req/s, p99 ${ms(run.p99)} ms${proxy}, upstream ${fixed(cpu.upstream)}${postgres}${failures(run)}${interference(run)}`
}

function describeRate(run: RateRun, scenario: Scenario, rate: number): string {
  return `${scenarioLabel(scenario).padEnd(48)} @${rate} req/s: p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms, max ${ms(run.max)} ms${failures(run)}${interference(run)}`
}

function notesOf(
  settings: Settings,
  saturationRuns: readonly SaturationRun[],
  rateRuns: readonly RateRun[],
  rig: Rig,
  otherLoad: BenchResult['otherLoad'],
): string[] {
  const of = <T extends { scenario: string }>(runs: readonly T[], scenario: string) => runs.filter((run) => run.scenario === scenario)
  const perRequest = (scenario: string, pick: (run: SaturationRun) => number, digits: number) =>
    fixed(median(of(saturationRuns, scenario).map(pick)), digits)
  const pauses = (scenario: string, name: string) => {
    const runs = of(rateRuns, scenario).flatMap((run) => (run.pauses === undefined ? [] : [run.pauses]))
    if (runs.length === 0) return `${name} –`
    const gc = (kind: string) => {
      const count = runs.reduce((sum, run) => sum + (run.gc[kind]?.count ?? 0), 0)
      const total = runs.reduce((sum, run) => sum + (run.gc[kind]?.ms ?? 0), 0)
      return `${count} ${kind} (avg ${fixed(total / Math.max(1, count), 1)} ms)`
    }
    return `${name}: event-loop lag max ${runs.map((run) => fixed(run.lagMaxMs)).join('/')} ms, GC ${gc('minor')}, ${gc('major')}`
  }
  const sink = [...rig.sink.paths]
    .map(([path, entry]) => `${path} ${entry.requests} posts / ${fixed(entry.bytes / 2 ** 20, 1)} MiB`)
    .join(', ')
  return [
    'CPU µs/req: utime+stime from /proc/<pid>/stat (all threads; nginx and PostgreSQL: the whole process tree) over each measured run ÷ responses. Proxy = the proxy alone, upstream = user-service or the light upstream, postgres = the database server, loader = the load generator, the OTLP sink and the log drains.',
    `server core: CPU of every server and PostgreSQL ÷ wall time${rig.pinning.server === undefined ? ' ÷ cores' : ''} (~100% when the system under test was the bottleneck; less when the load generator was).`,
    `gateway: ${settings.tracing ? `${perRequest('gateway/postgres', (run) => run.spansPerRequest, 1)} spans exported per request in front of PostgreSQL, ${perRequest('gateway/light', (run) => run.spansPerRequest, 1)} in front of the light upstream` : 'no spans (--no-tracing)'}; ${perRequest('gateway/postgres', (run) => run.logLinesPerRequest, 2)} log lines per request; reply-from ${perRequest('reply-from/postgres', (run) => run.logLinesPerRequest, 2)}. OTLP sink received: ${sink === '' ? 'nothing' : sink}.`,
    `start→ready: spawn to first 200 on /health/ready (5 ms poll), median of the timed starts.`,
    `pauses during the ${settings.rate} req/s runs (prom-client, 10 ms lag resolution): ${pauses('gateway/postgres', 'gateway')}; ${pauses('direct/postgres', 'user-service')}.`,
    `other load (processes outside the benchmark + hypervisor steal, share of the whole machine): median ${percent(otherLoad.median)}, worst run ${percent(otherLoad.worst)}, during the timed starts ${percent(otherLoad.starts)}${Math.max(otherLoad.worst, otherLoad.starts) >= NOISY_OTHER_LOAD ? ' — the machine was not quiet: throughput, latency and start times are noisy (targets marked); CPU per request and RSS (per-process counters) hold best' : ''}.`,
  ]
}
