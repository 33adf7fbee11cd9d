// The README's configuration table, generated from the services' own environment schemas so
// the documentation cannot drift from what the services validate. `npm run docs:env` rewrites
// it in README.md; a test fails when README.md no longer matches.
import { edgeServices, serviceNames } from '../catalog/catalog.ts'
import { generatedSection, writeGeneratedSection } from './lib/generated-section.ts'

interface Described {
  readonly default?: unknown
  readonly description?: string
}

/** Every service of the catalog, the edge first: each one's own schema, from its folder. */
const names = [...new Set([...edgeServices().map((service) => service.name), ...serviceNames()])]
const services = await Promise.all(
  names.map(async (name): Promise<[string, Record<string, Described>]> => {
    const { configProperties } = (await import(`../services/${name}/src/config.ts`)) as { configProperties: Record<string, Described> }
    return [name, configProperties]
  }),
)

/** Inline code that survives backticks inside the value. */
const code = (value: string) => (value.includes('`') ? `\`\` ${value} \`\`` : `\`${value}\``)

export function envTable(): string {
  const names = [...new Set(services.flatMap(([, env]) => Object.keys(env)))]
  const rows = names.map((name) => {
    const users = services.filter(([, env]) => name in env)
    const defaults = [...new Set(users.map(([, env]) => JSON.stringify(env[name]?.default ?? null)))]
    const shown =
      defaults.length === 1
        ? defaults[0] === 'null'
          ? 'unset'
          : code(String(JSON.parse(defaults[0]!)))
        : users.map(([service, env]) => `${code(String(env[name]?.default))} (${service})`).join(', ')
    const where = users.length === services.length ? 'all' : users.map(([service]) => service).join(', ')
    const description = (users[0]?.[1][name]?.description ?? '').replace(/\|/g, '\\|')
    return `| \`${name}\` | ${where} | ${shown} | ${description} |`
  })
  return ['| Variable | Read by | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

/** The table as it stands between the markers in README.md. */
export function readmeTable(readme: string): string | undefined {
  return generatedSection(readme, 'env-table')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) writeGeneratedSection(new URL('../README.md', import.meta.url), 'env-table', envTable())
  else process.stdout.write(`${envTable()}\n`)
}
