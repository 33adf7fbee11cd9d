import { describe, expect, it } from 'vitest'
import { parseWrkSummary } from '../lib/load.ts'

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
