// The workflows' smoke test: GET <gateway URL>/users through Traefik until it answers 200, the
// same check `npm run up` ends with (checkGateway in scripts/pulumi/run.ts), so CI and a
// developer's laptop agree on what "the platform is up" means.
//
//   node .github/scripts/smoke-test.ts <gateway URL> [--deadline-seconds N]   (default 180)
//
// Exits 0 on a 200, 1 when the deadline passes (printing the last answer), 2 on bad usage.
import { checkGateway } from '../../scripts/pulumi/run.ts'

export function parseArgs(argv: readonly string[]): { url: string; deadlineMs: number } | { error: string } {
  const [url, flag, seconds] = argv
  if (url === undefined || !/^https?:\/\//.test(url))
    return { error: `expected the gateway URL (http:// or https://), got ${JSON.stringify(url ?? '')}` }
  if (flag === undefined) return { url, deadlineMs: 180_000 }
  const value = Number(seconds)
  if (flag !== '--deadline-seconds' || !Number.isInteger(value) || value < 1)
    return { error: 'the only option is --deadline-seconds <positive integer>' }
  return { url, deadlineMs: value * 1000 }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if ('error' in args) {
    process.stderr.write(`smoke-test: ${args.error}\nusage: node .github/scripts/smoke-test.ts <gateway URL> [--deadline-seconds N]\n`)
    return 2
  }
  const result = await checkGateway(args.url, args.deadlineMs)
  process.stdout.write(`smoke-test: ${result.detail}\n`)
  return result.ok ? 0 : 1
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main()
