// What the discovery suites share: the scripted-agent one (discovery.test.ts) and the one
// against a real Consul agent (discovery-consul.test.ts).
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'
import { ConsulClient, instanceId, type Registration } from '../src/discovery/index.ts'

type Cleanup = () => Promise<unknown> | unknown

/**
 * Call at a test file's top level. Everything a test starts through these is stopped after it,
 * in reverse order; `cleanups` takes anything else the test must stop.
 */
export function fixtures() {
  const cleanups: Cleanup[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function listen(server: Server, port = 0): Promise<number> {
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    cleanups.push(() => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    })
    return (server.address() as AddressInfo).port
  }

  function client(address: string, token?: string): ConsulClient {
    const consul = new ConsulClient({ address, token })
    cleanups.push(() => consul.close())
    return consul
  }

  return { cleanups, listen, client }
}

/** A registration of `name` on 127.0.0.1:`port`, checked on /health/ready every second. */
export function registration(name: string, port: number): Registration {
  return {
    id: instanceId(name, '127.0.0.1', port),
    name,
    address: '127.0.0.1',
    port,
    tags: ['test'],
    meta: { version: '1' },
    check: { path: '/health/ready', interval: '1s', timeout: '1s', deregisterCriticalServiceAfter: '1m' },
  }
}
