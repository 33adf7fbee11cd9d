import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../scripts/lib/ports.ts'
import { compileCacheEnv, startService, type ServiceName } from '../../scripts/lib/service-process.ts'
import { nginxConfig, type NginxOptions } from './nginx.ts'
import { LogDrain, ProcessTable, spawnPinned, timeToReady } from './proc.ts'

/** Where servers and the load generator run: CPU lists for taskset, or undefined when unpinned. */
export interface Pinning {
  readonly server: string | undefined
  readonly loader: string | undefined
}

/** A server process of the benchmark. */
export interface Server {
  readonly name: string
  /** The process whose tree is measured (nginx: the master; its worker is below it). */
  readonly pid: number
  readonly url: string
  /** Its stdout, drained by a helper process; undefined for nginx, which logs to a file. */
  readonly drain: LogDrain | undefined
  /** Spawn to the first 200 on /health/ready, in milliseconds. */
  readonly startToReadyMs: number
}

interface Running {
  stop(): Promise<void>
  /** Synchronous, for the process's `exit` event: SIGKILL to every process of the server. */
  killNow(): void
}

const READY_TIMEOUT_MS = 30_000

/** Starts the benchmark's servers pinned from their first instruction and makes sure none outlives the bench. */
export class Fleet {
  readonly #running = new Map<Server, Running>()
  readonly #pinning: Pinning

  constructor(pinning: Pinning) {
    this.#pinning = pinning
  }

  /**
   * A platform service started as its image starts it: its bundle (services/bundle.ts), which
   * `startRig` made for this run, with its compile cache (scripts/lib/service-process.ts).
   */
  async platform(name: string, service: ServiceName, env: Record<string, string>): Promise<Server> {
    const port = await freePort()
    const started = performance.now()
    // With a port given, startService spawns before its first await, so the pinning applies.
    const pending = spawnPinned(this.#pinning.server, this.#pinning.loader, () =>
      startService({ name: service, script: 'dist/server.js', port, env, readyTimeoutMs: READY_TIMEOUT_MS }),
    )
    // Our own 5 ms poll times readiness; startService's 100 ms poll would round it up.
    const [startToReadyMs, running] = await Promise.all([timeToReady(`http://127.0.0.1:${port}/health/ready`, started), pending])
    const server: Server = { name, pid: running.child.pid!, url: running.url, drain: new LogDrain(running.child), startToReadyMs }
    this.#add(server, running.child)
    return server
  }

  /** A Node script of bench/ (a peer proxy, the light upstream), with `PORT` set to a free port. */
  async script(name: string, file: string, env: Record<string, string>): Promise<Server> {
    const port = await freePort()
    const started = performance.now()
    const child = spawnPinned(this.#pinning.server, this.#pinning.loader, () =>
      spawn(process.execPath, [fileURLToPath(new URL(`../${file}`, import.meta.url))], {
        // The same compile cache as the platform's services get (startService): a fair start.
        env: { PATH: process.env.PATH, ...compileCacheEnv(), ...env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    )
    const drain = new LogDrain(child)
    let startToReadyMs: number
    try {
      startToReadyMs = await readyOrExit(name, child, `http://127.0.0.1:${port}/health/ready`, started, () => drain.tail())
    } catch (error) {
      drain.stop()
      throw error
    }
    const server: Server = { name, pid: child.pid!, url: `http://127.0.0.1:${port}`, drain, startToReadyMs }
    this.#add(server, child)
    return server
  }

  /** nginx with the configuration of `nginxConfig`, in a private directory removed when it stops. */
  async nginx(name: string, binary: string, options: Omit<NginxOptions, 'port' | 'dir'>): Promise<Server> {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'))
    const config = join(dir, 'nginx.conf')
    const errorLog = join(dir, 'error.log')
    writeFileSync(config, nginxConfig({ ...options, dir, port }))
    const started = performance.now()
    // -e: the error log before the configuration is read, so no system path is touched.
    const child = spawnPinned(this.#pinning.server, this.#pinning.loader, () =>
      spawn(binary, ['-p', dir, '-c', config, '-e', errorLog], { stdio: 'ignore' }),
    )
    const tail = () => {
      try {
        return readFileSync(errorLog, 'utf8').split('\n').slice(-6).join('\n')
      } catch {
        return '(no error log)'
      }
    }
    const removeDir = () => rmSync(dir, { recursive: true, force: true })
    let startToReadyMs: number
    try {
      startToReadyMs = await readyOrExit(name, child, `http://127.0.0.1:${port}/health/ready`, started, tail)
    } catch (error) {
      removeDir()
      throw error
    }
    const server: Server = { name, pid: child.pid!, url: `http://127.0.0.1:${port}`, drain: undefined, startToReadyMs }
    this.#add(server, child, removeDir)
    return server
  }

  /**
   * Starts a server `count` times in a row and keeps the last one: every start is timed, the
   * earlier ones are stopped again.
   */
  async timed(count: number, start: () => Promise<Server>): Promise<{ server: Server; startsMs: number[] }> {
    const startsMs: number[] = []
    for (;;) {
      const server = await start()
      startsMs.push(server.startToReadyMs)
      if (startsMs.length >= count) return { server, startsMs }
      await this.stop(server)
    }
  }

  async stop(server: Server): Promise<void> {
    const running = this.#running.get(server)
    this.#running.delete(server)
    await running?.stop()
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((server) => this.stop(server)))
  }

  killAllNow(): void {
    for (const running of this.#running.values()) running.killNow()
  }

  /** `cleanUp` runs once the server is gone, however it goes (synchronous: it may run on exit). */
  #add(server: Server, child: ChildProcess, cleanUp: () => void = () => {}): void {
    // nginx's worker is forked once at start: known now, killed with its master.
    const pids = [server.pid, ...ProcessTable.read().descendants(server.pid)]
    const exited = child.exitCode === null && child.signalCode === null ? once(child, 'exit') : Promise.resolve()
    this.#running.set(server, {
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        await exited
        server.drain?.stop()
        for (const pid of pids.slice(1)) kill(pid)
        cleanUp()
      },
      killNow: () => {
        for (const pid of pids) kill(pid)
        cleanUp()
      },
    })
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Time to ready, or an error with the server's last words if it exits first. */
async function readyOrExit(name: string, child: ChildProcess, url: string, started: number, tail: () => string): Promise<number> {
  let ready = false
  const exited = once(child, 'exit').then(([code, signal]) => {
    if (!ready) throw new Error(`${name} exited (${String(code ?? signal)}) before it was ready:\n${tail()}`)
    return new Promise<never>(() => {})
  })
  try {
    return await Promise.race([timeToReady(url, started, 5, READY_TIMEOUT_MS), exited])
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    throw error
  } finally {
    ready = true
  }
}
