import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/lib/ports.ts'
import { paced, parseWrkSummary } from '../lib/load.ts'

const OUTPUT = `Running 2s test @ http://127.0.0.1:39999/
  1 threads and 50 connections
  65761 requests in 2.00s, 8.09MB read
Requests/sec:  32818.01
{"requests":65761,"durationMicros":2000000,"connect":0,"read":1,"write":0,"status":61,"timeout":2,"p50":1198,"p99":68049,"max":137111}
`

describe('parseWrkSummary', () => {
  it('reads the summary line of wrk-summary.lua: answers ≥ 400 as non-2xx, socket errors as errors, latencies in ms', () => {
    expect(parseWrkSummary(OUTPUT)).toEqual({
      ok: 65700,
      non2xx: 61,
      errors: 3,
      seconds: 2,
      rps: 32850,
      p50: 1.198,
      p99: 68.049,
      max: 137.111,
    })
  })

  it('fails with the output when wrk printed no summary', () => {
    expect(() => parseWrkSummary('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(/no summary:\nunable to connect/)
  })
})

describe('paced', () => {
  it('offers the rate on a clock and counts answers by status', async () => {
    let served = 0
    const server = createServer((_request, response) => {
      served += 1
      response.statusCode = served % 10 === 0 ? 503 : 200
      response.end('{}')
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const result = await paced(`http://127.0.0.1:${port}/x`, { rate: 200, seconds: 0.5, connections: 4 })
      expect(result.ok + result.non2xx).toBe(100)
      expect(result.non2xx).toBe(10)
      expect(result.errors).toBe(0)
      expect(result.p50).toBeGreaterThan(0)
    } finally {
      server.close()
    }
  })

  it('fails at once when the target refuses connections, instead of reconnecting without end', async () => {
    const port = await freePort()
    await expect(paced(`http://127.0.0.1:${port}/x`, { rate: 100, seconds: 1, connections: 4 })).rejects.toThrow(
      /cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    )
  })
})
