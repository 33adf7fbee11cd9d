// The stack configuration keys as the Markdown table infra/README.md holds, generated from the
// schema in infra/config.ts, with a column per stack file showing what it sets (an override of a
// default is seen next to the default); infra/test/readme.test.ts fails when the README drifts.
// `npm run docs` rewrites it (with --write); without it, prints it.
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { configTable, type StackSettings } from '../../infra/config.ts'
import { writeGeneratedSection } from '../lib/generated-section.ts'

const PROJECT = 'microservice-platform'
const STACKS = ['dev', 'prod'] as const

/** The project's keys a stack file sets, flattened to dotted keys; encrypted values show as `(secret)`. */
export function stackSettings(yamlText: string): Record<string, string> {
  const config = (parse(yamlText) as { config?: Record<string, unknown> } | null)?.config ?? {}
  const flat: Record<string, string> = {}
  const walk = (key: string, value: unknown) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      if ('secure' in value) flat[key] = '(secret)'
      else for (const [child, nested] of Object.entries(value)) walk(`${key}.${child}`, nested)
    } else flat[key] = String(value)
  }
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${PROJECT}:`)) walk(key.slice(PROJECT.length + 1), value)
  }
  return flat
}

/** What Pulumi.dev.yaml and Pulumi.prod.yaml set. */
export function repositoryStacks(): StackSettings {
  return Object.fromEntries(
    STACKS.map((stack) => [stack, stackSettings(readFileSync(new URL(`../../Pulumi.${stack}.yaml`, import.meta.url), 'utf8'))]),
  )
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const table = configTable(repositoryStacks())
  if (process.argv.includes('--write')) writeGeneratedSection(new URL('../../infra/README.md', import.meta.url), 'config-table', table)
  else process.stdout.write(`${table}\n`)
}
