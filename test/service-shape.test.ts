// Every service has the same rooms, so a reader who knows one knows all three and a fourth is a
// copy of a small template: this keeps them from drifting apart again.
import { readdir, readFile, stat } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { catalogEntry, serviceNames as catalogNames, upstreamUrlsVariable } from '../catalog/catalog.ts'

const servicesDir = new URL('../services/', import.meta.url)
const LIBRARIES = ['kit']

async function serviceNames(): Promise<string[]> {
  const entries = await readdir(servicesDir, { withFileTypes: true })
  return entries
    .filter((entry) => entry.isDirectory() && !LIBRARIES.includes(entry.name))
    .map((entry) => entry.name)
    .sort()
}

const names = await serviceNames()
const source = (name: string, path: string) => readFile(new URL(`${name}/src/${path}`, servicesDir), 'utf8')
const isDirectory = async (name: string, path: string) => (await stat(new URL(`${name}/src/${path}`, servicesDir))).isDirectory()

describe('service shape', () => {
  it('finds exactly the services of the catalog beside the kit', () => {
    expect(names).toEqual(catalogNames().sort())
  })

  it.each(names)('%s listens by default on its catalog port', async (name) => {
    const { readConfig } = (await import(`../services/${name}/src/config.ts`)) as {
      readConfig: (env: NodeJS.ProcessEnv) => { PORT: number }
    }

    expect(readConfig({}).PORT).toBe(catalogEntry(name).port)
  })

  it.each(names)('%s reads a static instance list for each service the catalog says it calls, and for no other', async (name) => {
    const { configProperties } = (await import(`../services/${name}/src/config.ts`)) as { configProperties: object }

    expect(
      Object.keys(configProperties)
        .filter((key) => key.endsWith('_URLS'))
        .sort(),
    ).toEqual(catalogEntry(name).calls.map(upstreamUrlsVariable).sort())
  })

  it.each(names)('%s owns a database in the catalog exactly when its config reads DATABASE_URL', async (name) => {
    const { configProperties } = (await import(`../services/${name}/src/config.ts`)) as { configProperties: object }

    expect(catalogEntry(name).database !== undefined).toBe('DATABASE_URL' in configProperties)
  })

  it.each(names)('%s has app.ts, config.ts, server.ts, routes/ and schemas/ in src', async (name) => {
    const files = await readdir(new URL(`${name}/src/`, servicesDir))

    expect(files).toEqual(expect.arrayContaining(['app.ts', 'config.ts', 'server.ts', 'routes', 'schemas']))
    expect(await isDirectory(name, 'routes')).toBe(true)
    expect(await isDirectory(name, 'schemas')).toBe(true)
  })

  it.each(names)('%s/src/config.ts exports SERVICE_NAME (its folder), configProperties, Config and readConfig', async (name) => {
    const config = (await import(`../services/${name}/src/config.ts`)) as Record<string, unknown>

    expect(Object.keys(config).sort()).toEqual(['SERVICE_NAME', 'configProperties', 'readConfig'])
    expect(config.SERVICE_NAME).toBe(name)
    expect(typeof config.readConfig).toBe('function')
    expect(await source(name, 'config.ts')).toMatch(/^export type Config = Static<TObject<typeof configProperties>>$/m)
  })

  it.each(names)('%s/src/app.ts exports only an async buildApp({ config, logger })', async (name) => {
    const app = (await import(`../services/${name}/src/app.ts`)) as Record<string, unknown>

    expect(Object.keys(app)).toEqual(['buildApp'])
    expect((app.buildApp as () => unknown).constructor.name).toBe('AsyncFunction')
    expect(await source(name, 'app.ts')).toMatch(/^export async function buildApp\(options: BuildOptions<Config>\): Promise<App> \{$/m)
  })

  it('every src/server.ts is the same file', async () => {
    const servers = await Promise.all(names.map((name) => source(name, 'server.ts')))

    expect(new Set(servers).size).toBe(1)
  })

  it.each(names)('%s has migrations.ts and repository.ts exactly when its config reads a database', async (name) => {
    const { configProperties } = (await import(`../services/${name}/src/config.ts`)) as { configProperties: object }
    const files = await readdir(new URL(`${name}/src/`, servicesDir))
    const owned = ['migrations.ts', 'repository.ts'].filter((file) => files.includes(file))

    expect(owned).toEqual('DATABASE_URL' in configProperties ? ['migrations.ts', 'repository.ts'] : [])
  })
})
