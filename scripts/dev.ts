// `npm run dev`: the three services on this machine with their embedded defaults: no Docker,
// no Consul, no PostgreSQL. Data lives in memory unless DATA_DIR is set.
import { startService, type ServiceProcess } from './lib/service-process.ts'

const gatewayPort = Number(process.env.GATEWAY_PORT ?? 3000)
const userPort = Number(process.env.USER_SERVICE_PORT ?? 3001)
const orderPort = Number(process.env.ORDER_SERVICE_PORT ?? 3002)
const dataDir = process.env.DATA_DIR
const print = (line: string) => process.stdout.write(`${line}\n`)
const shared = { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', DRAIN_DELAY_MS: '0' }

const running: ServiceProcess[] = []
async function stopAll() {
  await Promise.all(running.reverse().map((service) => service.stop('SIGTERM')))
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(0)))
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)))

try {
  running.push(
    await startService({
      name: 'user-service',
      port: userPort,
      env: { ...shared, ...(dataDir ? { DATA_DIR: `${dataDir}/user-service` } : {}) },
      onLine: print,
    }),
  )
  running.push(
    await startService({
      name: 'order-service',
      port: orderPort,
      env: { ...shared, USER_SERVICE_URLS: `http://127.0.0.1:${userPort}`, ...(dataDir ? { DATA_DIR: `${dataDir}/order-service` } : {}) },
      onLine: print,
    }),
  )
  running.push(
    await startService({
      name: 'gateway',
      port: gatewayPort,
      env: { ...shared, USER_SERVICE_URLS: `http://127.0.0.1:${userPort}`, ORDER_SERVICE_URLS: `http://127.0.0.1:${orderPort}` },
      onLine: print,
    }),
  )
  process.stdout.write(`\ngateway ready: http://127.0.0.1:${gatewayPort}  (try: curl http://127.0.0.1:${gatewayPort}/users)\n\n`)
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`)
  await stopAll()
  process.exit(1)
}
