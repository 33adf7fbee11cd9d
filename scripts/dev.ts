// `npm run dev`: every service of the catalog on this machine with its embedded defaults: no
// Docker, no Consul, no PostgreSQL. Data lives in memory unless DATA_DIR is set.
import { CATALOG, catalogEntry, upstreamUrlsVariable, type Catalog } from '../catalog/catalog.ts'
import { readyTimeoutMs, startService, type ServiceProcess } from './lib/service-process.ts'

export interface DevService {
  readonly name: string
  readonly port: number
  readonly env: Readonly<Record<string, string>>
}

/**
 * What `npm run dev` starts: each service on its catalog port (`<NAME>_PORT` moves it, e.g.
 * `GATEWAY_PORT`), with a static `<CALLEE>_URLS` for each service it calls, so all of them
 * reach each other without Consul and start at once.
 */
export function devServices(env: NodeJS.ProcessEnv = process.env, catalog: Catalog = CATALOG): DevService[] {
  const portOf = (name: string) => Number(env[`${name.toUpperCase().replace(/-/g, '_')}_PORT`] ?? catalogEntry(name, catalog).port)
  const shared = { LOG_LEVEL: env.LOG_LEVEL ?? 'info', DRAIN_DELAY_MS: '0' }
  return catalog.map((entry) => ({
    name: entry.name,
    port: portOf(entry.name),
    env: {
      ...shared,
      ...Object.fromEntries(entry.calls.map((callee) => [upstreamUrlsVariable(callee), `http://127.0.0.1:${portOf(callee)}`])),
      ...(env.DATA_DIR !== undefined && entry.database !== undefined ? { DATA_DIR: `${env.DATA_DIR}/${entry.name}` } : {}),
    },
  }))
}

async function main(): Promise<void> {
  const services = devServices()
  const dataDir = process.env.DATA_DIR
  const print = (line: string) => process.stdout.write(`${line}\n`)
  const note = (line: string) => process.stderr.write(`${line}\n`)
  const url = (service: DevService) => `http://127.0.0.1:${service.port}`

  const running: ServiceProcess[] = []
  const stopAll = async () => {
    await Promise.all(running.map((service) => service.stop('SIGTERM')))
  }
  process.on('SIGINT', () => void stopAll().then(() => process.exit(0)))
  process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)))

  const timeoutMs = readyTimeoutMs()
  note(
    `starting ${services.map((service) => service.name).join(', ')} (each must be ready within ${timeoutMs / 1000} s; SERVICE_READY_TIMEOUT_MS changes it)`,
  )
  const results = await Promise.allSettled(
    services.map(async ({ name, port, env }) => {
      const service = await startService({
        name,
        port,
        env,
        readyTimeoutMs: timeoutMs,
        onLine: print,
        // Tracked from the start, so Ctrl-C during a slow start stops it too.
        onSpawn: (spawned) => running.push(spawned),
        onWaiting: ({ elapsedMs, lastSeen }) =>
          note(`… waiting for ${name} (${Math.round(elapsedMs / 1000)} s; /health/ready last answered ${lastSeen})`),
      })
      note(`${name} ready at ${service.url}`)
      return service
    }),
  )
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as Error).message] : []))
  if (failures.length > 0) {
    for (const failure of failures) note(`\n${failure}`)
    await stopAll()
    process.exit(1)
  }
  const width = Math.max(...services.map((service) => service.name.length), 'data'.length) + 2
  const edge = services.filter((service) => catalogEntry(service.name).kind === 'edge')
  note(
    [
      '',
      ...[...edge, ...services.filter((service) => !edge.includes(service))].map(
        (service) => `${service.name.padEnd(width)} ${url(service)}${edge.includes(service) ? `   (try: curl ${url(service)}/users)` : ''}`,
      ),
      `${'data'.padEnd(width)} ${dataDir === undefined ? 'in memory (DATA_DIR=.data keeps it)' : dataDir}`,
      `${'logs'.padEnd(width)} this terminal: the services' ECS JSON lines on stdout, these notes on stderr (Ctrl-C stops them all)`,
      '',
    ].join('\n'),
  )
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
