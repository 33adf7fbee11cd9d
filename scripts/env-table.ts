// The README's configuration table, generated from the services' own environment schemas so
// the documentation cannot drift from what the services validate. `npm run docs:env` rewrites
// it in README.md; a test fails when README.md no longer matches.
import { readFileSync, writeFileSync } from 'node:fs'
import { gatewayEnv } from '../services/gateway/src/config.ts'
import { configProperties as orderEnv } from '../services/order-service/src/config.ts'
import { configProperties as userEnv } from '../services/user-service/src/config.ts'

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

const START = '<!-- env-table:start -->\n'
const END = '\n<!-- env-table:end -->'

/** The table as it stands between the markers in README.md. */
export function readmeTable(readme: string): string | undefined {
  return readme.split(START)[1]?.split(END)[0]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    const path = new URL('../README.md', import.meta.url)
    const readme = readFileSync(path, 'utf8')
    const current = readmeTable(readme)
    if (current === undefined) throw new Error('README.md has no env-table markers')
    writeFileSync(path, readme.replace(`${START}${current}${END}`, `${START}${envTable()}${END}`))
  } else {
    process.stdout.write(`${envTable()}\n`)
  }
}
