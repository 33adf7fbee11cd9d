// Every request example in the README, checked against the gateway's OpenAPI document and then
// run, in order, through Prism (proxy mode, --errors) against a freshly seeded platform, as a
// newcomer would run them after `npm run dev`: the answer must be the one the README states and
// neither the request nor the answer may break the document.
import { readFileSync } from 'node:fs'
import type { OpenApiDocument } from '@platform/kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { contract, type Contract } from '../support/openapi.ts'
import { startPlatform, type Platform } from '../support/platform.ts'
import { startPrism, type ContractProxy } from '../support/prism.ts'

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

interface Example {
  /** The command as written, continuation lines joined. */
  readonly command: string
  readonly method: string
  /** Path and query, without the host. */
  readonly path: string
  readonly body?: unknown
  /** The status the comment states; 200 when it states none. */
  readonly status: number
  /** `Location: /users/3` in the comment. */
  readonly location?: string
  /** A JSON answer in the comment, `...` standing for omitted members. */
  readonly shape?: unknown
}

/** The `curl` commands of the README's `sh` blocks, with what their comments say they answer. */
function curlExamples(markdown: string): Example[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!)
  const commands = blocks
    .flatMap((block) => block.replace(/\\\n\s*/g, ' ').split('\n'))
    .filter((line) => line.trimStart().startsWith('curl '))
  return commands.map((command) => {
    const hash = command.indexOf(' # ')
    const call = hash === -1 ? command : command.slice(0, hash)
    const comment = hash === -1 ? '' : command.slice(hash + 3).trim()
    const url = /\blocalhost:\d+(\/\S*)/.exec(call)?.[1]
    if (url === undefined) throw new Error(`README example without a localhost URL: ${command}`)
    const data = /-d '([^']*)'/.exec(call)?.[1]
    const status = /^([1-5]\d\d)\b/.exec(comment)?.[1]
    const location = /Location: (\S+)/.exec(comment)?.[1]
    const shape = /^[[{]/.test(comment) ? JSON.parse(comment.replace(/,\.\.\./g, '')) : undefined
    return {
      command: command.trim(),
      method: /-X (\w+)/.exec(call)?.[1] ?? 'GET',
      path: url,
      ...(data === undefined ? {} : { body: JSON.parse(data) }),
      status: status === undefined ? 200 : Number(status),
      ...(location === undefined ? {} : { location }),
      ...(shape === undefined ? {} : { shape }),
    }
  })
}

/** The README's JSON blocks that show an error body. */
function errorExamples(markdown: string): unknown[] {
  return [...markdown.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => JSON.parse(match[1]!)).filter((value) => 'statusCode' in value)
}

const examples = curlExamples(README)
let platform: Platform
let prism: ContractProxy
let api: Contract

beforeAll(async () => {
  platform = await startPlatform({ seed: true })
  api = contract((await (await fetch(`${platform.url}/openapi.json`)).json()) as OpenApiDocument)
  prism = await startPrism(`${platform.url}/openapi.json`, platform.url)
})

afterAll(async () => {
  await prism?.stop()
  await platform?.close()
})

describe('the README examples', () => {
  it('are found: five curl calls and one error body', () => {
    expect(examples.map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([
      'GET /users 200',
      'GET /users/1/orders 200',
      'POST /users 201',
      'POST /orders 201',
      'POST /orders 422',
    ])
    expect(errorExamples(README)).toHaveLength(1)
  })

  it('ask for operations the document has, with bodies it accepts, for statuses it declares', () => {
    for (const example of examples) {
      const entry = api.find(example.method, example.path.split('?')[0]!)
      expect(entry, example.command).toBeDefined()
      expect(api.requestProblem(entry!, example.body), example.command).toBeUndefined()
      expect(api.response(entry!, example.status), example.command).toBeDefined()
    }
  })

  it('show error bodies the document allows', () => {
    const entry = api.find('POST', '/users')!
    for (const body of errorExamples(README)) {
      expect(api.answerProblem(entry, 400, new Headers({ 'content-type': 'application/json' }), JSON.stringify(body))).toBeUndefined()
    }
  })

  it('answer, in order and through Prism, what the README says, with no violation of the document', async () => {
    for (const example of examples) {
      const response = await prism.fetch(example.path, {
        method: example.method,
        ...(example.body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(example.body) }),
      })
      const text = await response.text()
      expect(response.status, `${example.command}\n${text}`).toBe(example.status)
      if (example.location !== undefined) expect(response.headers.get('location'), example.command).toBe(example.location)
      if (example.shape !== undefined) expect(JSON.parse(text), example.command).toMatchObject(example.shape as object)
    }
    expect(prism.violations).toEqual([])
  })
})
