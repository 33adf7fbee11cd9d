// The README's configuration table, generated from the services' own environment schemas so
// the documentation cannot drift from what the services validate. `npm run docs:env` rewrites
// it in README.md; a test fails when README.md no longer matches.
import { configProperties as gatewayEnv } from '../services/gateway/src/config.ts'
import { configProperties as orderEnv } from '../services/order-service/src/config.ts'
import { configProperties as userEnv } from '../services/user-service/src/config.ts'
import { generatedSection, writeGeneratedSection } from './lib/generated-section.ts'

interface Described {
  readonly default?: unknown
  readonly description?: string
}

const services = (
  [
    ['gateway', gatewayEnv],
    ['user-service', userEnv],
    ['order-service', orderEnv],
  ] as const
).map(([name, env]): [string, Record<string, Described>] => [name, env as Record<string, Described>])

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
