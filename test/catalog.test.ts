// The service catalog (catalog/services.json): its validation, its helpers, and the promise it
// exists for: outside its own folder, its tests, its docs and its callers, a service is named
// only in the catalog, the stack files and npm's lock file.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  CATALOG,
  callersOf,
  catalogEntry,
  loadCatalog,
  serviceNames,
  upstreamUrlsVariable,
  validateCatalog,
  type CatalogEntry,
} from '../catalog/catalog.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const minimal: CatalogEntry = { name: 'audit-service', port: 3003, kind: 'internal', calls: [] }
const errorOf = (value: unknown) => {
  try {
    validateCatalog(value, 'services.json')
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('no error')
}

describe('validateCatalog', () => {
  it('accepts the repository catalog and a minimal internal service', () => {
    expect(loadCatalog()).toEqual(CATALOG)
    expect(validateCatalog([...CATALOG, minimal])).toHaveLength(CATALOG.length + 1)
  })

  it.each([
    [
      'a port below 1024',
      [{ ...minimal, port: 80 }],
      'services.json: entry audit-service.port=80: must be an integer port from 1024 to 65535',
    ],
    [
      'an unknown kind',
      [{ ...minimal, kind: 'public' }],
      'services.json: entry audit-service.kind="public": must be edge (published through Traefik, with a routerRule) or internal',
    ],
    [
      'an unknown field',
      [{ ...minimal, replicas: 2 }],
      'services.json: entry audit-service.replicas: not a catalog field (name, port, kind, database, calls, routerRule)',
    ],
    ['a missing field', [{ name: 'audit-service', port: 3003, kind: 'internal' }], 'services.json: entry audit-service.calls: is required'],
    [
      'a bad database role',
      [{ ...minimal, database: { name: 'audit', role: 'Audit' } }],
      'services.json: entry audit-service.database.role="Audit": must be a PostgreSQL identifier like audit_service',
    ],
    [
      'a port taken',
      [...CATALOG, { ...minimal, port: 3001 }],
      'services.json: entry audit-service.port=3001: already taken by entry user-service',
    ],
    [
      'a name taken',
      [...CATALOG, { ...minimal, name: 'gateway' }],
      'services.json: entry gateway.name="gateway": already taken by entry gateway',
    ],
    [
      'a callee unknown',
      [{ ...minimal, calls: ['billing'] }],
      'services.json: entry audit-service.calls[0]="billing": not a service of the catalog',
    ],
    [
      'a callee listed after its caller',
      [minimal, { ...minimal, name: 'b', port: 3004 }].map((entry, index) => (index === 0 ? { ...entry, calls: ['b'] } : entry)),
      'services.json: entry audit-service.calls[0]="b": must be listed before its caller (the order is the start order)',
    ],
    [
      'an edge service without a router rule',
      [{ ...minimal, kind: 'edge' }],
      'services.json: entry audit-service.routerRule: an edge service needs the Traefik router rule it is published under',
    ],
    [
      'an internal service with a router rule',
      [{ ...minimal, routerRule: 'PathPrefix(`/audit`)' }],
      'services.json: entry audit-service.routerRule: only an edge service is published, so only it has a routerRule',
    ],
    ['an empty list', [], 'services.json: must be a non-empty list of services'],
  ])('refuses %s with one line naming the entry and the field', (_, value, message) => {
    expect(errorOf(value)).toBe(message)
  })
})

describe('catalog helpers', () => {
  it('derive names, entries, callers and upstream variables from the catalog given', () => {
    const catalog = validateCatalog([...CATALOG, { ...minimal, calls: ['user-service'] }])
    expect(serviceNames(catalog)).toEqual([...serviceNames(), 'audit-service'])
    expect(catalogEntry('audit-service', catalog).port).toBe(3003)
    expect(() => catalogEntry('audit-service')).toThrow(/^audit-service is not a service of the catalog/)
    expect(callersOf('user-service', catalog)).toEqual([...callersOf('user-service'), 'audit-service'])
    expect(upstreamUrlsVariable('user-service')).toBe('USER_SERVICE_URLS')
    expect(upstreamUrlsVariable('audit-service')).toBe('AUDIT_SERVICE_URLS')
  })
})

/**
 * Files that name `service`, outside what is its own (its folder, tests, docs) and its callers'
 * folders: tracked files and new ones git does not ignore.
 */
function filesNaming(service: string): string[] {
  const excluded = [`services/${service}/`, ...callersOf(service).map((caller) => `services/${caller}/`)].map((path) => `:(exclude)${path}`)
  const args = [
    'grep',
    '-l',
    '--untracked',
    '-F',
    service,
    '--',
    '.',
    ...excluded,
    ':(exclude)test/',
    ':(exclude,glob)**/test/**',
    ':(exclude,glob)**/*.test.ts',
    ':(exclude,glob)**/*.md',
  ]
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((line) => line !== '')
  } catch (error) {
    if ((error as { status?: number }).status === 1) return [] // git grep: no match
    throw error
  }
}

/** Where a service may be named besides its own files: the catalog, the stacks' replicas, npm's lock file. */
const LIST_FILES = ['Pulumi.dev.yaml', 'Pulumi.prod.yaml', 'catalog/services.json', 'package-lock.json']
/**
 * Services named on purpose elsewhere: user-service is the upstream the bench measures and the
 * instance check-images.sh drains; the gateway is the edge every tool sends requests to.
 */
const NAMED_ON_PURPOSE = ['user-service', 'gateway']

describe('where a service is named', () => {
  it.each(serviceNames().filter((name) => !NAMED_ON_PURPOSE.includes(name)))(
    '%s: outside its folder, tests, docs and callers, only in the catalog, the stack files and the lock file',
    (service) => {
      const files = filesNaming(service)
      expect(files.filter((file) => !LIST_FILES.includes(file))).toEqual([])
      expect(files.length).toBeLessThanOrEqual(4)
    },
  )
})
