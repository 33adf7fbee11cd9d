import { describe, expect, it } from 'vitest'
import { parseSettings, UsageError, type Settings } from '../lib/settings.ts'

function settings(argv: string[], canPin = true): Settings {
  const parsed = parseSettings(argv, canPin)
  if (parsed.help) throw new Error('unexpected help')
  return parsed.settings
}

describe('parseSettings', () => {
  it('uses the default preset when given no options', () => {
    expect(settings([])).toMatchObject({
      preset: 'default',
      rounds: 3,
      duration: 6,
      warmup: 3,
      connections: 50,
      loadTool: 'wrk',
      rate: 1000,
      rateDuration: 5,
      rateTool: 'paced',
      starts: 3,
      logging: 'production',
      tracing: true,
      pin: 'split',
      cpuProf: false,
      saveReference: false,
      compare: undefined,
    })
  })

  it.each([
    [['--quick'], { preset: 'quick', rounds: 1, duration: 2, warmup: 1, rateDuration: 2, starts: 1 }],
    [['--long'], { preset: 'long', rounds: 5, duration: 12, warmup: 5, rateDuration: 10, starts: 5 }],
  ])('applies the preset of %o', (argv, expected) => {
    expect(settings(argv)).toMatchObject(expected)
  })

  it('lets an option override its preset', () => {
    expect(settings(['--quick', '--rounds', '2', '--duration', '4'])).toMatchObject({ preset: 'quick', rounds: 2, duration: 4, warmup: 1 })
  })

  it('collects repeated environment overrides as KEY=VALUE, keeping = in values', () => {
    const parsed = settings([
      '--gateway-env',
      'OTEL_TRACES_SAMPLER=parentbased_traceidratio',
      '--gateway-env',
      'A=b=c',
      '--user-env',
      'LOG_LEVEL=info',
    ])
    expect(parsed.gatewayEnv).toEqual({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', A: 'b=c' })
    expect(parsed.userEnv).toEqual({ LOG_LEVEL: 'info' })
  })

  it('reads the reference and comparison options', () => {
    expect(settings(['--save-reference', '--compare', 'bench/results/reference.json'])).toMatchObject({
      saveReference: true,
      compare: 'bench/results/reference.json',
    })
  })

  it('falls back to no pinning with a note when pinning is impossible', () => {
    const parsed = parseSettings([], false)
    expect(parsed.help).toBe(false)
    if (parsed.help) return
    expect(parsed.settings.pin).toBe('none')
    expect(parsed.notes).toEqual(['pinning needs taskset and 2 CPUs: running unpinned'])
  })

  it('answers help without reading the other options', () => {
    expect(parseSettings(['--help', '--rounds', 'x'], true)).toEqual({ help: true })
  })

  it.each([
    [['--rounds', '0'], '--rounds must be a positive number, got 0'],
    [['--rounds', '1.5'], '--rounds must be a whole number, got 1.5'],
    [['--duration', '2.5'], '--duration must be a whole number, got 2.5'],
    [['--rate', 'fast'], '--rate must be a positive number, got fast'],
    [['--rate', ''], '--rate must be a positive number, got '],
    [['--pin', 'all'], '--pin must be one of split, none, got all'],
    [['--load-tool', 'ab'], '--load-tool must be one of wrk, autocannon, got ab'],
    [['--gateway-env', 'NOEQUALS'], '--gateway-env takes KEY=VALUE, got NOEQUALS'],
    [['--user-env', '=value'], '--user-env takes KEY=VALUE, got =value'],
    [['--quick', '--long'], '--quick and --long exclude each other'],
  ])('rejects %o with a message naming the option', (argv, message) => {
    expect(() => parseSettings(argv, true)).toThrow(new UsageError(message))
  })

  it('rejects an unknown option as a usage error', () => {
    expect(() => parseSettings(['--rounds=2', '--fast'], true)).toThrow(UsageError)
  })
})
