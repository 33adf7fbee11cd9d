import { once } from 'node:events'
import { createServer, type Server } from 'node:http'

const SPAN_ID = Buffer.from('"spanId"')

/** What a sink received on one OTLP path. */
export interface SinkPath {
  requests: number
  bytes: number
}

/**
 * A local OTLP/HTTP collector for the gateway's exporter that keeps nothing: it answers 200 at
 * once and counts requests and bytes per path, and spans in JSON trace exports (by their
 * `"spanId"` keys, without parsing). test/support/trace-sink.ts keeps and parses every span,
 * which at benchmark rates would grow without bound and load the load generator's CPU.
 */
export class CountingSink {
  spans = 0
  readonly paths = new Map<string, SinkPath>()
  #server: Server | undefined

  async start(): Promise<string> {
    this.#server = createServer((request, response) => {
      const path = request.url ?? '/'
      let entry = this.paths.get(path)
      if (entry === undefined) {
        entry = { requests: 0, bytes: 0 }
        this.paths.set(path, entry)
      }
      entry.requests += 1
      const counted = entry
      const json = (request.headers['content-type'] ?? '').includes('json')
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => {
        counted.bytes += chunk.length
        if (json) chunks.push(chunk)
      })
      request.on('end', () => {
        if (json && path === '/v1/traces') this.spans += count(Buffer.concat(chunks), SPAN_ID)
        // An empty body is a valid (empty) protobuf answer; JSON exporters get an empty object.
        if (json) response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
        else response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
      })
    })
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    const address = this.#server.address()
    if (typeof address !== 'object' || address === null) throw new Error('sink has no address')
    return `http://127.0.0.1:${address.port}`
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections()
    await new Promise((resolve) => this.#server?.close(resolve))
  }
}

function count(haystack: Buffer, needle: Buffer): number {
  let found = 0
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) found += 1
  return found
}
