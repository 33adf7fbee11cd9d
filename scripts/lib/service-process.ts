import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './ports.ts'

/** A service of the catalog (catalog/services.json), by the folder it lives in. */
export type ServiceName = string

const servicesDir = fileURLToPath(new URL('../../services/', import.meta.url))

/**
 * The environment that gives a Node process V8's compile cache, as the images have it (see
 * services/Dockerfile): compiled code and stripped TypeScript are kept on disk and reused by
 * the next start, about a quarter of a service's start-up CPU. `NODE_COMPILE_CACHE` when set,
 * else a folder under node_modules/.cache (a cache entry is keyed on the source's content, so a
 * stale one is never used).
 */
export function compileCacheEnv(env: NodeJS.ProcessEnv = process.env): { NODE_COMPILE_CACHE: string } {
  return {
    NODE_COMPILE_CACHE: env.NODE_COMPILE_CACHE ?? fileURLToPath(new URL('../../node_modules/.cache/node-compile-cache', import.meta.url)),
  }
}

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
  /**
   * The script to run from the service's folder: `src/server.ts`, the sources, as `npm start`
   * runs them (default), or `dist/server.js`, the bundle the images run (services/bundle.ts).
   */
  readonly script?: 'src/server.ts' | 'dist/server.js'
  /** Port to listen on; a free one when absent. */
  readonly port?: number
  readonly env?: Readonly<Record<string, string | undefined>>
  /** How long to wait for `/health/ready` to answer 200 (default `readyTimeoutMs()`). */
  readonly readyTimeoutMs?: number
  /** Called with each output line as it arrives, e.g. to forward logs to a terminal. */
  readonly onLine?: (line: string) => void
  /** Called about every `progressEveryMs` while waiting, with what was last seen. */
  readonly onWaiting?: (progress: { readonly elapsedMs: number; readonly lastSeen: string }) => void
  /** Default 5000. */
  readonly progressEveryMs?: number
  /** Called as soon as the process exists, before it is ready: so a caller can stop it at any time. */
  readonly onSpawn?: (service: ServiceProcess) => void
}

/**
 * The default readiness bound: `SERVICE_READY_TIMEOUT_MS`, else 60 s. A busy machine can take
 * many seconds to start a service (module loading, a WASM database, migrations); a wait that
 * fits only a quiet machine turns contention into failures.
 */
export function readyTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SERVICE_READY_TIMEOUT_MS
  if (raw === undefined || raw.trim() === '') return 60_000
  const value = Number(raw)
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`SERVICE_READY_TIMEOUT_MS=${JSON.stringify(raw)}: must be a positive integer (milliseconds)`)
  return value
}

/**
 * Starts a service as a real process, as its package's `start` script does (or its bundle), and
 * resolves when `/health/ready` answers 200. Gives up after the timeout (or when the process
 * exits) with an error naming what it waited for, the last answer it saw and the last lines
 * the process wrote.
 */
export async function startService(options: StartOptions): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort())
  const child = spawn(process.execPath, [options.script ?? 'src/server.ts'], {
    cwd: `${servicesDir}${options.name}`,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', ...compileCacheEnv(), ...options.env, PORT: String(port) },
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
  options.onSpawn?.(service)
  const timeoutMs = options.readyTimeoutMs ?? readyTimeoutMs()
  const progressEveryMs = options.progressEveryMs ?? 5_000
  const started = performance.now()
  let nextProgress = progressEveryMs
  let lastSeen: string
  const tail = () => (lines.length === 0 ? '(no output)' : lines.slice(-5).join('\n'))
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}) before it was ready; its last lines:\n${tail()}`)
    }
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) })
      const body = (await response.text()).slice(0, 200)
      if (response.status === 200) return service
      lastSeen = `${response.status} ${body}`
    } catch (error) {
      lastSeen = describeFailure(error)
    }
    const elapsedMs = performance.now() - started
    if (elapsedMs > timeoutMs) {
      await service.stop('SIGKILL')
      throw new Error(
        `${options.name} was not ready within ${timeoutMs} ms (SERVICE_READY_TIMEOUT_MS): GET ${url}/health/ready last answered ${lastSeen}; its last lines:\n${tail()}`,
      )
    }
    if (elapsedMs >= nextProgress) {
      options.onWaiting?.({ elapsedMs, lastSeen })
      nextProgress += progressEveryMs
    }
    await sleep(100)
  }
}

function describeFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  if (cause?.code !== undefined) return cause.code
  return (error as Error).name === 'TimeoutError' ? 'no answer within 5 s' : String((error as Error).message ?? error)
}
