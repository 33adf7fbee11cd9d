// The renderers share the model and the neutral modules (access.ts, observability/), never each
// other: a Kubernetes-only change must not reach into the Docker renderer, or the reverse.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const renderers = ['docker', 'kubernetes'] as const

describe('renderers', () => {
  it.each(renderers)('%s imports nothing from the other renderer', (renderer) => {
    const other = renderers.find((name) => name !== renderer)!
    const dir = new URL(`../${renderer}/`, import.meta.url)
    const files = readdirSync(dir).filter((file) => file.endsWith('.ts'))
    expect(files.length).toBeGreaterThan(3)
    for (const file of files) {
      const source = readFileSync(new URL(file, dir), 'utf8')
      expect(source, `${renderer}/${file}`).not.toMatch(new RegExp(`from '\\.\\./${other}/`))
    }
  })
})
