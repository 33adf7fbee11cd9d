// A private Consul dev agent per resilience file, on fixed random loopback ports, that a test can
// stop and start again at the same address (the agent the global setup provides is shared with
// other files and must never be stopped). Dev mode keeps no state: a restarted agent is empty.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePorts } from '../../support/real-servers-helpers.ts'

const READY_TIMEOUT_MS = 15_000

/** One `/v1/health/service/<name>` entry, as far as the suite reads it. */
export interface HealthEntry {
  readonly Service: { readonly ID: string; readonly Port: number }
  readonly Checks: readonly { readonly CheckID: string; readonly Status: string }[]
}

export class PrivateConsul {
  readonly #dir: string
  readonly #hcl: string
  readonly url: string
  #child: ChildProcess | undefined
  #starts = 0
  readonly #kill = () => this.#child?.kill('SIGKILL')

  private constructor(dir: string, http: number, hcl: string) {
    this.#dir = dir
    this.#hcl = hcl
    this.url = `http://127.0.0.1:${http}`
  }

  /** Starts an agent on fresh random ports and waits until it has elected itself leader. */
  static async start(): Promise<PrivateConsul> {
    const dir = await mkdtemp(join(tmpdir(), 'resilience-consul-'))
    const [http, dns, serfLan, serfWan, server, grpc] = (await freePorts(6)) as [number, number, number, number, number, number]
    const hcl = `ports { http = ${http}, dns = ${dns}, serf_lan = ${serfLan}, serf_wan = ${serfWan}, server = ${server}, grpc = ${grpc} }`
    const consul = new PrivateConsul(dir, http, hcl)
    process.once('exit', consul.#kill)
    await consul.resume()
    return consul
  }

  get running(): boolean {
    const child = this.#child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  /** (Re)starts the agent on the same ports; resolves once it has a leader. */
  async resume(): Promise<void> {
    if (this.running) return
    this.#starts += 1
    const logFile = join(this.#dir, `agent-${this.#starts}.log`)
    const out = openSync(logFile, 'w')
    const child = spawn('consul', ['agent', '-dev', '-client', '127.0.0.1', '-bind', '127.0.0.1', '-hcl', this.#hcl], {
      stdio: ['ignore', out, out],
    })
    closeSync(out)
    this.#child = child
    const deadline = Date.now() + READY_TIMEOUT_MS
    for (;;) {
      if (!this.running) {
        throw new Error(`consul exited: ${(await readFile(logFile, 'utf8').catch(() => '')).slice(-1000)}`)
      }
      try {
        const response = await fetch(`${this.url}/v1/status/leader`, { signal: AbortSignal.timeout(1_000) })
        const leader = (await response.json()) as unknown
        if (typeof leader === 'string' && leader !== '') return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.pause()
        throw new Error(`consul had no leader within ${READY_TIMEOUT_MS} ms`)
      }
      await sleep(50)
    }
  }

  /** Stops the agent (SIGTERM, SIGKILL after 5 s); its catalog is lost. */
  async pause(): Promise<void> {
    const child = this.#child
    if (child === undefined || !this.running) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }

  async close(): Promise<void> {
    await this.pause()
    process.removeListener('exit', this.#kill)
    await rm(this.#dir, { recursive: true, force: true })
  }

  /** Every registered instance of `service` with its checks (passing or not). */
  async health(service: string, passingOnly = false): Promise<HealthEntry[]> {
    const response = await fetch(`${this.url}/v1/health/service/${service}${passingOnly ? '?passing=true' : ''}`, {
      signal: AbortSignal.timeout(2_000),
    })
    if (response.status !== 200) throw new Error(`consul health ${service}: ${response.status}`)
    return (await response.json()) as HealthEntry[]
  }

  /** Ports of the instances of `service` whose every check passes. */
  async passingPorts(service: string): Promise<number[]> {
    return (await this.health(service, true)).map((entry) => entry.Service.Port).sort((a, b) => a - b)
  }

  /** The aggregated status of the instance of `service` on `port`: `absent` when not registered. */
  async statusOf(service: string, port: number): Promise<'passing' | 'warning' | 'critical' | 'absent'> {
    const entry = (await this.health(service)).find((candidate) => candidate.Service.Port === port)
    if (entry === undefined) return 'absent'
    const statuses = entry.Checks.map((check) => check.Status)
    if (statuses.includes('critical')) return 'critical'
    if (statuses.includes('warning')) return 'warning'
    return 'passing'
  }
}
