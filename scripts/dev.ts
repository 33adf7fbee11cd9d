// `npm run dev`: the three services on this machine with their embedded defaults: no Docker,
// no Consul, no PostgreSQL. Data lives in memory unless DATA_DIR is set.
import { readyTimeoutMs, startService, type ServiceName, type ServiceProcess } from './lib/service-process.ts'

const ports: Record<ServiceName, number> = {
  'user-service': Number(process.env.USER_SERVICE_PORT ?? 3001),
  'order-service': Number(process.env.ORDER_SERVICE_PORT ?? 3002),
  gateway: Number(process.env.GATEWAY_PORT ?? 3000),
}
const dataDir = process.env.DATA_DIR
const print = (line: string) => process.stdout.write(`${line}\n`)
const note = (line: string) => process.stderr.write(`${line}\n`)
const shared = { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', DRAIN_DELAY_MS: '0' }
const url = (service: ServiceName) => `http://127.0.0.1:${ports[service]}`
const dataEnv = (service: ServiceName): Record<string, string> => (dataDir ? { DATA_DIR: `${dataDir}/${service}` } : {})

const env: Record<ServiceName, Record<string, string>> = {
  'user-service': { ...shared, ...dataEnv('user-service') },
  'order-service': { ...shared, USER_SERVICE_URLS: url('user-service'), ...dataEnv('order-service') },
  // Static lists: each service reaches the others without Consul, so all three start at once.
  gateway: { ...shared, USER_SERVICE_URLS: url('user-service'), ORDER_SERVICE_URLS: url('order-service') },
}

const running: ServiceProcess[] = []
async function stopAll() {
  await Promise.all(running.map((service) => service.stop('SIGTERM')))
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(0)))
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)))

const timeoutMs = readyTimeoutMs()
note(`starting user-service, order-service and gateway (each must be ready within ${timeoutMs / 1000} s; SERVICE_READY_TIMEOUT_MS changes it)`)
const results = await Promise.allSettled(
  (Object.keys(ports) as ServiceName[]).map(async (name) => {
    const service = await startService({
      name,
      port: ports[name],
      env: env[name],
      readyTimeoutMs: timeoutMs,
      onLine: print,
      // Tracked from the start, so Ctrl-C during a slow start stops it too.
      onSpawn: (spawned) => running.push(spawned),
      onWaiting: ({ elapsedMs, lastSeen }) => note(`… waiting for ${name} (${Math.round(elapsedMs / 1000)} s; /health/ready last answered ${lastSeen})`),
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
note(
  [
    '',
    `gateway        ${url('gateway')}   (try: curl ${url('gateway')}/users)`,
    `user-service   ${url('user-service')}`,
    `order-service  ${url('order-service')}`,
    `data           ${dataDir === undefined ? 'in memory (DATA_DIR=.data keeps it)' : dataDir}`,
    'logs           this terminal: the services\' ECS JSON lines on stdout, these notes on stderr (Ctrl-C stops all three)',
    '',
  ].join('\n'),
)
