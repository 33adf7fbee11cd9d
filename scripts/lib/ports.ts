import { createServer } from 'node:net'

/** Ports free on 127.0.0.1 right now, all different (held open together while they are picked). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer())
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject)
            server.listen(0, '127.0.0.1', () => {
              const address = server.address()
              if (address === null || typeof address === 'string') reject(new Error('no port assigned'))
              else resolve(address.port)
            })
          }),
      ),
    )
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  }
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1)
  return port!
}
