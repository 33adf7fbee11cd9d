// Prism (@stoplight/prism-cli) in proxy mode with --errors between a test and the gateway: it
// checks every request and answer against the gateway's own /openapi.json. A request that
// breaks the document is refused by Prism itself (422 problem+json, never forwarded); an answer
// that breaks it becomes a 500 problem+json; any other disagreement is an `sl-violations` header.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../scripts/lib/ports.ts'

const PRISM = fileURLToPath(new URL('../../node_modules/.bin/prism', import.meta.url))

export interface Violation {
  readonly request: string
  readonly status: number
  readonly detail: string
}

export interface ContractProxy {
  /** Prism's base URL: send the API calls here instead of to the gateway. */
  readonly url: string
  /** Every call made through `fetch`, as `METHOD path`. */
  readonly calls: readonly string[]
  /** Every call through `fetch` whose request or answer Prism found outside the document. */
  readonly violations: readonly Violation[]
  /** `fetch` through Prism, recording any violation it reports. */
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** Prism's log, for failure messages. */
  readonly lines: readonly string[]
  stop(): Promise<void>
}

/** Starts Prism on a free loopback port, reading the document from `documentUrl` and forwarding to `upstream`. */
export async function startPrism(documentUrl: string, upstream: string, timeoutMs = 60_000): Promise<ContractProxy> {
  const port = await freePort()
  const child = spawn(PRISM, ['proxy', documentUrl, upstream, '--errors', '--host', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)))
  }
  const exited = once(child, 'exit')
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  }
  const deadline = Date.now() + timeoutMs
  while (!lines.some((line) => line.includes('Prism is listening'))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`Prism did not start within ${timeoutMs} ms; its output:\n${lines.slice(-10).join('\n')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  const url = `http://127.0.0.1:${port}`
  const violations: Violation[] = []
  const calls: string[] = []
  return {
    url,
    calls,
    violations,
    lines,
    stop,
    async fetch(path, init) {
      calls.push(`${init?.method ?? 'GET'} ${path}`)
      const response = await fetch(`${url}${path}`, init)
      const reported = response.headers.get('sl-violations')
      const problem = response.headers.get('content-type')?.startsWith('application/problem+json') === true
      if (reported !== null || problem) {
        const detail = reported ?? (await response.clone().text())
        violations.push({ request: `${init?.method ?? 'GET'} ${path}`, status: response.status, detail })
      }
      return response
    },
  }
}
