// Waiting for a condition in a test, with deadlines that hold on a busy machine: generous by
// default, scaled by TEST_WAIT_SCALE (e.g. 3 on a slow runner), and a failure that says what was
// awaited and what was last seen, not only that time ran out.
import { setTimeout as sleep } from 'node:timers/promises'

/** Multiplies every default deadline below (TEST_WAIT_SCALE, default 1). */
export const WAIT_SCALE = (() => {
  const raw = process.env.TEST_WAIT_SCALE
  if (raw === undefined || raw.trim() === '') return 1
  const value = Number(raw)
  if (!(value > 0)) throw new Error(`TEST_WAIT_SCALE=${JSON.stringify(raw)}: must be a positive number`)
  return value
})()

/** The default deadline of a wait: 30 s, scaled. Test and hook timeouts are set above it. */
export const DEFAULT_WAIT_MS = 30_000 * WAIT_SCALE

/** Reports what the probe saw this time, for the timeout's message. */
export type Seen = (observation: unknown) => void

/**
 * Polls `probe` every `intervalMs` until it returns something other than undefined, and
 * returns that. A probe that throws counts as "not yet" (its error is what was last seen).
 */
export async function eventually<T>(
  probe: (seen: Seen) => Promise<T | undefined>,
  what: string,
  timeoutMs = DEFAULT_WAIT_MS,
  intervalMs = 100,
): Promise<T> {
  const started = performance.now()
  let last: unknown = 'nothing (the probe has not answered yet)'
  const seen: Seen = (observation) => void (last = observation)
  for (;;) {
    try {
      const value = await probe(seen)
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (performance.now() - started > timeoutMs) {
      throw new Error(`timed out after ${Math.round(timeoutMs)} ms waiting for ${what}; last seen: ${describe(last)}`)
    }
    await sleep(intervalMs)
  }
}

/** How `untilAnswers` waits: the status it waits for (default 200) and its deadline. */
export interface AnswerWait {
  status?: number
  timeoutMs?: number
}

/** Waits until GET `url` answers `status` (default 200); resolves with the last response's body text. */
export function untilAnswers(url: string, what: string, { status = 200, timeoutMs = DEFAULT_WAIT_MS }: AnswerWait = {}): Promise<string> {
  return eventually(
    async (seen) => {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) })
      const body = await response.text()
      seen(`${response.status} ${body.slice(0, 200)}`)
      return response.status === status ? body : undefined
    },
    what,
    timeoutMs,
  )
}

function describe(value: unknown): string {
  if (value instanceof Error) {
    const code = (value.cause as { code?: string } | undefined)?.code
    return code === undefined ? value.message : `${value.message} (${code})`
  }
  return typeof value === 'string' ? value : JSON.stringify(value)
}
