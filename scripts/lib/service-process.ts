import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './ports.ts'

/** The three services, by the folder they live in. */
export type ServiceName = 'user-service' | 'order-service' | 'gateway'

const servicesDir = fileURLToPath(new URL('../../services/', import.meta.url))

export interface ServiceProcess {
  readonly name: ServiceName
  readonly port: number
  readonly url: string
  readonly child: ChildProcess
  /** Every line the process wrote to stdout and stderr, in order. */
  readonly lines: string[]
  /** Sends `signal` and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export interface StartOptions {
  readonly name: ServiceName
  /** Port to listen on; a free one when absent. */
  readonly port?: number
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly readyTimeoutMs?: number
  /** Called with each output line as it arrives, e.g. to forward logs to a terminal. */
  readonly onLine?: (line: string) => void
}

/**
 * Starts a service as a real process, exactly as its package's `start` script does, and
 * resolves when `/health/ready` answers 200.
 */
export async function startService(options: StartOptions): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort())
  const child = spawn(process.execPath, ['--import', './src/telemetry.ts', 'src/server.ts'], {
    cwd: `${servicesDir}${options.name}`,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', ...options.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ''
    stream?.setEncoding('utf8')
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop() ?? ''
      for (const line of parts) {
        lines.push(line)
        options.onLine?.(line)
      }
    })
  }
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const url = `http://127.0.0.1:${port}`
  const service: ServiceProcess = {
    name: options.name,
    port,
    url,
    child,
    lines,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000)
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`${options.name} exited with code ${child.exitCode} before it was ready:\n${lines.slice(-5).join('\n')}`)
    }
    try {
      const response = await fetch(`${url}/health/ready`)
      if (response.status === 200) return service
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await service.stop('SIGKILL')
      throw new Error(`${options.name} was not ready within ${options.readyTimeoutMs ?? 20_000} ms:\n${lines.slice(-5).join('\n')}`)
    }
    await sleep(100)
  }
}
