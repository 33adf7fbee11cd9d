// `npm run bench`: the platform's benchmark (bench/README.md). Starts user-service on a private
// PostgreSQL (the production path) and on PGlite, a light upstream, and three proxies in front
// of them: our gateway with production defaults, a plain @fastify/reply-from proxy and nginx.
// Drives GET /users/1 through every combination for several rounds, then prints the figures
// and PASS/MISS per target of issue #11. A measurement, not a test: it exits 0 on a MISS.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { runBench } from './lib/bench.ts'
import { canPin } from './lib/proc.ts'
import { renderComparison, renderFixedRate, renderProfile, renderSaturation, renderServers, renderTargets } from './lib/report.ts'
import { asEarlierResult, compareResults, resultFiles, serialize, stampOf, type EarlierResult } from './lib/results.ts'
import { parseSettings, USAGE, UsageError } from './lib/settings.ts'

const log = (line = '') => process.stdout.write(`${line}\n`)
const fail = (message: string, code: number): never => {
  process.stderr.write(`bench: ${message}\n`)
  process.exit(code)
}

let parsed
try {
  parsed = parseSettings(process.argv.slice(2), canPin(cpus().length))
} catch (error) {
  if (error instanceof UsageError) fail(`${error.message} (see npm run bench -- --help)`, 2)
  throw error
}
if (parsed.help) {
  log(USAGE)
  process.exit(0)
}
const { settings, notes } = parsed
for (const note of notes) log(`note: ${note}`)
// Read before the run: a wrong path should not cost six minutes.
const earlier = settings.compare === undefined ? undefined : readEarlier(settings.compare)

// Whatever happens, the 'exit' handlers stop every server and PostgreSQL.
process.on('SIGINT', () => process.exit(130))

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
const stamp = stampOf(new Date())
const result = await runBench(settings, resultsDir, stamp, log).catch((error: unknown) => fail((error as Error).stack ?? String(error), 1))

log()
log(renderSaturation(result))
log()
log(renderFixedRate(result))
log()
log(renderServers(result))
log()
for (const note of result.notes) log(`· ${note}`)
log()
log(renderTargets(result.targets))
if (result.profile !== undefined) {
  log()
  log(renderProfile(result.profile))
}
if (earlier !== undefined) {
  log()
  log(renderComparison(compareResults(earlier, result), settings.compare!))
}

mkdirSync(resultsDir, { recursive: true })
log()
for (const file of resultFiles(resultsDir, stamp, settings.saveReference)) {
  writeFileSync(file, serialize(result))
  log(`results: ${file}`)
}

function readEarlier(file: string): EarlierResult {
  try {
    return asEarlierResult(JSON.parse(readFileSync(file, 'utf8')))
  } catch (error) {
    return fail(`--compare ${file}: ${(error as Error).message}`, 2)
  }
}
