import { setTimeout as sleep } from 'node:timers/promises'

/**
 * V8's CPU profiler in a running Node process, driven over the inspector protocol: SIGUSR1 opens
 * the process's inspector (on 127.0.0.1:9229, or wherever its stderr says), and
 * Profiler.start / Profiler.stop bracket exactly the load run to profile, so the measured runs
 * carry no profiler overhead. The result is the same `.cpuprofile` JSON `node --cpu-prof` writes.
 */
export class RemoteProfiler {
  readonly #socket: WebSocket
  #nextId = 1
  readonly #waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>()

  private constructor(socket: WebSocket) {
    this.#socket = socket
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } }
      const waiter = message.id === undefined ? undefined : this.#waiting.get(message.id)
      if (waiter === undefined) return
      this.#waiting.delete(message.id!)
      if (message.error !== undefined) waiter.reject(new Error(message.error.message))
      else waiter.resolve(message.result)
    })
  }

  /**
   * Opens the inspector of process `pid` and connects. `stderr` returns what the process wrote to
   * stderr so far, where Node announces the inspector's address.
   */
  static async attach(pid: number, stderr: () => string, timeoutMs = 10_000): Promise<RemoteProfiler> {
    process.kill(pid, 'SIGUSR1')
    const deadline = Date.now() + timeoutMs
    let url: string | undefined
    while (url === undefined) {
      url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr())?.[1]
      if (url === undefined) {
        if (Date.now() > deadline) throw new Error(`process ${pid} opened no inspector:\n${stderr()}`)
        await sleep(20)
      }
    }
    const socket = new WebSocket(url)
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve())
      socket.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)))
    })
    const profiler = new RemoteProfiler(socket)
    await profiler.#call('Profiler.enable')
    // The default 1 ms interval gives too few samples for a few seconds of load.
    await profiler.#call('Profiler.setSamplingInterval', { interval: 250 })
    return profiler
  }

  async start(): Promise<void> {
    await this.#call('Profiler.start')
  }

  /** Stops and returns the profile (a `.cpuprofile` object). */
  async stop(): Promise<unknown> {
    const { profile } = (await this.#call('Profiler.stop')) as { profile: unknown }
    return profile
  }

  close(): void {
    this.#socket.close()
  }

  #call(method: string, params: object = {}): Promise<unknown> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      this.#socket.send(JSON.stringify({ id, method, params }))
    })
  }
}
