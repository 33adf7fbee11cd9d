import { parseArgs } from 'node:util'

export const USAGE = `usage: npm run bench -- [options]

  --rounds N            rounds over every scenario, medians reported                (3)
  --duration S          seconds of each measured saturation run                     (6)
  --warmup S            seconds of warm-up per scenario before the first round      (3)
  --connections N       concurrent connections of the saturation runs               (50)
  --load-tool T         wrk (default: one thread, cheap per request) or autocannon (in this
                        process, for a machine without wrk) for the saturation runs
  --rate R              fixed offered rate of the latency runs, requests/s          (1000)
  --rate-duration S     seconds of each fixed-rate run                              (5)
  --rate-tool T         paced (open loop, default) or autocannon (overallRate)
  --starts N            starts timed per server for start-to-ready (median)         (3)
  --logging MODE        production (default): gateway LOG_REQUESTS=true, one access line
                        per request in reply-from and in nginx; off: no request logs in any
  --no-tracing          production gateways without OTEL_EXPORTER_OTLP_ENDPOINT (diagnosis)
  --gateway-env K=V     extra environment of every gateway, repeatable (experiments, e.g.
                        OTEL_TRACES_SAMPLER=parentbased_traceidratio); shown in the header
  --user-env K=V        extra environment of both user-services, repeatable (e.g. LOG_LEVEL=info
                        for production's request logs); shown in the header
  --pin MODE            split (default): load generator, OTLP sink and log drains on CPU 0,
                        every server on CPU 1; none: no pinning
  --cpu-prof            after the rounds, one more saturation run of the gateway in front
                        of the light upstream under V8's CPU profiler: writes the
                        .cpuprofile next to the results and prints where the CPU goes
  --save-reference      also write the results to bench/results/reference.json (committed)
  --compare FILE        print before → after for every target against an earlier results
                        file, e.g. bench/results/reference.json
  --long                rounds 5, duration 12, warmup 5, rate-duration 10, starts 5
  --quick               rounds 1, duration 2, warmup 1, rate-duration 2, starts 1 (smoke test)
  -h, --help`

export type Preset = 'default' | 'quick' | 'long'

/** Everything a run depends on; recorded in its results so that runs can be compared. */
export interface Settings {
  readonly preset: Preset
  readonly rounds: number
  readonly duration: number
  readonly warmup: number
  readonly connections: number
  readonly loadTool: 'wrk' | 'autocannon'
  readonly rate: number
  readonly rateDuration: number
  readonly rateTool: 'paced' | 'autocannon'
  readonly starts: number
  readonly logging: 'production' | 'off'
  readonly tracing: boolean
  readonly gatewayEnv: Readonly<Record<string, string>>
  readonly userEnv: Readonly<Record<string, string>>
  readonly pin: 'split' | 'none'
  readonly cpuProf: boolean
  readonly saveReference: boolean
  readonly compare: string | undefined
}

const PRESETS: Record<Preset, Pick<Settings, 'rounds' | 'duration' | 'warmup' | 'rateDuration' | 'starts'>> = {
  // About 6 minutes on 2 cores: 10 saturation scenarios × 3 rounds × 7 s, 4 fixed-rate
  // scenarios × 3 rounds × 5 s, 30 s of warm-up and about 40 s of timed starts.
  default: { rounds: 3, duration: 6, warmup: 3, rateDuration: 5, starts: 3 },
  quick: { rounds: 1, duration: 2, warmup: 1, rateDuration: 2, starts: 1 },
  long: { rounds: 5, duration: 12, warmup: 5, rateDuration: 10, starts: 5 },
}

/** A bad command line: the message says which option and why, for one line on stderr. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export type Parsed = { readonly help: true } | { readonly help: false; readonly settings: Settings; readonly notes: readonly string[] }

/**
 * Reads the command line (without `node` and the script): a preset, then each option over it.
 * `canPin` says whether split pinning is possible here; when it is not, `split` falls back to
 * `none` with a note rather than failing, so the bench still runs on one core.
 */
export function parseSettings(argv: readonly string[], canPin: boolean): Parsed {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        rounds: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        'load-tool': { type: 'string' },
        rate: { type: 'string' },
        'rate-duration': { type: 'string' },
        'rate-tool': { type: 'string' },
        starts: { type: 'string' },
        logging: { type: 'string' },
        'no-tracing': { type: 'boolean' },
        'gateway-env': { type: 'string', multiple: true },
        'user-env': { type: 'string', multiple: true },
        pin: { type: 'string' },
        'cpu-prof': { type: 'boolean' },
        'save-reference': { type: 'boolean' },
        compare: { type: 'string' },
        long: { type: 'boolean' },
        quick: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help === true) return { help: true }
  if (values.quick === true && values.long === true) throw new UsageError('--quick and --long exclude each other')

  const preset: Preset = values.quick === true ? 'quick' : values.long === true ? 'long' : 'default'
  const base = PRESETS[preset]
  const notes: string[] = []
  let pin = choice(values.pin, ['split', 'none'] as const, 'pin')
  if (pin === 'split' && !canPin) {
    notes.push('pinning needs taskset and 2 CPUs: running unpinned')
    pin = 'none'
  }
  return {
    help: false,
    notes,
    settings: {
      preset,
      rounds: integer(values.rounds, base.rounds, 'rounds'),
      // Whole seconds: wrk takes no fractions.
      duration: integer(values.duration, base.duration, 'duration'),
      warmup: integer(values.warmup, base.warmup, 'warmup'),
      connections: integer(values.connections, 50, 'connections'),
      loadTool: choice(values['load-tool'], ['wrk', 'autocannon'] as const, 'load-tool'),
      rate: positive(values.rate, 1000, 'rate'),
      rateDuration: positive(values['rate-duration'], base.rateDuration, 'rate-duration'),
      rateTool: choice(values['rate-tool'], ['paced', 'autocannon'] as const, 'rate-tool'),
      starts: integer(values.starts, base.starts, 'starts'),
      logging: choice(values.logging, ['production', 'off'] as const, 'logging'),
      tracing: values['no-tracing'] !== true,
      gatewayEnv: environment(values['gateway-env'], 'gateway-env'),
      userEnv: environment(values['user-env'], 'user-env'),
      pin,
      cpuProf: values['cpu-prof'] === true,
      saveReference: values['save-reference'] === true,
      compare: values.compare,
    },
  }
}

function positive(flag: string | undefined, fallback: number, name: string): number {
  if (flag === undefined) return fallback
  const value = Number(flag)
  if (flag.trim() === '' || !Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number, got ${flag}`)
  return value
}

function integer(flag: string | undefined, fallback: number, name: string): number {
  const value = positive(flag, fallback, name)
  if (!Number.isInteger(value)) throw new UsageError(`--${name} must be a whole number, got ${flag}`)
  return value
}

function choice<T extends string>(flag: string | undefined, allowed: readonly [T, ...T[]], name: string): T {
  if (flag === undefined) return allowed[0]
  if (!(allowed as readonly string[]).includes(flag)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${flag}`)
  return flag as T
}

function environment(pairs: readonly string[] | undefined, name: string): Record<string, string> {
  return Object.fromEntries(
    (pairs ?? []).map((pair) => {
      const at = pair.indexOf('=')
      if (at <= 0) throw new UsageError(`--${name} takes KEY=VALUE, got ${pair}`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  )
}
