import { describe, expect, it } from 'vitest'
import { ConfigError, databaseEnv, loadConfig, portEnv, serviceEnv, urlList } from '../src/config.ts'

const schema = { ...serviceEnv, ...portEnv(3001), ...databaseEnv }

describe('loadConfig', () => {
  it('applies defaults and converts types when the environment is empty', () => {
    const config = loadConfig(schema, {})
    expect(config).toMatchObject({ HOST: '0.0.0.0', PORT: 3001, LOG_LEVEL: 'info', DRAIN_DELAY_MS: 5000, SEED_DATA: true })
    expect(config.DATABASE_URL).toBeUndefined()
  })

  it('converts strings to the schema types', () => {
    const config = loadConfig(schema, { PORT: '8080', SEED_DATA: 'false', DRAIN_DELAY_MS: '0' })
    expect(config.PORT).toBe(8080)
    expect(config.SEED_DATA).toBe(false)
    expect(config.DRAIN_DELAY_MS).toBe(0)
  })

  it('treats an empty variable as unset', () => {
    expect(loadConfig(schema, { CONSUL_HTTP_ADDR: '', PORT: ' ' }).PORT).toBe(3001)
  })

  it.each([
    [{ PORT: 'abc' }, 'invalid environment variable PORT="abc": must be integer'],
    [{ PORT: '70000' }, 'PORT="70000": must be <= 65535'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ CONSUL_HTTP_ADDR: 'localhost:8500' }, 'CONSUL_HTTP_ADDR="localhost:8500"'],
    [{ SEED_DATA: 'maybe' }, 'SEED_DATA="maybe": must be boolean'],
  ])('rejects %o with one line naming the variable', (env, expected) => {
    let error: unknown
    try {
      loadConfig(schema, env)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toContain(expected)
    expect((error as Error).message).not.toContain('\n')
  })

  it('never echoes the value of a variable that may hold a credential', () => {
    expect(() => loadConfig(schema, { DATABASE_URL: 'mysql://root:hunter2@db' })).toThrow(/^invalid environment variable DATABASE_URL: /)
    expect(() => loadConfig(schema, { DATABASE_URL: 'mysql://root:hunter2@db' })).not.toThrow(/hunter2/)
  })
})

describe('urlList', () => {
  it('splits, trims and drops trailing slashes and empty entries', () => {
    expect(urlList(' http://a:1/ , http://b:2,,')).toEqual(['http://a:1', 'http://b:2'])
    expect(urlList(undefined)).toEqual([])
  })
})
