// A fourth service added to a copy of the catalog, and the program run with it: what a
// contributor's new folder plus one catalog entry would give, without touching the repository.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { CATALOG, validateCatalog, type CatalogEntry } from '../../../catalog/catalog.ts'
import { PROJECT, runProgram, stackConfigFile, type ProgramOptions, type ProgramRun } from './program.ts'

/** A minimal internal service that no one calls, with no database. */
export const FOURTH: CatalogEntry = { name: 'audit-service', port: 3003, kind: 'internal', calls: [] }

/** The repository's catalog with the fourth service appended. */
export const FOURTH_CATALOG = validateCatalog([...structuredClone(CATALOG), FOURTH], 'catalog with audit-service')

/** Replicas the stack file asks for the fourth service. */
export const FOURTH_REPLICAS = 2

/**
 * A repository root holding what an image build reads (the Dockerfile, the bundler, the manifests, each
 * service's sources) for every service of the fourth catalog: the images' tags are computed
 * from it as from the real one.
 */
function fixtureRepository(): string {
  const root = mkdtempSync(join(tmpdir(), 'fourth-service-'))
  const write = (path: string, content: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  write('package.json', JSON.stringify({ workspaces: ['services/*', 'infra'] }))
  write('package-lock.json', '{}')
  write('.dockerignore', 'node_modules\n')
  write('services/Dockerfile', 'FROM ${NODE_IMAGE}\n')
  write('services/bundle.ts', 'export {}\n')
  write('infra/package.json', '{}')
  write('services/kit/package.json', '{}')
  write('services/kit/src/index.ts', 'export {}\n')
  for (const service of FOURTH_CATALOG) {
    write(`services/${service.name}/package.json`, JSON.stringify({ name: `@platform/${service.name}` }))
    write(`services/${service.name}/src/server.ts`, `// ${service.name}\n`)
  }
  return root
}

/** Where the fixture repository of the current run lives (read by the program entry). */
export let fixtureRoot = ''

/**
 * Runs support/fourth-service-program.ts under mocks with a stack file plus
 * `services.audit-service.replicas`. The fixture repository is removed when the run is over.
 */
export async function runWithFourthService(
  stack: 'dev' | 'prod',
  extraSecrets: Record<string, string> = {},
  options: ProgramOptions = {},
): Promise<ProgramRun> {
  const input = stackConfigFile(new URL(`../../../Pulumi.${stack}.yaml`, import.meta.url), extraSecrets)
  const key = `${PROJECT}:services`
  const services = { ...(JSON.parse(input.config[key] ?? '{}') as Record<string, unknown>), [FOURTH.name]: { replicas: FOURTH_REPLICAS } }
  fixtureRoot = fixtureRepository()
  try {
    return await runProgram(
      stack,
      { config: { ...input.config, [key]: JSON.stringify(services) }, secretKeys: input.secretKeys },
      './fourth-service-program.ts',
      options,
    )
  } finally {
    rmSync(fixtureRoot, { recursive: true, force: true })
  }
}
